"""SQL metacharacters in every string field and query parameter.

Every statement is parameterised, so quotes, comment markers, `$1`,
backslashes and LIKE wildcards are just text: stored byte for byte,
returned byte for byte, compared exactly (a `%` in an email address
matches only itself), and never an error.  Integer parameters holding them
are a 400 naming the parameter.  The tables are intact afterwards.
"""

import uuid

import pytest

from helpers.db import no_writes
from helpers.http import call, expect_error, expect_json
from helpers.projects import create_project, get_project
from helpers.users import login, make_user, random_password, register

pytestmark = pytest.mark.usefixtures("stack_healthy")

METACHARACTERS = [
    "'", "''", '"', "`", ";", ";--", "--", "/*", "*/", "#", "$1", "$$",
    "$tag$", "\\", "\\\\", "\\'", "%", "_", "%_%", "' OR '1'='1",
    "'; DROP TABLE users;--", "1; SELECT pg_sleep(10)--", ":name", "?",
    "E'\\x41'", "U&'\\0041'", "\\x00", "\\u0000 (text, not an escape)",
    "{}", "[]", "NULL", "null", "\u00e9\u00df\U0001F600",
]


def mixed():
    """As many of them as fit a name (200 characters), in one string with a
    unique tag."""
    return ("m-" + uuid.uuid4().hex[:6] + " " + " ".join(METACHARACTERS))[:200]


@pytest.fixture(scope="module")
def writer():
    return make_user()


@pytest.mark.parametrize("value", METACHARACTERS + ["mixed"])
def test_text_fields_are_stored_and_returned_verbatim(writer, db, value):
    value = mixed() if value == "mixed" else value
    project = create_project(writer, name=value, description=value,
                             keyword=value)
    try:
        for got in (project, get_project(writer, project["id"])):
            assert got["name"] == value
            assert got["description"] == value
            assert got["keyword"] == value
        row = db.one("SELECT name, description, keyword FROM projects "
                     "WHERE id = %s", (project["id"],))
        assert row == (value, value, value)
        listed = expect_json(call("GET", "/project", token=writer.token), 200)
        assert [p["name"] for p in listed if p["id"] == project["id"]] == \
            [value]
        status = expect_json(call("GET", "/project/status",
                                  token=writer.token), 200)
        assert [p["name"] for p in status if p["id"] == project["id"]] == \
            [value]
    finally:
        expect_json(call("DELETE", f"/project/{project['id']}",
                         token=writer.token), 200)


def test_update_stores_metacharacters_verbatim(writer, db):
    project = create_project(writer)
    try:
        value = mixed()
        r = call("PUT", f"/project/{project['id']}", token=writer.token,
                 json={"name": value, "description": value, "keyword": value})
        updated = expect_json(r, 200)
        assert updated["name"] == updated["description"] == value
        assert updated["keyword"] == value
        assert get_project(writer, project["id"])["name"] == value
    finally:
        call("DELETE", f"/project/{project['id']}", token=writer.token)


@pytest.mark.parametrize("path", [
    "/a'b", "/a%27b;--", "/$1/$$", "/%25_%25", "/?q=%27%20OR%20%271%27=%271",
    "/?q=';DROP%20TABLE%20projects;--", "/a\\b".replace("\\", "%5C"),
])
def test_links_with_metacharacters_are_stored_verbatim(writer, db, path):
    link = "https://example.com" + path
    r = call("POST", "/project", token=writer.token,
             json={"name": "link test", "link": link})
    project = expect_json(r, 201)
    try:
        assert project["link"] == link
        assert db.value("SELECT link FROM projects WHERE id = %s",
                        (project["id"],)) == link
    finally:
        call("DELETE", f"/project/{project['id']}", token=writer.token)


@pytest.mark.parametrize("value", ["200;--", "200' OR '1'='1", "$1",
                                   "200-399; DROP TABLE projects"])
def test_expected_status_with_metacharacters_is_400(writer, db, value):
    with no_writes(db):
        r = call("POST", "/project", token=writer.token,
                 json={"name": "x", "link": "https://example.com/",
                       "expected_status": value})
    assert "expected_status" in expect_error(r, 400)


