"""GET /project/status, what the web client's list reads beyond the
original fields (those, and the order they come in, are pinned by
test_projects_dashboard.py and test_webclient_compat.py): paused,
alerts_muted, interval_seconds, last_error, status_since, uptime_24h, and
with ?recent=N each project's last N checks as compact arrays.
last_updated is the time of the last probe (the project's last change
before its first)."""

import json
import time

import pytest

from helpers.http import call, expect_error, expect_json, parse_time
from helpers.projects import (
    bad_counts, create_project, get_project, max_projects,
    set_project_state,
)
from test_projects_history import avoid_the_hour_boundary

OLD_KEYS = ["id", "name", "link", "status", "code", "latency_ms",
            "last_checked", "last_updated"]
NEW_KEYS = ["paused", "alerts_muted", "interval_seconds", "last_error",
            "status_since", "uptime_24h"]


def status(user, query=""):
    r = call("GET", f"/project/status{query}", token=user.token)
    body = expect_json(r, 200)
    assert isinstance(body, list), body
    return body


def key_order(user, query=""):
    """The keys of each entry, in the order the answer has them."""
    r = call("GET", f"/project/status{query}", token=user.token)
    entries = json.loads(r.text, object_pairs_hook=lambda pairs: pairs)
    return [[k for k, _ in entry] for entry in entries]


def insert_checks(db, project_id, rows):
    """rows: (seconds ago, ok, status_code, latency_ms, error); returns the
    epoch seconds of each check."""
    out = []
    for ago, ok, code, latency, error in rows:
        out.append(int(db.value(
            "INSERT INTO checks (project_id, scheduled_at, checked_at, ok, "
            "status_code, latency_ms, error) VALUES (%s, "
            "date_trunc('second', now()) - make_interval(secs => %s + 1), "
            "date_trunc('second', now()) - make_interval(secs => %s), "
            "%s, %s, %s, %s) RETURNING extract(epoch FROM checked_at)",
            (project_id, ago, ago, ok, code, latency, error))))
    return out


# --- the new fields ---------------------------------------------------------

def test_a_fresh_project(new_user):
    p = create_project(new_user, interval_seconds=120)
    [entry] = status(new_user)
    assert entry["paused"] is False and entry["alerts_muted"] is False
    assert entry["interval_seconds"] == 120
    assert entry["last_error"] is None
    assert entry["status_since"] == p["created_at"]
    assert entry["uptime_24h"] is None
    assert entry["last_updated"] == p["updated_at"]
    assert "recent" not in entry


def test_old_fields_come_first_in_their_order(new_user):
    create_project(new_user)
    [keys] = key_order(new_user)
    assert keys[:len(OLD_KEYS)] == OLD_KEYS
    assert set(keys) == set(OLD_KEYS + NEW_KEYS)
    [keys] = key_order(new_user, "?recent=3")
    assert keys == OLD_KEYS + NEW_KEYS + ["recent"]


def test_last_updated_is_the_last_probe(new_user, db):
    p = create_project(new_user)
    set_project_state(db, p["id"], "DOWN", code=503, latency_ms=40,
                      error="status 503", checked_ago=600)
    # A change after the probe does not move it.
    call("PUT", f"/project/{p['id']}", token=new_user.token,
         json={"description": "edited"})
    [entry] = status(new_user)
    assert entry["last_updated"] == entry["last_checked"]
    age = time.time() - parse_time(entry["last_updated"]).timestamp()
    assert 540 <= age <= 720, age
    assert entry["last_error"] == "status 503"


def test_paused_and_muted_flags(new_user):
    a = create_project(new_user, paused=True)
    b = create_project(new_user)
    r = call("PUT", f"/project/{b['id']}", token=new_user.token,
             json={"alerts_muted": True})
    expect_json(r, 200)
    by_id = {e["id"]: e for e in status(new_user)}
    assert (by_id[a["id"]]["paused"], by_id[a["id"]]["alerts_muted"],
            by_id[a["id"]]["status"]) == (True, False, "PAUSED")
    assert (by_id[b["id"]]["paused"], by_id[b["id"]]["alerts_muted"]) == \
        (False, True)


def test_status_since_is_when_the_status_changed(new_user, db):
    p = create_project(new_user)
    db.run("UPDATE projects SET status = 'DOWN', status_changed_at = "
           "date_trunc('second', now()) - interval '3 hours' WHERE id = %s",
           (p["id"],))
    [entry] = status(new_user)
    since = parse_time(entry["status_since"]).timestamp()
    assert abs(time.time() - 3 * 3600 - since) < 60


def test_uptime_24h_from_the_hourly_totals(new_user, db):
    p = create_project(new_user)
    avoid_the_hour_boundary()
    hour = db.value("SELECT date_trunc('hour', now())")
    for ago, n, up in [(0, 7, 7), (5, 12, 11), (23, 3, 1), (24, 50, 0),
                       (200, 9, 0)]:
        db.run("INSERT INTO check_hours (project_id, hour, checks, up, "
               "latency_sum, latency_max) VALUES "
               "(%s, %s - make_interval(hours => %s), %s, %s, 0, 0)",
               (p["id"], hour, ago, n, up))
    [entry] = status(new_user)
    assert entry["uptime_24h"] == pytest.approx(round(100 * 19 / 22, 2))
    assert entry["uptime_24h"] == 86.36


