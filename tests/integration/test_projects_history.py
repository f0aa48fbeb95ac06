"""A project's history: GET /project/{id}/checks (the raw checks, newest
first, paged with limit and offset, the total in X-Total-Count) and
GET /project/{id}/uptime (24 h, 7 d and 30 d windows read from the hourly
aggregates).  Incidents and the chart's series have their own files
(test_projects_incidents.py, test_projects_series.py).  The tests write
checks and check_hours rows themselves, so the answers can be computed
here."""

import datetime as dt
import time

import pytest

from helpers.http import call, expect_error, expect_json, parse_time
from helpers.projects import bad_counts, create_project
from helpers.stack import env

CHECK_KEYS = {"id", "scheduled_at", "checked_at", "ok", "status",
              "status_code", "latency_ms", "error"}
WINDOW_HOURS = {"24h": 24, "7d": 168, "30d": 720}


def checks(user, project_id, query=""):
    return call("GET", f"/project/{project_id}/checks{query}",
                token=user.token)


def uptime(user, project_id):
    r = call("GET", f"/project/{project_id}/uptime", token=user.token)
    return expect_json(r, 200)


def insert_check(db, project_id, ago_seconds, ok, status_code=None,
                 latency_ms=None, error=None):
    """One checks row, checked ago_seconds ago (whole seconds) and scheduled
    a second before that; returns its checked_at (the table has no id: a
    check is known by its project and time)."""
    return db.value(
        "INSERT INTO checks (project_id, scheduled_at, checked_at, ok, "
        "status_code, latency_ms, error) VALUES (%s, "
        "date_trunc('second', now()) - make_interval(secs => %s + 1), "
        "date_trunc('second', now()) - make_interval(secs => %s), "
        "%s, %s, %s, %s) RETURNING checked_at",
        (project_id, ago_seconds, ago_seconds, ok, status_code, latency_ms,
         error))


def utc(value):
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- GET /project/{id}/checks ----------------------------------------------

def test_checks_of_a_new_project_is_an_empty_array(new_user):
    p = create_project(new_user)
    assert expect_json(checks(new_user, p["id"]), 200) == []


def test_checks_are_listed_newest_first_with_every_field(new_user, db):
    p = create_project(new_user)
    # Inserted out of order: the answer is ordered by checked_at.
    rows = [
        (300, True, 200, 87, None),
        (60, False, None, None, "timeout"),
        (600, True, 204, 5, None),
        (120, False, 503, 41, "status 503"),
        (30, False, 200, 18, "keyword not found"),
    ]
    stamps = {utc(insert_check(db, p["id"], *row)): row for row in rows}

    body = expect_json(checks(new_user, p["id"]), 200)
    assert isinstance(body, list) and len(body) == len(rows)
    assert [entry["checked_at"] for entry in body] == \
        sorted(stamps, key=lambda t: stamps[t][0])
    for entry in body:
        assert CHECK_KEYS <= set(entry), entry
        # The id: checked_at in milliseconds since the epoch.
        assert entry["id"] == int(parse_time(entry["checked_at"])
                                  .timestamp() * 1000), entry
        ago, ok, code, latency, error = stamps[entry["checked_at"]]
        db_row = db.one("SELECT scheduled_at, checked_at FROM checks "
                        "WHERE project_id = %s AND checked_at = %s",
                        (p["id"], parse_time(entry["checked_at"])))
        assert entry["ok"] is ok
        assert entry["status"] == ("UP" if ok else "DOWN")
        assert entry["status_code"] == code
        assert entry["latency_ms"] == latency
        assert entry["error"] == error
        assert entry["checked_at"] == utc(db_row[1])
        assert entry["scheduled_at"] == utc(db_row[0])
        assert parse_time(entry["scheduled_at"]) < \
            parse_time(entry["checked_at"])
    times = [parse_time(entry["checked_at"]) for entry in body]
    assert times == sorted(times, reverse=True)


