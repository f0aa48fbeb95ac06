"""trackly-admin (issue 6): the operator's commands against the test
database — schema apply/check, user create/verify, monitor lag, mail test —
their refusals of bad input, and their exit codes (0 done, 1 failed, 2 bad
command line, 3 schema missing or another version / lag over --max).

A user made by `user create` must be able to log in through the API, and a
mail queued by `mail test` must reach the SMTP sink through the monitor."""

import re
import subprocess
import uuid
from pathlib import Path

import pytest

from helpers.db import db_dsn, scratch_database
from helpers.http import call, expect_json
from helpers.monitor import isolate_monitor, monitor_bin, monitor_env
from helpers.stack import binary_env, env
from helpers.users import login, login_token, random_email, random_password

# The version this build needs: meson.build's schema_version.
SCHEMA_VERSION = int(re.search(
    r"^schema_version = (\d+)$",
    (Path(env("TRACKLY_SOURCE_ROOT")) / "meson.build").read_text(),
    re.M).group(1))


def admin_bin():
    return str(Path(env("TRACKLY_BUILD_DIR"), "admin", "trackly-admin"))


def admin(*args, stdin="", db_url=None, timeout=60, **extra):
    """Runs trackly-admin with DB_URL set (to the test database unless
    db_url says otherwise; "" leaves it unset)."""
    url = env("TRACKLY_DB_URL") if db_url is None else db_url
    env_vars = binary_env(DB_URL=url or None, **extra)
    return subprocess.run([admin_bin(), *args], env=env_vars, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def create_user(email, password, *flags):
    return admin("user", "create", *flags, email, stdin=password + "\n")


# --- command line ----------------------------------------------------------

def test_help_names_every_command():
    r = admin("--help")
    assert r.returncode == 0, r.stderr
    for words in ("schema apply", "schema check", "user create",
                  "user verify", "monitor lag", "mail test"):
        assert words in r.stdout


@pytest.mark.parametrize("cmd", [("schema", "apply"), ("schema", "check"),
                                 ("user", "create"), ("user", "verify"),
                                 ("monitor", "lag"), ("mail", "test")])
def test_each_command_has_help(cmd):
    r = admin(*cmd, "--help", db_url="")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Usage: trackly-admin {' '.join(cmd)}")


def test_version():
    r = admin("--version")
    assert r.returncode == 0
    assert f"schema version {SCHEMA_VERSION}" in r.stdout


@pytest.mark.parametrize("args", [
    (), ("bogus",), ("user",), ("user", "delete", "a@example.test"),
    ("user", "create"), ("user", "verify"), ("mail", "test"),
    ("user", "create", "a@example.test", "extra"),
    ("schema", "check", "--verified"), ("user", "verify", "--file", "x",
                                        "a@example.test"),
    ("monitor", "lag", "--max", "soon"), ("monitor", "lag", "--max", "-1"),
    ("--no-such-option", "schema", "check"),
])
def test_bad_command_lines_exit_2(args):
    r = admin(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "trackly-admin" in r.stderr or "Usage" in r.stderr


def test_missing_db_url_exits_1():
    r = admin("schema", "check", db_url="")
    assert r.returncode == 1
    assert "DB_URL" in r.stderr


def test_env_file_is_read(tmp_path):
    path = tmp_path / "trackly.env"
    path.write_text(f"# as in /etc/trackly/trackly.env\n"
                    f"DB_URL='{env('TRACKLY_DB_URL')}'\n")
    r = admin("--env-file", str(path), "schema", "check", db_url="")
    assert r.returncode == 0, r.stderr


def test_unreachable_database_exits_1():
    r = admin("schema", "check",
              db_url="postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert r.returncode == 1
    assert "cannot connect" in r.stderr


# --- schema ----------------------------------------------------------------

def test_schema_check_on_the_test_database():
    r = admin("schema", "check")
    assert r.returncode == 0, r.stderr
    assert f"schema version {SCHEMA_VERSION}" in r.stdout


def test_schema_apply_creates_then_reapplies():
    schema = Path(env("TRACKLY_SOURCE_ROOT"), "schema.sql")
    name = "trackly_admin_" + uuid.uuid4().hex[:8]
    with scratch_database(name):
        url = db_dsn(name)
        r = admin("schema", "check", db_url=url)
        assert r.returncode == 3, (r.stdout, r.stderr)
        assert "no Trackly schema" in r.stderr
        r = admin("user", "verify", "a@example.test", db_url=url)
        assert r.returncode == 3
        assert "schema apply" in r.stderr
        for _ in range(2):   # the second time changes nothing
            r = admin("schema", "apply", "--file", str(schema), db_url=url)
            assert r.returncode == 0, r.stderr
            assert f"version {SCHEMA_VERSION}" in r.stdout
        r = admin("schema", "check", db_url=url)
        assert r.returncode == 0, r.stderr


def test_schema_apply_of_another_version_exits_3(tmp_path):
    schema = Path(env("TRACKLY_SOURCE_ROOT"), "schema.sql").read_text()
    other = schema.replace(f"VALUES ({SCHEMA_VERSION}) ON CONFLICT",
                           "VALUES (999) ON CONFLICT")
    assert other != schema
    path = tmp_path / "schema.sql"
    path.write_text(other)
    name = "trackly_admin_" + uuid.uuid4().hex[:8]
    with scratch_database(name):
        r = admin("schema", "apply", "--file", str(path), db_url=db_dsn(name))
        assert r.returncode == 3, (r.stdout, r.stderr)
        assert "version 999" in r.stderr


def test_schema_apply_rolls_back_a_broken_file(tmp_path):
    path = tmp_path / "broken.sql"
    path.write_text("BEGIN; CREATE TABLE admin_probe (x int); "
                    "SELECT no_such_function(); COMMIT;")
    name = "trackly_admin_" + uuid.uuid4().hex[:8]
    with scratch_database(name):
        url = db_dsn(name)
        r = admin("schema", "apply", "--file", str(path), db_url=url)
        assert r.returncode == 1
        assert "did not apply" in r.stderr
        import psycopg2
        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT to_regclass('admin_probe')")
                assert cur.fetchone()[0] is None
        finally:
            conn.close()


def test_schema_apply_missing_file_exits_1(tmp_path):
    r = admin("schema", "apply", "--file", str(tmp_path / "nope.sql"))
    assert r.returncode == 1
    assert "cannot read" in r.stderr


def test_schema_apply_of_a_directory_or_huge_file_exits_1(tmp_path):
    # A read error used to pass for the end of the file, and an empty
    # "schema" was then applied as if it were the whole of it.
    r = admin("schema", "apply", "--file", str(tmp_path))
    assert r.returncode == 1
    assert "Is a directory" in r.stderr
    huge = tmp_path / "huge.sql"
    huge.write_text("-- padding\n" * 200_000)   # over the 1 MiB cap
    r = admin("schema", "apply", "--file", str(huge))
    assert r.returncode == 1
    assert "too large" in r.stderr


# --- users -----------------------------------------------------------------

def test_created_user_logs_in_through_the_api(db):
    email, password = random_email("admin"), random_password()
    r = create_user(email, password, "--verified")
    assert r.returncode == 0, r.stderr
    assert password not in r.stdout + r.stderr
    token = login_token(email, password)
    me = expect_json(call("GET", "/user/me", token=token), 200)
    assert me["email"] == email
    assert me["email_verified"] is True
    stored = db.value("SELECT password_hash FROM users WHERE email = %s",
                      (email,))
    assert stored.startswith("$argon2id$")
    assert password not in stored
    assert db.value("SELECT count(*) FROM mail_outbox o JOIN users u "
                    "ON u.id = o.user_id WHERE u.email = %s", (email,)) == 0


def test_unverified_user_then_verify(db):
    email, password = random_email("admin"), random_password()
    r = create_user(email, password)
    assert r.returncode == 0, r.stderr
    assert "not verified" in r.stdout
    token = login_token(email, password)
    me = expect_json(call("GET", "/user/me", token=token), 200)
    assert me["email_verified"] is False
    # Case does not matter, as for login.
    r = admin("user", "verify", email.upper())
    assert r.returncode == 0, r.stderr
    me = expect_json(call("GET", "/user/me", token=token), 200)
    assert me["email_verified"] is True


def test_create_reads_only_the_first_line_and_trims_crlf():
    email, password = random_email("admin"), random_password()
    r = admin("user", "create", "--verified", email,
              stdin=password + "\r\nsomething else\n")
    assert r.returncode == 0, r.stderr
    login_token(email, password)


def test_create_twice_fails():
    email, password = random_email("admin"), random_password()
    assert create_user(email, password).returncode == 0
    r = create_user(email.upper(), random_password())
    assert r.returncode == 1
    assert "exists already" in r.stderr


@pytest.mark.parametrize("password", ["", "short", "x" * 1025])
def test_create_refuses_bad_passwords(password):
    email = random_email("admin")
    r = create_user(email, password)
    assert r.returncode == 1, r.stdout
    assert login(email, password or "whatever").status_code == 401


def test_create_with_no_stdin_fails():
    r = admin("user", "create", random_email("admin"), stdin="")
    assert r.returncode == 1
    assert "no password" in r.stderr


@pytest.mark.parametrize("email", ["not-an-address", "a@", "a b@example.test",
                                   "x" * 250 + "@example.test"])
def test_bad_email_addresses(email):
    for args in (("user", "create", email), ("user", "verify", email),
                 ("mail", "test", email)):
        r = admin(*args, stdin=random_password() + "\n")
        assert r.returncode == 1, args
        assert "not a valid email" in r.stderr


def test_verify_unknown_user_fails():
    r = admin("user", "verify", random_email("nobody"))
    assert r.returncode == 1
    assert "no user" in r.stderr


# --- monitor lag -----------------------------------------------------------

def test_monitor_lag_reports_overdue_projects(db, new_user):
    body = expect_json(call("POST", "/project", token=new_user.token, json={
        "name": "lag", "link": "http://127.0.0.1:9/"}), 201)
    pid = body["project"]["id"] if "project" in body else body["id"]
    db.run("UPDATE projects SET next_check_at = now() - interval '1 hour', "
           "paused = false WHERE id = %s", (pid,))
    try:
        r = admin("monitor", "lag")
        assert r.returncode == 0, r.stderr
        fields = dict(line.split(":", 1) for line in r.stdout.splitlines())
        assert int(fields["overdue now"]) >= 1
        lateness = float(fields["max lateness"].strip().split()[0])
        assert lateness >= 3599
        r = admin("monitor", "lag", "--max", "60")
        assert r.returncode == 3
        assert "late" in r.stderr
        r = admin("monitor", "lag", "--max", "1000000")
        assert r.returncode == 0
    finally:
        db.run("UPDATE projects SET paused = true WHERE id = %s", (pid,))


# --- mail test -------------------------------------------------------------

def test_mail_test_is_queued_and_sent(db, smtp_server):
    to = random_email("admin-mail")
    isolate_monitor([])
    r = admin("mail", "test", to)
    assert r.returncode == 0, r.stderr
    assert "mailer" in r.stdout
    row = db.one("SELECT kind, user_id, sent_at FROM mail_outbox "
                 "WHERE recipient = %s", (to,))
    assert row == ("test", None, None)
    done = subprocess.run([monitor_bin(), "--once"],
                          env=monitor_env(smtp_server),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    msgs = smtp_server.wait_for(to=to, timeout=20)
    assert msgs, smtp_server.describe()
    assert db.value("SELECT sent_at IS NOT NULL FROM mail_outbox "
                    "WHERE recipient = %s", (to,)) is True


def test_password_is_not_in_the_process_arguments():
    # The only way in is stdin: an argument that looks like one is refused.
    r = admin("user", "create", "--password", "hunter22", "a@example.test")
    assert r.returncode == 2
    assert "trackly-admin: user create: bad option '--password'" in r.stderr
