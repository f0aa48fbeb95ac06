"""One user's projects are invisible and untouchable to everyone else: a
stranger's request for them is answered exactly as for a project that does
not exist, and leaves them as they were.  Also: the project limit counts per
user, and deleting an account deletes everything it owned."""

import pytest

from helpers.http import call, expect_error, expect_json
from helpers.projects import (
    assert_project_shape, create_project, get_project, max_projects,
    project_body, set_project_state,
)

MISSING_ID = 9223372036854775807

# Requests a stranger might try on a project id: (method, path suffix, body).
ATTEMPTS = [
    ("GET", "", None),
    ("PUT", "", {"name": "hijacked", "link": "https://evil.example/"}),
    ("PUT", "", {"paused": True}),
    ("PUT", "", {}),
    ("PUT", "", {"name": ""}),                  # invalid as well as foreign
    ("DELETE", "", None),
    ("POST", "/check", None),
    ("GET", "/checks", None),
    ("GET", "/checks?limit=5", None),
    ("GET", "/uptime", None),
    ("GET", "/incidents", None),
    ("GET", "/incidents?limit=5&offset=0", None),
    ("GET", "/series?range=24h", None),
    ("GET", "/series?range=7d", None),
    ("GET", "/series?range=30d", None),
]
ATTEMPT_IDS = [f"{m}{suffix or ''}{'-' + str(i) if m == 'PUT' else ''}"
               for i, (m, suffix, _) in enumerate(ATTEMPTS)]


def attempt(user, project_id, method, suffix, body):
    kwargs = {} if body is None else {"json": body}
    return call(method, f"/project/{project_id}{suffix}", token=user.token,
                **kwargs)


def project_row(db, project_id):
    return db.one("SELECT user_id, name, description, link, paused, "
                  "interval_seconds, status, next_check_at, updated_at "
                  "FROM projects WHERE id = %s", (project_id,))


def add_history(db, project_id):
    db.run("INSERT INTO checks (project_id, scheduled_at, checked_at, ok, "
           "status_code, latency_ms, error) VALUES "
           "(%s, now() - interval '2 minutes', now() - interval '2 minutes', "
           "true, 200, 30, NULL), "
           "(%s, now() - interval '1 minute', now() - interval '1 minute', "
           "false, 503, 12, 'status 503')", (project_id, project_id))
    db.run("INSERT INTO check_hours (project_id, hour, checks, up, "
           "latency_sum, latency_max) VALUES "
           "(%s, date_trunc('hour', now()), 2, 1, 42, 30)", (project_id,))
    db.run("INSERT INTO incidents (project_id, started_at, reason) VALUES "
           "(%s, now() - interval '1 minute', 'status 503')", (project_id,))


@pytest.fixture
def owned(new_user, db):
    """new_user's project, with some history and a stored result."""
    p = create_project(new_user, name="mine", description="private notes",
                       keyword="secret")
    add_history(db, p["id"])
    set_project_state(db, p["id"], "DOWN", code=503, latency_ms=12,
                      error="status 503")
    return get_project(new_user, p["id"])


@pytest.mark.parametrize("method,suffix,body", ATTEMPTS, ids=ATTEMPT_IDS)
def test_strangers_get_404_exactly_as_for_a_missing_project(
        new_user, other_user, owned, db, method, suffix, body):
    before_row = project_row(db, owned["id"])

    theirs = attempt(other_user, owned["id"], method, suffix, body)
    missing = attempt(other_user, MISSING_ID, method, suffix, body)

    assert theirs.status_code == missing.status_code, \
        f"{theirs.status_code} for another's project, " \
        f"{missing.status_code} for a missing one"
    if body != {"name": ""}:
        expect_error(theirs, 404)
    else:
        expect_error(theirs, theirs.status_code)  # 400 or 404, as for missing
    assert theirs.json() == missing.json()
    assert theirs.content == missing.content

    assert get_project(new_user, owned["id"]) == owned
    assert project_row(db, owned["id"]) == before_row
    assert db.value("SELECT count(*) FROM checks WHERE project_id = %s",
                    (owned["id"],)) == 2


def test_strangers_cannot_check_a_paused_project_either(new_user, other_user,
                                                        db):
    """409 would tell them the project exists (and is paused)."""
    p = create_project(new_user, paused=True)
    expect_error(call("POST", f"/project/{p['id']}/check",
                      token=other_user.token), 404)
    assert get_project(new_user, p["id"]) == p