def test_checks_limit(new_user, db):
    p = create_project(new_user)
    db.run("INSERT INTO checks (project_id, scheduled_at, checked_at, ok, "
           "status_code, latency_ms) SELECT %s, "
           "date_trunc('second', now()) - make_interval(secs => n * 60 + 1), "
           "date_trunc('second', now()) - make_interval(secs => n * 60), "
           "n %% 7 <> 0, 200, n FROM generate_series(1, 105) AS n",
           (p["id"],))

    default = expect_json(checks(new_user, p["id"]), 200)
    assert len(default) == 100
    assert [e["latency_ms"] for e in default] == list(range(1, 101))

    three = expect_json(checks(new_user, p["id"], "?limit=3"), 200)
    assert [e["latency_ms"] for e in three] == [1, 2, 3]
    assert three == default[:3]

    assert len(expect_json(checks(new_user, p["id"], "?limit=1"), 200)) == 1
    everything = expect_json(checks(new_user, p["id"], "?limit=1000"), 200)
    assert [e["latency_ms"] for e in everything] == list(range(1, 106))
    assert [e["ok"] for e in everything] == \
        [n % 7 != 0 for n in range(1, 106)]


@pytest.mark.parametrize("query", bad_counts("limit", "1001", "0"))
def test_checks_with_a_bad_limit_is_400(new_user, query):
    p = create_project(new_user)
    assert "limit" in expect_error(checks(new_user, p["id"], query), 400)


def test_checks_are_paged_with_offset_and_counted(new_user, db):
    p = create_project(new_user)
    db.run("INSERT INTO checks (project_id, scheduled_at, checked_at, ok, "
           "latency_ms) SELECT %s, "
           "date_trunc('second', now()) - make_interval(secs => n * 60 + 1), "
           "date_trunc('second', now()) - make_interval(secs => n * 60), "
           "true, n FROM generate_series(1, 25) AS n", (p["id"],))

    r = checks(new_user, p["id"], "?limit=10")
    assert r.headers["X-Total-Count"] == "25"
    assert [e["latency_ms"] for e in expect_json(r, 200)] == \
        list(range(1, 11))
    r = checks(new_user, p["id"], "?limit=10&offset=10")
    assert r.headers["X-Total-Count"] == "25"
    assert [e["latency_ms"] for e in expect_json(r, 200)] == \
        list(range(11, 21))
    r = checks(new_user, p["id"], "?offset=20")
    assert [e["latency_ms"] for e in expect_json(r, 200)] == \
        list(range(21, 26))
    r = checks(new_user, p["id"], "?offset=100000")
    assert expect_json(r, 200) == [] and r.headers["X-Total-Count"] == "25"


def test_checks_of_a_project_without_any_count_zero(new_user):
    p = create_project(new_user)
    r = checks(new_user, p["id"])
    assert expect_json(r, 200) == [] and r.headers["X-Total-Count"] == "0"


def test_checks_total_is_exposed_to_cors_clients(new_user):
    p = create_project(new_user)
    r = call("GET", f"/project/{p['id']}/checks", token=new_user.token,
             headers={"Origin": env("TRACKLY_CORS_ORIGIN")})
    expect_json(r, 200)
    assert "x-total-count" in \
        r.headers["Access-Control-Expose-Headers"].lower()


@pytest.mark.parametrize("query", [
    "?offset=-1", "?offset=100001", "?offset=x", "?offset=", "?offset=1.0",
    "?offset=99999999999999999999",
])
def test_checks_with_a_bad_offset_is_400(new_user, query):
    p = create_project(new_user)
    assert "offset" in expect_error(checks(new_user, p["id"], query), 400)


def test_checks_belong_to_their_project(new_user, db):
    a = create_project(new_user)
    b = create_project(new_user)
    mine = insert_check(db, a["id"], 10, True, 200, 9)
    insert_check(db, b["id"], 5, False, 500, 9, "status 500")
    assert [e["checked_at"] for e in
            expect_json(checks(new_user, a["id"]), 200)] == [utc(mine)]


def test_checks_of_a_missing_project_is_404(new_user):
    expect_error(checks(new_user, 9223372036854775807), 404)


# --- GET /project/{id}/uptime ----------------------------------------------

EMPTY_WINDOW = {"checks": 0, "up": 0, "uptime_percent": None,
                "avg_latency_ms": None}


def avoid_the_hour_boundary():
    """The windows are counted in whole hours from the current one; if the
    hour turned between writing the rows and asking, every row would shift
    by one.  Wait out the last seconds of an hour instead."""
    left = 3600 - time.time() % 3600
    if left < 15:
        time.sleep(left + 1)


def expected_windows(rows):
    """The windows computed from rows (hours_ago, checks, up, latency_sum)."""
    out = {}
    for name, hours in WINDOW_HOURS.items():
        inside = [r for r in rows if r[0] < hours]
        n = sum(r[1] for r in inside)
        up = sum(r[2] for r in inside)
        latency = sum(r[3] for r in inside)
        out[name] = {"checks": n, "up": up,
                     "uptime_percent": 100.0 * up / n if n else None,
                     "avg_latency_ms": latency / n if n else None}
    return out


