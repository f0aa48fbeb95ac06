"""The project resource itself: POST /project, GET /project (list and
pagination), GET/PUT/DELETE /project/{id}, the input rules every field
follows, the per-user project limit, and what ids in paths may look like.

Other users' projects are in test_projects_isolation.py; the dashboard and
status views in test_projects_dashboard.py; checks and uptime in
test_projects_history.py; wakeups and POST /project/{id}/check in
test_projects_notify.py."""

import pytest

from helpers.http import (
    assert_recent, call, expect_error, expect_json, expect_unauthorized,
    parse_time, post_raw,
)
from helpers.projects import (
    PROJECT_DEFAULTS, assert_project_shape, create_project, get_project,
    max_projects, min_interval, project_body, set_project_state,
)
from helpers.users import make_user

MIN = min_interval()
LINK_2048 = "https://example.com/" + "a" * (2048 - len("https://example.com/"))

# Fields a client may set, with a valid non-default value for each.
SETTABLE = {
    "name": "renamed site",
    "description": "a longer story",
    "link": "http://example.org/health?full=1",
    "interval_seconds": 600,
    "timeout_ms": 5000,
    "expected_status": "200,204",
    "keyword": "healthy",
    "failure_threshold": 3,
    "recovery_threshold": 2,
    "paused": True,
}