def test_stranger_attempts_leave_the_project_working_for_its_owner(
        new_user, other_user, owned):
    for method, suffix, body in ATTEMPTS:
        attempt(other_user, owned["id"], method, suffix, body)
    assert get_project(new_user, owned["id"]) == owned
    checks = expect_json(call("GET", f"/project/{owned['id']}/checks",
                              token=new_user.token), 200)
    assert len(checks) == 2
    uptime = expect_json(call("GET", f"/project/{owned['id']}/uptime",
                              token=new_user.token), 200)
    assert uptime["windows"]["24h"]["checks"] == 2
    incidents = expect_json(call("GET", f"/project/{owned['id']}/incidents",
                                 token=new_user.token), 200)
    assert [i["cause"] for i in incidents] == ["status 503"]
    series = expect_json(call("GET",
                              f"/project/{owned['id']}/series?range=24h",
                              token=new_user.token), 200)
    assert sum(point["checks"] for point in series["points"]) == 2


def test_lists_show_only_your_own_projects(new_user, other_user, owned, db):
    mine = create_project(other_user, name="theirs")
    set_project_state(db, mine["id"], "UP", code=200, latency_ms=5)

    listed = call("GET", "/project", token=other_user.token)
    body = expect_json(listed, 200)
    assert [p["id"] for p in body] == [mine["id"]]
    assert listed.headers.get("X-Total-Count") == "1"
    for p in body:
        assert_project_shape(p)
        assert p["user_id"] == other_user.id

    dashboard = expect_json(call("GET", "/project/dashboard",
                                 token=other_user.token), 200)
    assert dashboard["total_projects"] == 1
    assert dashboard["latest_projects"] == "theirs"
    assert (dashboard["up"], dashboard["down"], dashboard["pending"],
            dashboard["paused"]) == (1, 0, 0, 0)

    status = expect_json(call("GET", "/project/status",
                              token=other_user.token), 200)
    assert [entry["id"] for entry in status] == [mine["id"]]

    # And the other way round.
    own = expect_json(call("GET", "/project", token=new_user.token), 200)
    assert [p["id"] for p in own] == [owned["id"]]
    own_status = expect_json(call("GET", "/project/status",
                                  token=new_user.token), 200)
    assert [entry["id"] for entry in own_status] == [owned["id"]]


def test_a_new_user_sees_nothing(new_user, other_user, owned):
    r = call("GET", "/project", token=other_user.token)
    assert expect_json(r, 200) == []
    assert r.headers.get("X-Total-Count") == "0"
    assert expect_json(call("GET", "/project/status",
                            token=other_user.token), 200) == []
    dashboard = expect_json(call("GET", "/project/dashboard",
                                 token=other_user.token), 200)
    assert dashboard["total_projects"] == 0
    assert dashboard["latest_projects"] == ""


def test_created_project_belongs_to_the_token_holder(new_user, other_user,
                                                     db):
    p = create_project(other_user, user_id=new_user.id)
    assert p["user_id"] == other_user.id
    assert db.value("SELECT user_id FROM projects WHERE id = %s",
                    (p["id"],)) == other_user.id
    assert expect_json(call("GET", "/project", token=new_user.token),
                       200) == []


def test_project_limit_is_per_user(new_user, other_user):
    for _ in range(max_projects()):
        create_project(new_user)
    expect_error(call("POST", "/project", token=new_user.token,
                      json=project_body()), 403)
    create_project(other_user)


def test_deleting_the_account_deletes_its_projects(new_user, other_user, db):
    mine = [create_project(new_user) for _ in range(2)]
    for p in mine:
        add_history(db, p["id"])
    theirs = create_project(other_user)
    add_history(db, theirs["id"])
    ids = [p["id"] for p in mine]

    r = call("DELETE", "/user", token=new_user.token,
             json={"password": new_user.password})
    assert r.status_code == 204, r.text

    assert db.value("SELECT count(*) FROM projects WHERE user_id = %s",
                    (new_user.id,)) == 0
    for table, column in (("projects", "id"), ("checks", "project_id"),
                          ("check_hours", "project_id")):
        assert db.value(f"SELECT count(*) FROM {table} "
                        f"WHERE {column} = ANY(%s)", (ids,)) == 0, table

    assert get_project(other_user, theirs["id"])["id"] == theirs["id"]
    assert db.value("SELECT count(*) FROM checks WHERE project_id = %s",
                    (theirs["id"],)) == 2
