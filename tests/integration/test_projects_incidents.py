"""GET /project/{id}/incidents: a project's down periods, newest first, paged
with limit (1-100, default 20) and offset (0-100000), the total in
X-Total-Count.  The tests write incidents rows themselves, as the monitor
would, so every answer can be computed here."""

import time

import pytest

from helpers.http import call, expect_error, expect_json, parse_time
from helpers.projects import bad_counts, create_project

INCIDENT_KEYS = {"id", "started_at", "resolved_at", "duration_seconds",
                 "cause"}


def incidents(user, project_id, query=""):
    return call("GET", f"/project/{project_id}/incidents{query}",
                token=user.token)


def insert_incident(db, project_id, started_ago, resolved_ago=None,
                    reason="timeout"):
    """An incident that started started_ago seconds ago (whole seconds) and
    ended resolved_ago seconds ago (None: still open); returns its id."""
    return db.value(
        "INSERT INTO incidents (project_id, started_at, resolved_at, reason) "
        "VALUES (%s, date_trunc('second', now()) - make_interval(secs => %s),"
        " date_trunc('second', now()) - make_interval(secs => %s), %s) "
        "RETURNING id", (project_id, started_ago, resolved_ago, reason))


def test_a_project_without_incidents(new_user):
    p = create_project(new_user)
    r = incidents(new_user, p["id"])
    assert expect_json(r, 200) == []
    assert r.headers["X-Total-Count"] == "0"


def test_incidents_newest_first_with_every_field(new_user, db):
    p = create_project(new_user)
    old = insert_incident(db, p["id"], 7200, 3600, "status 503")
    mid = insert_incident(db, p["id"], 1800, 1795, "connection refused")
    now = insert_incident(db, p["id"], 90, None, "keyword not found")

    r = incidents(new_user, p["id"])
    body = expect_json(r, 200)
    assert r.headers["X-Total-Count"] == "3"
    assert [i["id"] for i in body] == [now, mid, old]
    for entry in body:
        assert set(entry) == INCIDENT_KEYS, entry
        assert isinstance(entry["duration_seconds"], int)

    opened, resolved, brief = body
    assert opened["resolved_at"] is None
    assert opened["cause"] == "keyword not found"
    # Up to now while open.
    assert 88 <= opened["duration_seconds"] <= 150, opened
    assert abs(time.time() - 90 - parse_time(opened["started_at"])
               .timestamp()) < 60

    assert resolved["cause"] == "connection refused"
    assert resolved["duration_seconds"] == 5
    assert (parse_time(resolved["resolved_at"]) -
            parse_time(resolved["started_at"])).total_seconds() == 5
    assert brief["duration_seconds"] == 3600
    assert brief["cause"] == "status 503"


def test_incidents_are_paged(new_user, db):
    p = create_project(new_user)
    ids = [insert_incident(db, p["id"], 100000 - n * 1000, 99999 - n * 1000)
           for n in range(25)]
    newest_first = list(reversed(ids))

    r = incidents(new_user, p["id"])
    assert [i["id"] for i in expect_json(r, 200)] == newest_first[:20]
    assert r.headers["X-Total-Count"] == "25"
    r = incidents(new_user, p["id"], "?limit=5&offset=20")
    assert [i["id"] for i in expect_json(r, 200)] == newest_first[20:]
    r = incidents(new_user, p["id"], "?limit=100")
    assert [i["id"] for i in expect_json(r, 200)] == newest_first
    r = incidents(new_user, p["id"], "?limit=1&offset=3")
    assert [i["id"] for i in expect_json(r, 200)] == [newest_first[3]]
    r = incidents(new_user, p["id"], "?offset=100000")
    assert expect_json(r, 200) == [] and r.headers["X-Total-Count"] == "25"


def test_incidents_that_started_in_the_same_second(new_user, db):
    p = create_project(new_user)
    first = insert_incident(db, p["id"], 600, 500)
    second = insert_incident(db, p["id"], 600, 400)
    body = expect_json(incidents(new_user, p["id"]), 200)
    assert [i["id"] for i in body] == [second, first]


def test_incidents_belong_to_their_project(new_user, db):
    a = create_project(new_user)
    b = create_project(new_user)
    mine = insert_incident(db, a["id"], 300, 200)
    insert_incident(db, b["id"], 100, None)
    r = incidents(new_user, a["id"])
    assert [i["id"] for i in expect_json(r, 200)] == [mine]
    assert r.headers["X-Total-Count"] == "1"


def test_the_cause_comes_back_verbatim(new_user, db):
    p = create_project(new_user)
    cause = "status 503 \u2014 \"<b>\" \\ ';-- \U0001F525"
    insert_incident(db, p["id"], 60, None, cause)
    [entry] = expect_json(incidents(new_user, p["id"]), 200)
    assert entry["cause"] == cause


@pytest.mark.parametrize("query", bad_counts("limit", "0", "101"))
def test_a_bad_limit_is_400(new_user, query):
    p = create_project(new_user)
    assert "'limit'" in expect_error(incidents(new_user, p["id"], query), 400)


@pytest.mark.parametrize("query", [
    "?offset=-1", "?offset=100001", "?offset=x", "?offset=",
])
def test_a_bad_offset_is_400(new_user, query):
    p = create_project(new_user)
    assert "'offset'" in expect_error(incidents(new_user, p["id"], query),
                                      400)


def test_a_missing_project_is_404(new_user):
    expect_error(incidents(new_user, 9223372036854775807), 404)


def test_another_users_project_is_404(new_user, other_user, db):
    p = create_project(other_user)
    insert_incident(db, p["id"], 60, None)
    expect_error(incidents(new_user, p["id"]), 404)
    assert len(expect_json(incidents(other_user, p["id"]), 200)) == 1


def test_incidents_need_a_login(new_user):
    p = create_project(new_user)
    r = call("GET", f"/project/{p['id']}/incidents")
    expect_error(r, 401)