# (case id, fields merged into a valid body, field the error must name).
# Each is wrong in exactly one way.
BAD_FIELDS = [
    ("name-empty", {"name": ""}, "name"),
    ("name-spaces", {"name": "   "}, "name"),
    ("name-whitespace", {"name": " \t\r\n "}, "name"),
    ("name-201", {"name": "n" * 201}, "name"),
    ("name-201-emoji", {"name": "\U0001F600" * 201}, "name"),
    ("name-201-combining", {"name": "e\u0301" * 100 + "e"}, "name"),
    ("name-number", {"name": 5}, "name"),
    ("name-bool", {"name": True}, "name"),
    ("name-array", {"name": ["site"]}, "name"),
    ("name-object", {"name": {"text": "site"}}, "name"),
    ("description-2001", {"description": "d" * 2001}, "description"),
    ("description-2001-emoji", {"description": "\U0001F600" * 2001},
     "description"),
    ("description-number", {"description": 7}, "description"),
    ("description-array", {"description": []}, "description"),
    ("link-empty", {"link": ""}, "link"),
    ("link-no-scheme", {"link": "example.com"}, "link"),
    ("link-scheme-relative", {"link": "//example.com/"}, "link"),
    ("link-ftp", {"link": "ftp://example.com/"}, "link"),
    ("link-file", {"link": "file:///etc/passwd"}, "link"),
    ("link-javascript", {"link": "javascript:alert(1)"}, "link"),
    ("link-mailto", {"link": "mailto:ops@example.com"}, "link"),
    ("link-no-host", {"link": "http://"}, "link"),
    ("link-empty-host-path", {"link": "http:///path"}, "link"),
    ("link-empty-host-port", {"link": "http://:8080/"}, "link"),
    ("link-no-slashes", {"link": "http:example.com"}, "link"),
    ("link-userinfo", {"link": "https://user:secret@example.com/"}, "link"),
    ("link-space", {"link": "https://exa mple.com/"}, "link"),
    ("link-space-in-path", {"link": "https://example.com/a b"}, "link"),
    ("link-leading-space", {"link": " https://example.com/"}, "link"),
    ("link-trailing-newline", {"link": "https://example.com/\n"}, "link"),
    ("link-tab", {"link": "https://example.com/\tx"}, "link"),
    ("link-control", {"link": "https://example.com/\u0001"}, "link"),
    ("link-del", {"link": "https://example.com/\u007f"}, "link"),
    ("link-2049", {"link": LINK_2048 + "a"}, "link"),
    ("link-number", {"link": 80}, "link"),
    ("link-object", {"link": {"href": "https://example.com/"}}, "link"),
    ("interval-below-min", {"interval_seconds": MIN - 1}, "interval_seconds"),
    ("interval-zero", {"interval_seconds": 0}, "interval_seconds"),
    ("interval-negative", {"interval_seconds": -60}, "interval_seconds"),
    ("interval-over-a-day", {"interval_seconds": 86401}, "interval_seconds"),
    ("interval-huge", {"interval_seconds": 2 ** 63}, "interval_seconds"),
    ("interval-string", {"interval_seconds": "60"}, "interval_seconds"),
    ("interval-fraction", {"interval_seconds": 60.5}, "interval_seconds"),
    ("interval-bool", {"interval_seconds": True}, "interval_seconds"),
    ("timeout-99", {"timeout_ms": 99}, "timeout_ms"),
    ("timeout-120001", {"timeout_ms": 120001, "interval_seconds": 86400},
     "timeout_ms"),
    ("timeout-string", {"timeout_ms": "1000"}, "timeout_ms"),
    ("timeout-fraction", {"timeout_ms": 1500.5}, "timeout_ms"),
    ("expected-empty", {"expected_status": ""}, "expected_status"),
    ("expected-word", {"expected_status": "ok"}, "expected_status"),
    ("expected-99", {"expected_status": "99"}, "expected_status"),
    ("expected-600", {"expected_status": "200-600"}, "expected_status"),
    ("expected-reversed", {"expected_status": "299-200"}, "expected_status"),
    ("expected-open-range", {"expected_status": "200-"}, "expected_status"),
    ("expected-leading-dash", {"expected_status": "-200"}, "expected_status"),
    ("expected-empty-item", {"expected_status": "200,,301"},
     "expected_status"),
    ("expected-trailing-comma", {"expected_status": "200,"},
     "expected_status"),
    ("expected-double-range", {"expected_status": "200-299-399"},
     "expected_status"),
    ("expected-letter-o", {"expected_status": "2OO"}, "expected_status"),
    ("expected-17-items", {"expected_status": ",".join(
        str(c) for c in range(200, 217))}, "expected_status"),
    ("expected-number", {"expected_status": 200}, "expected_status"),
    ("expected-array", {"expected_status": ["200"]}, "expected_status"),
    ("keyword-1025-bytes", {"keyword": "k" * 1025}, "keyword"),
    ("keyword-1025-utf8-bytes", {"keyword": "\u00e9" * 512 + "k"}, "keyword"),
    ("keyword-number", {"keyword": 42}, "keyword"),
    ("keyword-array", {"keyword": ["ok"]}, "keyword"),
    ("failure-0", {"failure_threshold": 0}, "failure_threshold"),
    ("failure-11", {"failure_threshold": 11}, "failure_threshold"),
    ("failure-string", {"failure_threshold": "2"}, "failure_threshold"),
    ("failure-fraction", {"failure_threshold": 2.5}, "failure_threshold"),
    ("recovery-0", {"recovery_threshold": 0}, "recovery_threshold"),
    ("recovery-11", {"recovery_threshold": 11}, "recovery_threshold"),
    ("recovery-string", {"recovery_threshold": "1"}, "recovery_threshold"),
    ("paused-string", {"paused": "yes"}, "paused"),
    ("paused-number", {"paused": 1}, "paused"),
    ("paused-zero", {"paused": 0}, "paused"),
]

def raw(name=b'"site"', link=b'"https://example.com/"', extra=b""):
    """A JSON body written byte by byte, for what json= cannot send."""
    return b'{"name":' + name + b',"link":' + link + extra + b"}"


# Malformed bodies, for POST /project and PUT /project/{id}.
BAD_BODIES = {
    "empty": b"",
    "not-json": b"name=site&link=https://example.com/",
    "truncated": raw()[:-1],
    "trailing-garbage": raw() + b"x",
    "array": b"[" + raw() + b"]",
    "string": b'"site"',
    "null": b"null",
    "number": b"1",
    "invalid-utf8-name": raw(name=b'"si\xffte"'),
    "invalid-utf8-description": raw(extra=b',"description":"\xc3\x28"'),
    "invalid-utf8-link": raw(link=b'"https://example.com/\xe2\x82"'),
    "invalid-utf8-keyword": raw(extra=b',"keyword":"\xed\xa0\x80"'),
    "overlong-utf8-name": raw(name=b'"\xc0\xafsite"'),
    "lone-surrogate-name": raw(name=b'"site\\ud800"'),
    "nul-in-name": raw(name=b'"si\\u0000te"'),
}


