"""schema.sql: it builds a database from nothing, can be applied twice, and
carries the constraints the API relies on, and upgrades a database made by
an earlier version in place.  (The programs refusing an unknown schema
version is in test_zz_resilience.py.)"""

import contextlib
import subprocess
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest

from helpers.db import (
    Database, apply_schema, db_connect, db_dsn, schema_sql,
    scratch_database,
)
from helpers.stack import binary_env, env

TABLES = {"schema_version", "users", "mail_outbox", "login_throttle",
          "projects", "checks", "check_hours", "check_days", "incidents",
          "verify_mail_log", "mute_tokens"}

# The checks table's partitions (one per day, made as the days come) and
# their indexes are left out of the comparisons of whole schemas.
NOT_A_PARTITION = ("NOT EXISTS (SELECT 1 FROM pg_class pc WHERE "
                   "pc.relname = {} AND pc.relispartition)")


def tables(database):
    return {name for (name,) in database.all(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' "
        "AND " + NOT_A_PARTITION.format("table_name"))}


def test_schema_applies_twice_to_a_fresh_database(db):
    with scratch_database("trackly_schema_twice") as name:
        apply_schema(name)
        apply_schema(name)
        conn = db_connect(name)
        try:
            fresh = Database(conn)
            assert TABLES <= tables(fresh)
            assert tables(fresh) == tables(db), \
                "schema.sql builds other tables than the test database has"
            assert fresh.all("SELECT version FROM schema_version") == \
                db.all("SELECT version FROM schema_version")
        finally:
            conn.close()


def test_schema_version_is_a_single_row(db):
    rows = db.all("SELECT version FROM schema_version")
    assert len(rows) == 1 and isinstance(rows[0][0], int) and rows[0][0] > 0


@contextlib.contextmanager
def rolled_back():
    """A cursor in a transaction of its own, rolled back at the end, so
    what a test inserts to probe the schema is never kept."""
    conn = db_connect()
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.rollback()
        conn.close()


def test_emails_are_unique_ignoring_case(db):
    with rolled_back() as cur:
        cur.execute("INSERT INTO users (email, password_hash) "
                    "VALUES ('Schema-Case@example.test', 'x')")
        with pytest.raises(psycopg2.errors.UniqueViolation):
            cur.execute("INSERT INTO users (email, password_hash) "
                        "VALUES ('schema-case@EXAMPLE.test', 'x')")


def test_projects_go_with_their_owner(db):
    rule = db.value("""
        SELECT rc.delete_rule
          FROM information_schema.referential_constraints rc
          JOIN information_schema.key_column_usage k
            ON k.constraint_name = rc.constraint_name
           AND k.constraint_schema = rc.constraint_schema
         WHERE k.table_name = 'projects' AND k.column_name = 'user_id'""")
    assert rule == "CASCADE"


def test_user_columns_have_safe_defaults(db):
    """A row inserted with only email and hash is unverified, version 0+."""
    with rolled_back() as cur:
        cur.execute("INSERT INTO users (email, password_hash) VALUES "
                    "('schema-defaults@example.test', 'x') "
                    "RETURNING email_verified, token_version, created_at")
        verified, version, created = cur.fetchone()
    assert verified is False
    assert isinstance(version, int)
    assert created is not None


# --- upgrades ------------------------------------------------------------------

def columns(database):
    """(table, column, type, nullable, default) of every public column."""
    return set(database.all(
        "SELECT table_name, column_name, data_type, is_nullable, "
        "       coalesce(column_default, '') "
        "  FROM information_schema.columns WHERE table_schema = 'public' "
        "   AND " + NOT_A_PARTITION.format("table_name")))


def indexes(database):
    return set(database.all(
        "SELECT indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = 'public' AND " +
        NOT_A_PARTITION.format("tablename")))


def old_schema(version):
    """schema.sql as release version made it."""
    return Path(env("TRACKLY_SOURCE_ROOT"), "tests", "integration", "data",
                f"schema-v{version}.sql")