def test_uptime_24h_of_a_project_always_down(new_user, db):
    p = create_project(new_user)
    db.run("INSERT INTO check_hours (project_id, hour, checks, up, "
           "latency_sum, latency_max) VALUES "
           "(%s, date_trunc('hour', now()), 4, 0, 0, 0)", (p["id"],))
    [entry] = status(new_user)
    assert entry["uptime_24h"] == 0


# --- ?recent=N --------------------------------------------------------------

def decode(entry):
    """recent as (checked_at epoch, ok, code, latency, error): the times
    are seconds before last_checked."""
    base = int(parse_time(entry["last_checked"]).timestamp()) \
        if entry["last_checked"] else None
    out = []
    for c in entry["recent"]:
        assert len(c) in (4, 5), c
        assert isinstance(c[0], int) and c[1] in (0, 1), c
        out.append((base - c[0], c[1], c[2], c[3], c[4] if len(c) == 5
                    else None))
    return out


def test_recent_checks_oldest_first_as_compact_arrays(new_user, db):
    p = create_project(new_user)
    rows = [(300, True, 200, 87, None), (240, False, None, None, "timeout"),
            (180, False, 503, 41, "status 503"), (120, True, 204, 5, None),
            (60, True, 200, 12, None)]
    times = insert_checks(db, p["id"], rows)
    # The monitor sets last_checked_at with the newest check.
    db.run("UPDATE projects SET last_checked_at = to_timestamp(%s)"
           " WHERE id = %s", (times[-1], p["id"]))

    [entry] = status(new_user, "?recent=3")
    want = [(t, int(ok), code, latency, error)
            for t, (_, ok, code, latency, error) in zip(times, rows)][-3:]
    assert decode(entry) == want
    # Seconds before the last check: the newest is 0; a good check has no
    # fifth element, a failed one its error.
    assert entry["recent"] == [
        [times[-1] - times[-3], 0, 503, 41, "status 503"],
        [times[-1] - times[-2], 1, 204, 5],
        [0, 1, 200, 12]]

    [entry] = status(new_user, "?recent=100")
    assert [c[0] for c in decode(entry)] == times
    assert entry["recent"][1] == [times[-1] - times[1], 0, None, None,
                                  "timeout"]


def test_recent_of_a_project_without_checks_is_empty(new_user):
    create_project(new_user)
    [entry] = status(new_user, "?recent=30")
    assert entry["recent"] == []


def test_recent_is_per_project_and_per_user(new_user, other_user, db):
    n = min(3, max_projects())
    made = [create_project(new_user) for _ in range(n)]
    theirs = create_project(other_user)
    for i, p in enumerate(made):
        insert_checks(db, p["id"], [(60 * k + i, True, 200, 100 * i + k, None)
                                    for k in range(1, 6)])
    insert_checks(db, theirs["id"], [(10, False, 500, 1, "status 500")])

    body = status(new_user, "?recent=2")
    assert [e["id"] for e in body] == [p["id"] for p in made]
    for i, entry in enumerate(body):
        assert [c[3] for c in entry["recent"]] == [100 * i + 2, 100 * i + 1]
    [entry] = status(other_user, "?recent=2")
    assert [c[4] for c in entry["recent"]] == ["status 500"]
    # Without a last_checked (these checks came from SQL) the base is the
    # time of the answer: the checks are 60 s and more before it.
    assert all(c[0] >= 10 for c in entry["recent"])


def test_error_text_in_recent_is_returned_verbatim(new_user, db):
    p = create_project(new_user)
    error = 'keyword "\u00e9\U0001F600" not found \\ \n'
    insert_checks(db, p["id"], [(30, False, 200, 9, error)])
    [entry] = status(new_user, "?recent=1")
    assert entry["recent"][0][4] == error
    assert len(entry["recent"][0]) == 5


@pytest.mark.parametrize("query", bad_counts("recent", "0", "101", "1.5"))
def test_a_bad_recent_is_400_naming_it(new_user, query):
    create_project(new_user)
    r = call("GET", f"/project/status{query}", token=new_user.token)
    assert "'recent'" in expect_error(r, 400)


def test_status_entries_still_match_the_project(new_user, db):
    p = create_project(new_user, name="x", link="https://example.com/y")
    set_project_state(db, p["id"], "UP", code=200, latency_ms=7,
                      checked_ago=30)
    [entry] = status(new_user, "?recent=5")
    project = get_project(new_user, p["id"])
    assert entry["last_checked"] == project["last_checked_at"]
    assert entry["interval_seconds"] == project["interval_seconds"]
    assert (entry["code"], entry["latency_ms"]) == (200, 7)