@pytest.fixture(scope="module")
def shared_user():
    return make_user()


@pytest.fixture
def tidy_user(shared_user, db):
    """One account for this module's many table-driven cases (registering
    costs an Argon2 hash each), emptied of projects before and after each
    test so every case starts from nothing."""
    db.run("DELETE FROM projects WHERE user_id = %s", (shared_user.id,))
    yield shared_user
    db.run("DELETE FROM projects WHERE user_id = %s", (shared_user.id,))


def count_projects(db, user):
    return db.value("SELECT count(*) FROM projects WHERE user_id = %s",
                    (user.id,))


def create(user, body):
    return call("POST", "/project", token=user.token, json=body)


def update(user, project_id, body):
    return call("PUT", f"/project/{project_id}", token=user.token, json=body)


def delete(user, project_id):
    return call("DELETE", f"/project/{project_id}", token=user.token)


def list_projects(user, query=""):
    return call("GET", "/project" + query, token=user.token)


def status_codes(text):
    """The set of status codes an expected_status text stands for.  The
    API may return it in a canonical form ("200-299,301" for
    " 200-299 , 301"), so tests compare meanings, not spellings."""
    codes = set()
    for item in text.split(","):
        lo, _, hi = item.strip().partition("-")
        codes.update(range(int(lo), int(hi or lo) + 1))
    return codes


def without_updated_at(project):
    return {k: v for k, v in project.items() if k != "updated_at"}


# --- POST /project ---------------------------------------------------------

def test_create_with_name_and_link_gets_the_defaults(new_user, db):
    p = create_project(new_user, name="My blog", link="https://example.com/")
    assert p["name"] == "My blog"
    assert p["link"] == "https://example.com/"
    assert p["user_id"] == new_user.id
    for key, value in PROJECT_DEFAULTS.items():
        assert p[key] == value, f"{key} is {p[key]!r}, want {value!r}"
    assert_recent(p["created_at"])
    assert parse_time(p["updated_at"]) >= parse_time(p["created_at"])
    assert db.value("SELECT user_id FROM projects WHERE id = %s",
                    (p["id"],)) == new_user.id


def test_create_with_every_field(new_user):
    body = project_body(**SETTABLE)
    p = create_project(new_user, **body)
    for key, value in body.items():
        assert p[key] == value, f"{key} is {p[key]!r}, want {value!r}"
    assert p["status"] == "PAUSED"


def test_create_stores_alerts_muted(new_user, db):
    """alerts_muted given at creation is kept (it was once accepted and
    dropped, so a project created muted still sent alert mail)."""
    p = create_project(new_user, alerts_muted=True)
    assert p["alerts_muted"] is True
    assert db.value("SELECT alerts_muted FROM projects WHERE id = %s",
                    (p["id"],)) is True


def test_status_since_is_when_the_status_last_changed(new_user, db):
    """status_since: when the project's status last changed, or its
    creation before any change (the project page's "Up since")."""
    p = create_project(new_user)
    assert p["status_since"] == p["created_at"]
    db.run("UPDATE projects SET status = 'UP', status_changed_at ="
           " '2026-01-02T03:04:05Z' WHERE id = %s", (p["id"],))
    assert get_project(new_user, p["id"])["status_since"] == \
        "2026-01-02T03:04:05Z"


def test_created_project_reads_back_the_same(new_user):
    p = create_project(new_user, description="about it", keyword="ok")
    assert get_project(new_user, p["id"]) == p


def test_each_project_gets_its_own_id(new_user):
    a = create_project(new_user, name="same name")
    b = create_project(new_user, name="same name")
    assert a["id"] != b["id"] and b["id"] > a["id"]