def admin_upgrade(name):
    """`trackly-admin schema apply` of today's schema.sql to database name,
    twice (the second must change nothing), then `schema check`."""
    admin = Path(env("TRACKLY_BUILD_DIR"), "admin", "trackly-admin")
    for _ in range(2):
        r = subprocess.run([str(admin), "schema", "apply", "--file",
                            str(schema_sql())], capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL,
                           env=binary_env(DB_URL=db_dsn(name)))
        assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([str(admin), "schema", "check"],
                       capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL,
                       env=binary_env(DB_URL=db_dsn(name)))
    assert r.returncode == 0, r.stdout + r.stderr


def reloptions(database, table):
    return database.value("SELECT coalesce(reloptions, '{}') FROM pg_class"
                          " WHERE oid = %s::regclass", (table,))


def assert_like_fresh(upgraded, fresh):
    """An upgraded database has the version, tables, columns, indexes and
    projects' storage parameters of a fresh one (partitions aside)."""
    assert upgraded.all("SELECT version FROM schema_version") == \
        fresh.all("SELECT version FROM schema_version")
    assert tables(upgraded) == tables(fresh)
    assert columns(upgraded) == columns(fresh), \
        columns(upgraded) ^ columns(fresh)
    assert indexes(upgraded) == indexes(fresh), \
        indexes(upgraded) ^ indexes(fresh)
    assert reloptions(upgraded, "projects") == reloptions(fresh, "projects")


@pytest.mark.parametrize("version", [1, 2, 3])
def test_an_older_database_is_upgraded_in_place(db, version):
    """The operator's upgrade (docs/operations.md, "Upgrade with schema
    changes"): a database made by an earlier release's schema.sql (kept in
    tests/integration/data/schema-v<N>.sql), holding data, then
    `trackly-admin schema apply` of today's schema.sql: the same tables,
    columns and indexes as a fresh database, the version row raised, the
    data kept; a second apply changes nothing."""
    with scratch_database(f"trackly_schema_upgrade_v{version}") as name:
        apply_schema(name, old_schema(version))
        conn = db_connect(name)
        try:
            old = Database(conn)
            assert old.value("SELECT version FROM schema_version") == version
            uid = old.value("INSERT INTO users (email, password_hash) "
                            "VALUES ('upgrade@example.test', 'x') "
                            "RETURNING id")
            pid = old.value("INSERT INTO projects (user_id, name, link) "
                            "VALUES (%s, 'kept', 'https://example.com/') "
                            "RETURNING id", (uid,))
            old.run("INSERT INTO mail_outbox (user_id, kind, recipient, "
                    "claimed_until) VALUES (%s, 'test', "
                    "'upgrade@example.test', now())", (uid,))
            old.run("INSERT INTO checks (project_id, scheduled_at, "
                    "checked_at, ok, status_code, latency_ms) VALUES (%s, "
                    "now() - interval '3 days', now() - interval '3 days',"
                    " true, 200, 12)", (pid,))
            if version >= 3:
                # Two verification mails in the last day, and an account
                # whose mail is from last week.
                old.run("UPDATE users SET verify_sends = 2, verify_sent_at ="
                        " now(), verify_window_start = now() - interval "
                        "'1 hour' WHERE id = %s", (uid,))
                old.run("INSERT INTO users (email, password_hash, "
                        "verify_sends, verify_sent_at, verify_window_start) "
                        "VALUES ('Old-Mail@example.test', 'x', 5, now() - "
                        "interval '7 days', now() - interval '7 days')")
            clear = old.value("SELECT mute_token FROM projects WHERE id = %s",
                              (pid,))
            old.run("INSERT INTO mail_outbox (user_id, project_id, kind,"
                    " recipient, payload) VALUES (%s, %s, 'down',"
                    " 'upgrade@example.test', jsonb_build_object("
                    " 'project_name', 'kept', 'mute_link', %s,"
                    " 'unsubscribe_url', %s))",
                    (uid, pid, "https://t.example/mute?token=" + clear,
                     "https://t.example/project/mute?token=" + clear))
        finally:
            conn.close()

        admin_upgrade(name)

        conn = db_connect(name)
        try:
            upgraded = Database(conn)
            assert_like_fresh(upgraded, db)
            assert upgraded.value("SELECT name FROM projects WHERE id = %s",
                                  (pid,)) == "kept"
            # Version 5: the check moved to its day's partition.
            assert upgraded.one(
                "SELECT ok, status_code, latency_ms, tableoid::regclass::text"
                " = 'checks_' || to_char(checked_at AT TIME ZONE 'UTC',"
                " 'YYYYMMDD') FROM checks WHERE project_id = %s", (pid,)) == \
                (True, 200, 12, True)
            assert upgraded.value("SELECT claimed_by FROM mail_outbox "
                                  "WHERE user_id = %s AND kind = 'test'",
                                  (uid,)) is None
            if version < 3:
                # Version 3: an account from before may ask for a resend.
                assert upgraded.one(
                    "SELECT verify_sent_at, verify_sends, verify_window_start"
                    " FROM users WHERE id = %s", (uid,)) == (None, 0, None)
            # Version 4: the mail of the last 24 hours counts for the
            # address, older mail does not.
            log = upgraded.all("SELECT email, sends FROM verify_mail_log "
                               "ORDER BY email")
            assert log == ([("upgrade@example.test", 2)] if version >= 3
                           else []), log
            # Version 4: the clear mute token is gone, its digest kept (a
            # link already mailed works until the next unmute); no clear
            # copy stays in the outbox; the new kinds are allowed.
            assert upgraded.value(
                "SELECT count(*) FROM mute_tokens WHERE project_id = %s"
                " AND token_hash = sha256(convert_to(%s, 'UTF8'))"
                " AND generation = 0", (pid, clear)) == 1
            assert clear not in upgraded.value(
                "SELECT string_agg(payload::text, ' ') FROM mail_outbox")
            assert upgraded.value(
                "SELECT payload->>'project_name' FROM mail_outbox"
                " WHERE kind = 'down'") == "kept"
            upgraded.run("INSERT INTO mail_outbox (kind, recipient) VALUES"
                         " ('digest', 'x@example.test'),"
                         " ('flapping', 'x@example.test')")
            with pytest.raises(psycopg2.errors.CheckViolation):
                upgraded.run("INSERT INTO mail_outbox (kind, recipient)"
                             " VALUES ('nonsense', 'x@example.test')")
        finally:
            conn.close()