# --- accounts --------------------------------------------------------------

def test_email_with_metacharacters_is_exact(db):
    """Quotes, $, % and _ are allowed in an address's local part; % and _
    must not act as LIKE wildcards anywhere."""
    tag = uuid.uuid4().hex[:8]
    email = f"o'brien$1%_{tag}@example.test"
    password = random_password()
    user = expect_json(register(email, password), 201)["user"]
    assert user["email"] == email
    assert db.value("SELECT email FROM users WHERE id = %s",
                    (user["id"],)) == email
    expect_json(login(email, password), 200)
    expect_json(login(email.upper(), password), 200)   # case-insensitive
    for lookalike in (f"o'brien$1%%{tag}@example.test",
                      f"o'brien$1__{tag}@example.test",
                      f"%{tag}@example.test", "%@example.test",
                      f"o''brien$1%_{tag}@example.test"):
        r = login(lookalike, password)
        assert r.status_code == 401, f"{lookalike}: {r.status_code}"
    # Registering a wildcard spelling is a new address, not a clash.
    other = f"o'brien$1%%{tag}@example.test"
    expect_json(register(other, random_password()), 201)


@pytest.mark.parametrize("email", [
    "a';--@example.test", 'a"b@example.test', "a\\b@example.test",
    "a b@example.test", "a@example.test';--",
])
def test_email_with_forbidden_characters_is_400(db, email):
    with no_writes(db):
        expect_error(register(email, random_password()), 400)


def test_password_with_metacharacters_round_trips(db):
    password = "'; DROP TABLE users;-- $1 \\ % _ \" /* " + uuid.uuid4().hex
    email = f"u-{uuid.uuid4().hex}@example.test"
    expect_json(register(email, password), 201)
    expect_json(login(email, password), 200)
    assert login(email, password[:-1]).status_code == 401
    assert login(email, password.replace("'", "''")).status_code == 401
    assert db.value("SELECT count(*) FROM users") > 0


# --- query parameters ------------------------------------------------------

QUERY_VALUES = ["1'", "1;--", "1 OR 1=1", "$1", "1\\", "%25", "_", "1e3",
                "0x10", " 1", "1)"]


@pytest.mark.parametrize("value", QUERY_VALUES)
@pytest.mark.parametrize("name", ["limit", "offset"])
def test_integer_query_parameters_refuse_metacharacters(writer, name, value):
    r = call("GET", "/project", token=writer.token, params={name: value})
    assert name in expect_error(r, 400)


@pytest.mark.parametrize("value", QUERY_VALUES)
def test_checks_limit_refuses_metacharacters(writer, value):
    project = create_project(writer)
    try:
        r = call("GET", f"/project/{project['id']}/checks",
                 token=writer.token, params={"limit": value})
        assert "limit" in expect_error(r, 400)
    finally:
        call("DELETE", f"/project/{project['id']}", token=writer.token)


@pytest.mark.parametrize("value", ["' OR '1'='1", "%", "_", "%25%25",
                                   "';DROP TABLE users;--", "$1", "\\"])
def test_link_tokens_with_metacharacters_are_400(db, value):
    with no_writes(db):
        expect_error(call("POST", "/user/verify", json={"token": value}), 400)
        # The redirect of the old link echoes a token of its alphabet only.
        r = call("GET", "/user/verify", params={"token": value},
                 allow_redirects=False)
        if value == "_":
            expect_json(r, 303)
            assert r.headers["Location"] == "/verify?token=_"
        else:
            expect_error(r, 400)
            assert "Location" not in r.headers
        for method in ("GET", "POST"):
            expect_error(call(method, "/project/mute",
                              params={"token": value}), 400)


def test_tables_are_intact(db):
    for table in ("users", "projects", "checks", "check_hours", "incidents",
                  "mail_outbox", "login_throttle", "schema_version",
                  "verify_mail_log"):
        assert db.value(f"SELECT count(*) >= 0 FROM {table}") is True