@pytest.mark.parametrize("case,fields", [
    ("name-1", {"name": "x"}),
    ("name-200", {"name": "n" * 200}),
    ("name-200-emoji", {"name": "\U0001F600" * 200}),
    ("name-200-cjk", {"name": "\u76e3" * 200}),
    ("name-200-combining", {"name": "e\u0301" * 100}),
    ("name-inner-spaces", {"name": "  padded  name  "}),
    ("description-empty", {"description": ""}),
    ("description-2000", {"description": "d" * 2000}),
    ("description-2000-emoji", {"description": "\U0001F680" * 2000}),
    ("description-lines", {"description": "line one\nline two\n\ttabbed\r\n"}),
    ("link-http", {"link": "http://example.com"}),
    ("link-2048", {"link": LINK_2048}),
    ("link-upper-scheme", {"link": "HTTPS://Example.COM/Path?q=1&r=2#frag"}),
    ("link-mixed-scheme", {"link": "hTTp://example.com:8080/"}),
    ("link-port-query", {"link": "https://example.com:8443/a/b?x=1&y=%20"}),
    ("link-ipv4", {"link": "http://192.0.2.1/"}),
    ("link-ipv6", {"link": "http://[2001:db8::1]:8080/status"}),
    ("interval-min", {"interval_seconds": MIN, "timeout_ms": 100}),
    ("interval-day", {"interval_seconds": 86400}),
    ("timeout-100", {"timeout_ms": 100}),
    ("timeout-120000", {"timeout_ms": 120000, "interval_seconds": 86400}),
    ("timeout-just-below-interval", {"interval_seconds": 120,
                                     "timeout_ms": 119999}),
    ("expected-single", {"expected_status": "200"}),
    ("expected-mixed", {"expected_status": "200-299,301"}),
    ("expected-spaces", {"expected_status": " 200-299 , 301 ,302"}),
    ("expected-bounds", {"expected_status": "100-599"}),
    ("expected-one-code-range", {"expected_status": "404-404"}),
    ("expected-16-items", {"expected_status": ",".join(
        str(c) for c in range(200, 216))}),
    ("keyword-1024-bytes", {"keyword": "k" * 1024}),
    ("keyword-1024-utf8-bytes", {"keyword": "\u00e9" * 512}),
    ("keyword-null", {"keyword": None}),
    ("thresholds-1", {"failure_threshold": 1, "recovery_threshold": 1}),
    ("thresholds-10", {"failure_threshold": 10, "recovery_threshold": 10}),
    ("paused-false", {"paused": False}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_create_accepts_edge_values(tidy_user, case, fields):
    p = create_project(tidy_user, **fields)
    for key, value in fields.items():
        if key == "expected_status":
            assert status_codes(p[key]) == status_codes(value), p[key]
        else:
            assert p[key] == value, f"{key} is {p[key]!r}, want {value!r}"
    assert get_project(tidy_user, p["id"]) == p


def test_empty_keyword_means_none(tidy_user):
    p = create_project(tidy_user, keyword="")
    assert p["keyword"] is None
    assert get_project(tidy_user, p["id"])["keyword"] is None


@pytest.mark.parametrize("text", [
    'say "hello"',
    "back\\slash \\n \\u0041",
    "'; DROP TABLE projects; --",
    "Robert'); DELETE FROM users WHERE ('1'='1",
    "\U0001F525\U0001F680 fire and rocket \u2764\ufe0f",
    "\u0645\u0648\u0642\u0639\u064a "
    "\u0627\u0644\u0631\u0626\u064a\u0633\u064a",
    "\u05d4\u05d0\u05ea\u05e8 \u05e9\u05dc\u05d9",
    "abc \u202edcba\u202c mixed",
    "<script>alert('x')</script>",
    "%s %n %d {0} ${x} $1",
    "tab\there",
], ids=["quotes", "backslashes", "sql", "sql-2", "emoji", "arabic", "hebrew",
        "rtl-override", "script", "format", "tab"])
def test_text_is_stored_byte_for_byte(tidy_user, db, text):
    p = create_project(tidy_user, name=text, description=text, keyword=text)
    for key in ("name", "description", "keyword"):
        assert p[key] == text
    again = get_project(tidy_user, p["id"])
    assert (again["name"], again["description"], again["keyword"]) == \
        (text, text, text)
    row = db.one("SELECT name, description, keyword FROM projects "
                 "WHERE id = %s", (p["id"],))
    assert row == (text, text, text)
    assert db.value("SELECT to_regclass('projects')") is not None


@pytest.mark.parametrize("case,fields,field", BAD_FIELDS,
                         ids=[c[0] for c in BAD_FIELDS])
def test_create_with_a_bad_field_is_400(tidy_user, db, case, fields, field):
    message = expect_error(create(tidy_user, project_body(**fields)), 400)
    assert field in message, f"{message!r} does not name {field}"
    assert count_projects(db, tidy_user) == 0


NULLABLE_CASES = [("name", None), ("link", None), ("description", None),
                  ("interval_seconds", 600), ("timeout_ms", 5000),
                  ("expected_status", "200"), ("failure_threshold", 3),
                  ("recovery_threshold", 3), ("paused", True)]


@pytest.mark.parametrize("field,value", NULLABLE_CASES,
                         ids=[c[0] for c in NULLABLE_CASES])
def test_null_for_a_field_that_cannot_be_null(tidy_user, db, field, value):
    """The contract does not say whether null is a wrong type (400 naming
    the field) or the same as leaving the field out; either is fine, but
    nothing else is: no 5xx, no null stored, no default lost."""
    if value is None:                   # name, link, description: create
        r = create(tidy_user, project_body(**{field: None}))
        if field in ("name", "link"):
            assert field in expect_error(r, 400)
            assert count_projects(db, tidy_user) == 0
            return
    else:
        before = create_project(tidy_user, **{field: value})
        r = update(tidy_user, before["id"], {field: None})
    if r.status_code == 400:
        assert field in expect_error(r, 400)
        return
    p = assert_project_shape(expect_json(r, 201 if value is None else 200))
    if value is None:
        assert p[field] == ""           # description left out: the default
    else:
        assert p[field] == before[field], f"{field} became {p[field]!r}"


@pytest.mark.parametrize("missing", ["name", "link"])
def test_create_without_a_required_field_is_400(tidy_user, db, missing):
    body = project_body()
    del body[missing]
    assert missing in expect_error(create(tidy_user, body), 400)
    assert count_projects(db, tidy_user) == 0


@pytest.mark.parametrize("interval,over", [(60, 0), (60, 1), (60, 10000),
                                           (120, 0)])
def test_create_with_timeout_not_below_interval_is_400(tidy_user, db, interval,
                                                       over):
    interval = max(interval, MIN)
    timeout = interval * 1000 + over
    if timeout > 120000:
        pytest.skip("the minimum interval leaves no room for this case")
    body = project_body(interval_seconds=interval, timeout_ms=timeout)
    message = expect_error(create(tidy_user, body), 400)
    assert "timeout_ms" in message or "interval_seconds" in message, message
    assert count_projects(db, tidy_user) == 0


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_create_with_a_malformed_body_is_400(tidy_user, db, case):
    expect_error(post_raw("/project", BAD_BODIES[case], token=tidy_user.token),
                 400)
    assert count_projects(db, tidy_user) == 0


def test_create_with_a_body_over_64_kib_is_413(new_user, db):
    r = create(new_user, project_body(description="d" * 70000))
    expect_error(r, 413)
    assert count_projects(db, new_user) == 0


def test_unknown_fields_are_ignored(new_user):
    p = create_project(new_user, colour="blue", tags=["a", "b"],
                       nested={"deep": [1, {"x": None}]}, n=1.5e300)
    assert not {"colour", "tags", "nested", "n"} & set(p)


def test_read_only_fields_cannot_be_set(new_user, other_user, db):
    """id, owner, state and times belong to the server: a client sending
    them is either refused or ignored, never obeyed."""
    body = project_body(id=999999999, user_id=other_user.id, status="UP",
                        last_status_code=200, last_latency_ms=5,
                        last_checked_at="2020-01-01T00:00:00Z",
                        last_error="none", created_at="2020-01-01T00:00:00Z",
                        updated_at="2020-01-01T00:00:00Z")
    r = create(new_user, body)
    if r.status_code == 400:
        expect_error(r, 400)
        assert count_projects(db, new_user) == 0
        return
    p = assert_project_shape(expect_json(r, 201))
    assert p["id"] != 999999999
    assert p["user_id"] == new_user.id
    assert p["status"] == "PENDING"
    assert p["last_status_code"] is None and p["last_checked_at"] is None
    assert p["last_error"] is None and p["last_latency_ms"] is None
    assert_recent(p["created_at"])
    assert count_projects(db, other_user) == 0


# --- the per-user limit ----------------------------------------------------

def test_project_limit(new_user, db):
    limit = max_projects()
    made = [create_project(new_user) for _ in range(limit)]

    message = expect_error(create(new_user, project_body()), 403)
    assert "limit" in message.lower() or str(limit) in message, message
    assert count_projects(db, new_user) == limit

    assert delete(new_user, made[0]["id"]).status_code == 200
    create_project(new_user)
    assert count_projects(db, new_user) == limit
    expect_error(create(new_user, project_body()), 403)


# --- GET /project ----------------------------------------------------------

def test_list_is_empty_array_when_no_projects(new_user):
    r = list_projects(new_user)
    assert expect_json(r, 200) == []
    assert r.headers.get("X-Total-Count") == "0"


def test_list_returns_every_project_in_id_order(new_user):
    made = [create_project(new_user, name=f"site {i}") for i in range(3)]
    r = list_projects(new_user)
    body = expect_json(r, 200)
    assert isinstance(body, list)
    for p in body:
        assert_project_shape(p)
    assert [p["id"] for p in body] == sorted(p["id"] for p in made)
    assert body == sorted(made, key=lambda p: p["id"])
    assert r.headers.get("X-Total-Count") == "3"


def test_list_pagination(new_user):
    n = min(4, max_projects())
    ids = [create_project(new_user)["id"] for _ in range(n)]

    def page(query):
        r = list_projects(new_user, query)
        body = expect_json(r, 200)
        assert r.headers.get("X-Total-Count") == str(n), query
        return [p["id"] for p in body]

    assert page("?limit=2") == ids[:2]
    assert page("?limit=2&offset=2") == ids[2:4]
    assert page("?offset=1") == ids[1:]
    assert page("?limit=1&offset=1") == ids[1:2]
    assert page(f"?offset={n}") == []
    assert page("?offset=1000000") == []
    assert page("?limit=1000") == ids
    assert page("?limit=1&offset=0") == ids[:1]


@pytest.mark.parametrize("query", [
    "?limit=0", "?limit=-1", "?limit=1001", "?limit=abc", "?limit=",
    "?limit=1.5", "?limit=1e2", "?limit=99999999999999999999",
    "?offset=-1", "?offset=abc", "?offset=1.5",
])
def test_list_with_bad_pagination_is_400(tidy_user, query):
    create_project(tidy_user)
    expect_error(list_projects(tidy_user, query), 400)


# --- GET /project/{id} -----------------------------------------------------

def test_get_returns_one_object(new_user):
    p = create_project(new_user)
    body = expect_json(call("GET", f"/project/{p['id']}",
                            token=new_user.token), 200)
    assert isinstance(body, dict)
    assert body == p


def test_get_missing_project_is_404(new_user):
    expect_error(call("GET", "/project/9223372036854775807",
                      token=new_user.token), 404)


BAD_IDS = ["0", "-1", "+5", "1e3", "abc", "0x10", "1.0", "9223372036854775808",
           "12345678901234567890", "1%2F2", "%20", "1;2"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_id_that_is_not_a_positive_integer_is_404(tidy_user, method, bad_id):
    kwargs = {"json": {"name": "x"}} if method == "PUT" else {}
    r = call(method, f"/project/{bad_id}", token=tidy_user.token, **kwargs)
    expect_error(r, 404)


def test_bad_ids_do_not_reach_a_real_project(new_user):
    """Whatever "+5" or "%35" might parse to, it is not project 5."""
    p = create_project(new_user)
    pid = p["id"]
    for path in (f"/project/+{pid}", f"/project/{pid}e0", f"/project/{pid}.0",
                 f"/project/0{pid}x", f"/project/{pid}abc"):
        expect_error(call("DELETE", path, token=new_user.token), 404)
    assert get_project(new_user, pid) == p


# --- PUT /project/{id} -----------------------------------------------------

@pytest.mark.parametrize("field", list(SETTABLE))
def test_update_one_field_changes_only_that_field(tidy_user, field):
    before = create_project(tidy_user, description="original")
    change = {field: SETTABLE[field]}
    after = assert_project_shape(expect_json(
        update(tidy_user, before["id"], change), 200))

    want = dict(before, **change)
    if field == "paused":
        want["status"] = "PAUSED"
    assert without_updated_at(after) == without_updated_at(want)
    assert parse_time(after["updated_at"]) >= parse_time(before["updated_at"])
    assert get_project(tidy_user, before["id"]) == after


def test_update_every_field_at_once(new_user):
    before = create_project(new_user)
    after = expect_json(update(new_user, before["id"], SETTABLE), 200)
    for key, value in SETTABLE.items():
        assert after[key] == value, key
    for key in ("id", "user_id", "created_at"):
        assert after[key] == before[key], key
    assert get_project(new_user, before["id"]) == after


def test_update_link(new_user, db):
    p = create_project(new_user, link="https://old.example.com/")
    after = expect_json(update(new_user, p["id"],
                               {"link": "http://new.example.net:81/x"}), 200)
    assert after["link"] == "http://new.example.net:81/x"
    assert db.value("SELECT link FROM projects WHERE id = %s",
                    (p["id"],)) == "http://new.example.net:81/x"


def test_update_with_empty_object_changes_nothing(new_user):
    p = create_project(new_user, keyword="ok", expected_status="200")
    after = assert_project_shape(expect_json(update(new_user, p["id"], {}),
                                             200))
    assert without_updated_at(after) == without_updated_at(p)
    assert get_project(new_user, p["id"])["name"] == p["name"]


def test_update_moves_updated_at_forward(new_user, db):
    p = create_project(new_user)
    db.run("UPDATE projects SET updated_at = now() - interval '1 hour' "
           "WHERE id = %s", (p["id"],))
    old = get_project(new_user, p["id"])["updated_at"]
    after = expect_json(update(new_user, p["id"], {"name": "fresh"}), 200)
    assert parse_time(after["updated_at"]) > parse_time(old)
    assert_recent(after["updated_at"])
    assert after["created_at"] == p["created_at"]


def test_update_keyword_to_null_or_empty_clears_it(new_user):
    p = create_project(new_user, keyword="needle")
    assert expect_json(update(new_user, p["id"], {"keyword": None}),
                       200)["keyword"] is None
    update(new_user, p["id"], {"keyword": "needle"})
    assert expect_json(update(new_user, p["id"], {"keyword": ""}),
                       200)["keyword"] is None
    assert get_project(new_user, p["id"])["keyword"] is None


def test_pausing_shows_paused_and_resuming_shows_the_stored_status(new_user,
                                                                   db):
    p = create_project(new_user)
    set_project_state(db, p["id"], "UP", code=200, latency_ms=42)

    paused = expect_json(update(new_user, p["id"], {"paused": True}), 200)
    assert (paused["paused"], paused["status"]) == (True, "PAUSED")
    assert get_project(new_user, p["id"])["status"] == "PAUSED"

    resumed = expect_json(update(new_user, p["id"], {"paused": False}), 200)
    assert (resumed["paused"], resumed["status"]) == (False, "UP")
    assert resumed["last_status_code"] == 200
    assert resumed["last_latency_ms"] == 42


@pytest.mark.parametrize("case,fields,field", BAD_FIELDS,
                         ids=[c[0] for c in BAD_FIELDS])
def test_update_with_a_bad_field_is_400_and_changes_nothing(tidy_user, case,
                                                            fields, field):
    p = create_project(tidy_user)
    message = expect_error(update(tidy_user, p["id"], fields), 400)
    assert field in message, f"{message!r} does not name {field}"
    assert get_project(tidy_user, p["id"]) == p


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_update_with_a_malformed_body_is_400(tidy_user, case):
    p = create_project(tidy_user)
    expect_error(post_raw(f"/project/{p['id']}", BAD_BODIES[case],
                          token=tidy_user.token, method="PUT"), 400)
    assert get_project(tidy_user, p["id"]) == p


def test_update_timeout_beyond_current_interval_is_400(new_user):
    p = create_project(new_user, interval_seconds=max(60, MIN),
                       timeout_ms=1000)
    timeout = max(60, MIN) * 1000 + 10000
    if timeout > 120000:
        pytest.skip("minimum interval too large for this case")
    message = expect_error(update(new_user, p["id"], {"timeout_ms": timeout}),
                           400)
    assert "timeout_ms" in message
    assert get_project(new_user, p["id"]) == p


def test_update_interval_below_current_timeout_is_400(new_user):
    interval = max(60, MIN)
    p = create_project(new_user, interval_seconds=300, timeout_ms=100000)
    if interval * 1000 > 100000:
        pytest.skip("minimum interval too large for this case")
    message = expect_error(update(new_user, p["id"],
                                  {"interval_seconds": interval}), 400)
    assert "interval_seconds" in message or "timeout_ms" in message, message
    assert get_project(new_user, p["id"]) == p


def test_update_interval_and_timeout_together(new_user):
    p = create_project(new_user, interval_seconds=300, timeout_ms=100000)
    interval = max(120, MIN)
    after = expect_json(update(new_user, p["id"], {
        "interval_seconds": interval, "timeout_ms": interval * 1000 - 1}), 200)
    assert after["interval_seconds"] == interval
    assert after["timeout_ms"] == interval * 1000 - 1


def test_update_missing_project_is_404(new_user):
    expect_error(update(new_user, 9223372036854775807, {"name": "x"}), 404)


# --- DELETE /project/{id} --------------------------------------------------

def test_delete_project(new_user, db):
    keep = create_project(new_user)
    p = create_project(new_user)
    db.run("INSERT INTO checks (project_id, scheduled_at, checked_at, ok, "
           "status_code, latency_ms) VALUES (%s, now(), now(), true, 200, 9)",
           (p["id"],))
    db.run("INSERT INTO check_hours (project_id, hour, checks, up, "
           "latency_sum, latency_max) VALUES "
           "(%s, date_trunc('hour', now()), 1, 1, 9, 9)", (p["id"],))

    body = expect_json(delete(new_user, p["id"]), 200)
    assert isinstance(body.get("message"), str) and body["message"]

    expect_error(call("GET", f"/project/{p['id']}", token=new_user.token), 404)
    expect_error(update(new_user, p["id"], {"name": "back"}), 404)
    expect_error(delete(new_user, p["id"]), 404)
    listed = expect_json(list_projects(new_user), 200)
    assert [q["id"] for q in listed] == [keep["id"]]

    for table, column in (("projects", "id"), ("checks", "project_id"),
                          ("check_hours", "project_id")):
        assert db.value(f"SELECT count(*) FROM {table} WHERE {column} = %s",
                        (p["id"],)) == 0, table
    assert get_project(new_user, keep["id"]) == keep


def test_delete_missing_project_is_404(new_user):
    expect_error(delete(new_user, 9223372036854775807), 404)


# --- authentication and methods --------------------------------------------

ROUTES = [
    ("GET", "/project"), ("POST", "/project"), ("GET", "/project/1"),
    ("PUT", "/project/1"), ("DELETE", "/project/1"),
    ("POST", "/project/1/check"), ("GET", "/project/1/checks"),
    ("GET", "/project/1/uptime"), ("GET", "/project/dashboard"),
    ("GET", "/project/status"), ("GET", "/project/1/incidents"),
    ("GET", "/project/1/series?range=24h"),
]


@pytest.mark.parametrize("method,path", ROUTES)
def test_project_routes_need_a_token(method, path):
    expect_unauthorized(call(method, path, json=project_body()))


@pytest.mark.parametrize("method,path", ROUTES)
def test_project_routes_refuse_a_bad_token(method, path):
    expect_unauthorized(call(method, path, token="not.a.token",
                             json=project_body()))


def test_unauthenticated_create_creates_nothing(db):
    name = project_body()["name"]
    call("POST", "/project", json=project_body(name=name))
    assert db.value("SELECT count(*) FROM projects WHERE name = %s",
                    (name,)) == 0


@pytest.mark.parametrize("method,path,allowed", [
    ("DELETE", "/project", {"get", "post"}),
    ("PUT", "/project", {"get", "post"}),
    ("POST", "/project/1", {"get", "put", "delete"}),
    ("GET", "/project/1/check", {"post"}),
    ("POST", "/project/dashboard", {"get"}),
])
def test_wrong_method_on_project_routes_is_405(tidy_user, method, path,
                                               allowed):
    r = call(method, path, token=tidy_user.token, json={})
    expect_error(r, 405)
    got = {m.strip().lower() for m in r.headers.get("Allow", "").split(",")}
    assert allowed <= got, r.headers.get("Allow")