def assert_window(got, want, name):
    assert isinstance(got, dict), f"{name}: {got!r}"
    assert got["checks"] == want["checks"], name
    assert got["up"] == want["up"], name
    for key in ("checks", "up"):
        assert isinstance(got[key], int) and not isinstance(got[key], bool)
    for key in ("uptime_percent", "avg_latency_ms"):
        if want[key] is None:
            assert got[key] is None, f"{name} {key}: {got[key]!r}"
        else:
            assert isinstance(got[key], (int, float)) and \
                not isinstance(got[key], bool), f"{name} {key}: {got[key]!r}"
            # Rounding to 3 decimals (percent) or 1 (milliseconds) is fine.
            slack = 1e-3 if key == "uptime_percent" else 0.05 + 1e-9
            assert got[key] == pytest.approx(want[key], abs=slack), \
                f"{name} {key}: {got[key]} != {want[key]}"


def test_uptime_of_a_project_without_history(new_user):
    p = create_project(new_user)
    body = uptime(new_user, p["id"])
    assert body["project_id"] == p["id"]
    assert set(body["windows"]) >= set(WINDOW_HOURS)
    for name in WINDOW_HOURS:
        assert_window(body["windows"][name], EMPTY_WINDOW, name)


def test_uptime_windows(new_user, db):
    p = create_project(new_user)
    other = create_project(new_user)
    # (hours before the current hour, checks, up, latency_sum).  Hours 2-4
    # have no row at all; 23/24, 167/168 and 719/720 sit on either side of
    # a window's edge.
    rows = [
        (0, 7, 7, 700),
        (1, 12, 11, 1337),
        (5, 12, 9, 2400),
        (23, 3, 1, 90),
        (24, 12, 12, 120),
        (48, 60, 59, 6001),
        (167, 9, 2, 45),
        (168, 10, 0, 1000000),
        (400, 30, 29, 3000),
        (719, 1, 1, 17),
        (720, 50, 0, 50),
        (960, 40, 40, 40000),        # 40 days old: counts nowhere
    ]
    avoid_the_hour_boundary()
    hour = db.value("SELECT date_trunc('hour', now())")
    for ago, n, up, latency in rows:
        db.run("INSERT INTO check_hours (project_id, hour, checks, up, "
               "latency_sum, latency_max) VALUES "
               "(%s, %s - make_interval(hours => %s), %s, %s, %s, %s)",
               (p["id"], hour, ago, n, up, latency, latency // max(n, 1) + 5))
    # Another project's hours must not leak in.
    db.run("INSERT INTO check_hours (project_id, hour, checks, up, "
           "latency_sum, latency_max) VALUES (%s, %s, 100, 0, 99999, 9999)",
           (other["id"], hour))

    body = uptime(new_user, p["id"])
    assert db.value("SELECT date_trunc('hour', now())") == hour, \
        "the hour turned during the test"
    assert body["project_id"] == p["id"]
    want = expected_windows(rows)
    for name in WINDOW_HOURS:
        assert_window(body["windows"][name], want[name], name)

    # Spot-check the arithmetic the helper does, for the reader.
    assert want["24h"]["checks"] == 34 and want["24h"]["up"] == 28
    assert want["24h"]["uptime_percent"] == pytest.approx(82.353, abs=1e-3)


def test_uptime_of_a_project_that_was_always_down(new_user, db):
    p = create_project(new_user)
    db.run("INSERT INTO check_hours (project_id, hour, checks, up, "
           "latency_sum, latency_max) VALUES "
           "(%s, date_trunc('hour', now()) - interval '3 hours', 4, 0, 0, 0)",
           (p["id"],))
    avoid_the_hour_boundary()
    body = uptime(new_user, p["id"])
    for name in WINDOW_HOURS:
        window = body["windows"][name]
        assert (window["checks"], window["up"]) == (4, 0)
        assert window["uptime_percent"] == pytest.approx(0.0)
        assert window["avg_latency_ms"] == pytest.approx(0.0)


def test_uptime_of_a_missing_project_is_404(new_user):
    expect_error(call("GET", "/project/9223372036854775807/uptime",
                      token=new_user.token), 404)
