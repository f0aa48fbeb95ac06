"""The test database: connections, a small query wrapper, the schema, and
reads of the rows the API and the monitor write."""

import contextlib
import json as jsonlib
import re
import shutil
import subprocess
from pathlib import Path

import psycopg2
import psycopg2.extensions

from helpers.stack import env


def db_dsn(dbname=None):
    """The test database's DSN, or the same server's database dbname."""
    dsn = env("TRACKLY_DB_URL")
    if dbname is not None:
        dsn = psycopg2.extensions.make_dsn(dsn, dbname=dbname)
    return dsn


def db_connect(dbname=None):
    conn = psycopg2.connect(db_dsn(dbname), connect_timeout=5)
    conn.autocommit = True
    return conn


class Database:
    """A thin autocommit wrapper so tests read like the SQL they run."""

    def __init__(self, conn):
        self.conn = conn

    def all(self, sql, params=()):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def one(self, sql, params=()):
        rows = self.all(sql, params)
        assert len(rows) <= 1, f"expected at most one row, got {len(rows)}"
        return rows[0] if rows else None

    def value(self, sql, params=()):
        row = self.one(sql, params)
        return None if row is None else row[0]

    def run(self, sql, params=()):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.rowcount


# The oldest day a test writes checks for.  The checks table has one
# partition per UTC day and no default partition (schema.sql), and the
# monitor makes only today's and the next days'; a test writing older
# checks needs the older days' partitions, made by the db fixture.
TEST_CHECK_DAYS = 45


def add_check_days(database, days_back=TEST_CHECK_DAYS):
    """Makes the checks table's partitions of the last days_back UTC days
    and the next two, where missing (checks_add_day in schema.sql)."""
    database.value("SELECT count(*) FILTER (WHERE checks_add_day("
                   "(now() AT TIME ZONE 'UTC')::date + i)) "
                   "FROM generate_series(%s, 2) AS i", (-days_back,))


def verify_row(db, user_id):
    """The user's queued verification mail: (recipient, payload dict)."""
    rows = db.all("SELECT recipient, payload FROM mail_outbox "
                  "WHERE user_id = %s AND kind = 'verify' ORDER BY id",
                  (user_id,))
    assert len(rows) == 1, f"expected one verify mail, found {len(rows)}"
    recipient, payload = rows[0]
    if isinstance(payload, str):
        payload = jsonlib.loads(payload)
    return recipient, payload


def schema_sql():
    return Path(env("TRACKLY_SOURCE_ROOT"), "schema.sql")


def apply_schema(dbname, path=None):
    """Runs schema.sql (or the file path) against database dbname, failing
    on any error.  Uses psql when the file holds psql meta-commands,
    psycopg2 otherwise."""
    path = path or schema_sql()
    text = path.read_text()
    if re.search(r"^\s*\\", text, re.M):
        psql = shutil.which("psql")
        assert psql, "schema.sql has psql meta-commands but psql is missing"
        subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1",
                        "-d", db_dsn(dbname), "-f", str(path)],
                       check=True, timeout=60, capture_output=True)
        return
    conn = db_connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(text)
    finally:
        conn.close()


@contextlib.contextmanager
def scratch_database(name):
    """Creates an empty database name (dropping any leftover first) and
    drops it again afterwards, even if clients are still connected."""
    admin = db_connect()
    try:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def dict_rows(db, sql, params=()):
    """Rows of a query as dicts keyed by column name."""
    with db.conn.cursor() as cur:
        cur.execute(sql, params)
        if not cur.description:
            return []
        names = [c.name for c in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def project_row(db, project_id):
    rows = dict_rows(db, "SELECT * FROM projects WHERE id = %s",
                     (project_id,))
    assert rows, f"project {project_id} does not exist"
    return rows[0]


def check_rows(db, project_id):
    """The project's checks, oldest first."""
    return dict_rows(db, "SELECT * FROM checks WHERE project_id = %s "
                         "ORDER BY scheduled_at, checked_at", (project_id,))


def outbox_rows(db, *, user_id=None, project_id=None, kind=None):
    """mail_outbox rows matching every filter given, oldest first."""
    where, params = [], []
    for column, value in (("user_id", user_id), ("project_id", project_id),
                          ("kind", kind)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    sql = "SELECT * FROM mail_outbox"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return dict_rows(db, sql + " ORDER BY id", params)


def incident_rows(db, project_id):
    return dict_rows(db, "SELECT * FROM incidents WHERE project_id = %s "
                         "ORDER BY started_at, id", (project_id,))


def db_fingerprint(db):
    """What a refused request must not change: the rows of every table a
    request can write (login_throttle aside: failed logins count there on
    purpose) and the latest update of users and projects."""
    return db.one(
        "SELECT (SELECT count(*) FROM users),"
        "       (SELECT max(updated_at) FROM users),"
        "       (SELECT sum(token_version) FROM users),"
        "       (SELECT count(*) FROM projects),"
        "       (SELECT max(updated_at) FROM projects),"
        "       (SELECT count(*) FROM mail_outbox),"
        "       (SELECT sum(sends) FROM verify_mail_log),"
        "       (SELECT count(*) FROM checks),"
        "       (SELECT count(*) FROM incidents)")


@contextlib.contextmanager
def no_writes(db):
    """Fails the test when the block changed what db_fingerprint covers."""
    before = db_fingerprint(db)
    yield
    after = db_fingerprint(db)
    assert after == before, f"the database changed: {before} -> {after}"


@contextlib.contextmanager
def database_at_schema_version(name, version):
    """A scratch database name holding schema.sql but claiming schema
    version version: what the programs must refuse to start on."""
    with scratch_database(name):
        apply_schema(name)
        conn = db_connect(name)
        try:
            with conn.cursor() as cur:
                cur.execute("UPDATE schema_version SET version = %s",
                            (version,))
        finally:
            conn.close()
        yield name