CHECK_COLUMNS = ("project_id, scheduled_at, checked_at, ok, status_code, "
                 "latency_ms, error")


def test_a_version_4_database_keeps_its_checks_and_totals(db):
    """Version 5 (issue 15): the checks of a version 4 database, 20 days of
    them, move to one partition per UTC day unchanged, the hourly totals
    stay as they were and are rolled up into daily ones; the schema is then
    that of a fresh database."""
    with scratch_database("trackly_schema_upgrade_v4") as name:
        apply_schema(name, old_schema(4))
        conn = db_connect(name)
        try:
            old = Database(conn)
            uid = old.value("INSERT INTO users (email, password_hash) "
                            "VALUES ('v4@example.test', 'x') RETURNING id")
            pids = [old.value("INSERT INTO projects (user_id, name, link) "
                              "VALUES (%s, %s, 'https://example.com/') "
                              "RETURNING id", (uid, f"p{i}"))
                    for i in range(2)]
            # A check every 10 minutes for 20 days; every 7th fails.
            old.run("INSERT INTO checks (" + CHECK_COLUMNS + ") "
                    "SELECT p, t - interval '2 seconds', t, n %% 7 <> 0, "
                    "CASE WHEN n %% 7 <> 0 THEN 200 ELSE 503 END, n %% 500, "
                    "CASE WHEN n %% 7 = 0 THEN 'status 503' END "
                    "FROM unnest(%s::bigint[]) AS p, "
                    "generate_series(1, 2880) AS n, "
                    "LATERAL (SELECT now() - n * interval '10 minutes') AS x(t)",
                    (pids,))
            old.run("INSERT INTO check_hours (project_id, hour, checks, up, "
                    "latency_sum, latency_max) SELECT project_id, "
                    "date_trunc('hour', checked_at), count(*), "
                    "count(*) FILTER (WHERE ok), sum(latency_ms), "
                    "max(latency_ms) FROM checks GROUP BY 1, 2")
            before = old.all("SELECT " + CHECK_COLUMNS + " FROM checks "
                             "ORDER BY 1, 3")
            hours = old.all("SELECT * FROM check_hours ORDER BY 1, 2")
        finally:
            conn.close()

        admin_upgrade(name)

        conn = db_connect(name)
        try:
            new = Database(conn)
            assert new.all("SELECT " + CHECK_COLUMNS + " FROM checks "
                           "ORDER BY 1, 3") == before
            misplaced = new.value(
                "SELECT count(*) FROM checks WHERE tableoid::regclass::text"
                " <> 'checks_' || to_char(checked_at AT TIME ZONE 'UTC',"
                " 'YYYYMMDD')")
            assert misplaced == 0
            assert new.value("SELECT to_regclass('checks_v4')") is None
            assert new.all("SELECT * FROM check_hours ORDER BY 1, 2") == hours
            days = new.all(
                "SELECT project_id, (hour AT TIME ZONE 'UTC')::date, "
                "sum(checks), sum(up), sum(latency_sum), max(latency_max) "
                "FROM check_hours GROUP BY 1, 2 ORDER BY 1, 2")
            assert len(days) >= 40
            assert new.all("SELECT project_id, day, checks, up, latency_sum,"
                           " latency_max FROM check_days ORDER BY 1, 2") == \
                days
            assert_like_fresh(new, db)
        finally:
            conn.close()


