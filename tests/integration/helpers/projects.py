"""Projects: the shape the API answers with (DESIGN §2), creating them
over HTTP, and inserting or setting them in SQL for tests that need a
state the API would take time to reach."""

import os
import uuid

from helpers.http import call, expect_json, parse_time


# Every project response carries these keys (DESIGN §2).
PROJECT_KEYS = frozenset({
    "id", "name", "description", "link", "user_id", "created_at",
    "updated_at", "interval_seconds", "timeout_ms", "expected_status",
    "keyword", "failure_threshold", "recovery_threshold", "paused", "status",
    "last_status_code", "last_latency_ms", "last_checked_at", "last_error",
    "alerts_muted", "status_since",
})


# What a project created with only a name and a link holds.
PROJECT_DEFAULTS = {
    "description": "", "interval_seconds": 300, "timeout_ms": 10000,
    "expected_status": "200-399", "keyword": None, "failure_threshold": 2,
    "recovery_threshold": 1, "paused": False, "alerts_muted": False,
    "status": "PENDING", "last_status_code": None, "last_latency_ms": None,
    "last_checked_at": None, "last_error": None,
}


PROJECT_STATUSES = ("PENDING", "UP", "DOWN", "PAUSED")


# TEST-NET-1 (RFC 5737): routable-looking, but nothing ever answers.
UNREACHABLE_LINK = "http://192.0.2.1/"


def max_projects():
    """MAX_PROJECTS_PER_USER of the stack under test (./dev test runs the
    API with 5; TRACKLY_MAX_PROJECTS says otherwise)."""
    return int(os.environ.get("TRACKLY_MAX_PROJECTS", "5"))


def min_interval():
    """MONITOR_MIN_INTERVAL of the stack under test (default 60 s)."""
    return int(os.environ.get("TRACKLY_MONITOR_MIN_INTERVAL", "60"))


def project_body(**fields):
    """A valid POST /project body (random name, example.com link) with
    fields added or replaced."""
    body = {"name": "site " + uuid.uuid4().hex[:8],
            "link": "https://example.com/"}
    body.update(fields)
    return body


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def assert_project_shape(project):
    """Asserts project is a project object: every key, of the right type,
    and status PAUSED exactly when paused."""
    assert isinstance(project, dict), f"not an object: {project!r}"
    missing = PROJECT_KEYS - set(project)
    assert not missing, f"project lacks {sorted(missing)}: {project!r}"
    assert "mute_token_hash" not in project
    for key in ("id", "user_id", "interval_seconds", "timeout_ms",
                "failure_threshold", "recovery_threshold"):
        assert _is_int(project[key]), f"{key} is {project[key]!r}"
    for key in ("name", "description", "link", "expected_status"):
        assert isinstance(project[key], str), f"{key} is {project[key]!r}"
    for key in ("keyword", "last_error"):
        assert project[key] is None or isinstance(project[key], str), \
            f"{key} is {project[key]!r}"
    for key in ("last_status_code", "last_latency_ms"):
        assert project[key] is None or _is_int(project[key]), \
            f"{key} is {project[key]!r}"
    assert isinstance(project["paused"], bool), project["paused"]
    assert project["status"] in PROJECT_STATUSES, project["status"]
    assert (project["status"] == "PAUSED") == project["paused"], \
        f"status {project['status']} with paused {project['paused']}"
    parse_time(project["created_at"])
    parse_time(project["updated_at"])
    parse_time(project["status_since"])
    assert isinstance(project["alerts_muted"], bool), project["alerts_muted"]
    if project["last_checked_at"] is not None:
        parse_time(project["last_checked_at"])
    return project


def create_project(user, **fields):
    """Creates a project for user (see project_body); returns it, failing
    the test on anything but a well-formed 201."""
    r = call("POST", "/project", token=user.token, json=project_body(**fields))
    return assert_project_shape(expect_json(r, 201))


def get_project(user, project_id):
    """The project as its owner sees it, failing on anything but 200."""
    r = call("GET", f"/project/{project_id}", token=user.token)
    return assert_project_shape(expect_json(r, 200))


def set_project_state(db, project_id, status, *, code=None, latency_ms=None,
                      checked_ago=0, error=None):
    """Writes a monitor result straight into the projects row, as if the
    monitor had checked it checked_ago seconds ago (None: never), and moves
    its next check a day away so a running monitor leaves it be."""
    db.run("UPDATE projects SET status = %s, last_status_code = %s, "
           "last_latency_ms = %s, last_error = %s, last_checked_at = "
           "CASE WHEN %s::float8 IS NULL THEN NULL ELSE date_trunc('second', "
           "now() - make_interval(secs => %s::float8)) END, "
           "next_check_at = now() + interval '1 day' WHERE id = %s",
           (status, code, latency_ms, error, checked_ago, checked_ago,
            project_id))


def insert_project(db, user, link, *, name=None, interval=1, timeout_ms=500,
                   failure_threshold=1, recovery_threshold=1,
                   expected_status="200-399", keyword=None, paused=False,
                   due_in=0.0, notify=True):
    """Inserts a project straight into SQL (the API's 60 s minimum interval
    does not apply), due due_in seconds from now; NOTIFYs trackly_wakeup
    as the API would.  Returns its id."""
    name = name if name is not None else "site " + uuid.uuid4().hex[:8]
    pid = db.value(
        "INSERT INTO projects (user_id, name, link, interval_seconds, "
        "timeout_ms, expected_status, keyword, failure_threshold, "
        "recovery_threshold, paused, next_check_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
        "now() + make_interval(secs => %s)) RETURNING id",
        (user if isinstance(user, int) else user.id, name, link, interval,
         timeout_ms, expected_status, keyword, failure_threshold,
         recovery_threshold, paused, due_in))
    if notify:
        db.run("NOTIFY trackly_wakeup")
    return pid


def bad_counts(name, *also):
    """Query strings giving the parameter name a value that is no count
    (negative, not a number, empty, a fraction, past 64 bits), plus the
    values also (the route's own bounds), for parametrised 400 tests."""
    values = (*also, "-1", "abc", "", "2.5", "99999999999999999999")
    return [f"?{name}={v}" for v in values]
