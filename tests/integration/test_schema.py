"""schema.sql: it builds a database from nothing, can be applied twice, and
carries the constraints the API relies on.  (The programs refusing an
unknown schema version is in test_zz_resilience.py.)"""

import psycopg2
import psycopg2.errors
import pytest

from conftest import Database, apply_schema, db_connect, scratch_database

TABLES = {"schema_version", "users", "mail_outbox", "login_throttle",
          "projects", "checks", "check_hours", "incidents"}


def tables(database):
    return {name for (name,) in database.all(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")}


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


def test_emails_are_unique_ignoring_case(db):
    conn = db_connect()
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO users (email, password_hash) "
                        "VALUES ('Schema-Case@example.test', 'x')")
            with pytest.raises(psycopg2.errors.UniqueViolation):
                cur.execute("INSERT INTO users (email, password_hash) "
                            "VALUES ('schema-case@EXAMPLE.test', 'x')")
    finally:
        conn.rollback()
        conn.close()


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
    conn = db_connect()
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO users (email, password_hash) VALUES "
                        "('schema-defaults@example.test', 'x') "
                        "RETURNING email_verified, token_version, created_at")
            verified, version, created = cur.fetchone()
        assert verified is False
        assert isinstance(version, int)
        assert created is not None
    finally:
        conn.rollback()
        conn.close()