def test_a_version_5_database_keeps_its_leases_and_history(db):
    """Version 6 (issue 15): projects lose the index on the lease and keep
    a fifth of each page free, so that a claim is a HOT update; a project
    leased by a running version 5 monitor keeps its lease, and its checks
    and totals stay as they were."""
    with scratch_database("trackly_schema_upgrade_v5") as name:
        apply_schema(name, old_schema(5))
        conn = db_connect(name)
        try:
            old = Database(conn)
            assert old.value("SELECT version FROM schema_version") == 5
            uid = old.value("INSERT INTO users (email, password_hash) "
                            "VALUES ('v5@example.test', 'x') RETURNING id")
            pid = old.value("INSERT INTO projects (user_id, name, link, "
                            "lease_owner, lease_expires_at, hour_start, "
                            "hour_checks, hour_up) VALUES (%s, 'leased', "
                            "'https://example.com/', 'old:1', now() + "
                            "interval '1 minute', date_trunc('hour', now()),"
                            " 3, 2) RETURNING id", (uid,))
            old.run("SELECT checks_add_day(current_date)")
            old.run("INSERT INTO checks (" + CHECK_COLUMNS + ") VALUES "
                    "(%s, now(), now(), true, 200, 7, NULL)", (pid,))
            old.run("INSERT INTO check_hours (project_id, hour, checks, up,"
                    " latency_sum, latency_max) VALUES (%s, date_trunc("
                    "'hour', now()) - interval '1 hour', 60, 59, 600, 30)",
                    (pid,))
            project = old.one("SELECT * FROM projects WHERE id = %s", (pid,))
            checks = old.all("SELECT " + CHECK_COLUMNS + " FROM checks")
            hours = old.all("SELECT * FROM check_hours")
            assert "projects_lease_idx" in dict(indexes(old))
        finally:
            conn.close()

        admin_upgrade(name)

        conn = db_connect(name)
        try:
            new = Database(conn)
            assert new.one("SELECT * FROM projects WHERE id = %s",
                           (pid,)) == project
            assert new.all("SELECT " + CHECK_COLUMNS + " FROM checks") == \
                checks
            assert new.all("SELECT * FROM check_hours") == hours
            assert reloptions(new, "projects") == ["fillfactor=80"]
            assert "projects_lease_idx" not in dict(indexes(new))
            assert_like_fresh(new, db)
        finally:
            conn.close()
