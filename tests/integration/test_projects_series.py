"""GET /project/{id}/series?range=24h|7d|30d: the response-time chart's
data, aggregated by the database so the client never gets thousands of raw
rows.  24h: 300-second buckets of the raw checks (bucket starts on
multiples of 300 s since the epoch, from = now - 24 h); 7d and 30d: the
hourly rows of check_hours (168 and 720 hours).  Points oldest first, only
buckets that have checks.  The tests write checks and check_hours rows
themselves and compute the expected points here."""

import datetime as dt
import time
from collections import defaultdict

import pytest

from helpers.http import call, expect_error, expect_json, parse_time
from helpers.projects import create_project
from test_projects_history import avoid_the_hour_boundary

POINT_KEYS = {"t", "checks", "up", "avg_latency_ms", "max_latency_ms"}
TOP_KEYS = {"project_id", "range", "bucket_seconds", "from", "to", "points"}


def series(user, project_id, query):
    return call("GET", f"/project/{project_id}/series{query}",
                token=user.token)


def utc(epoch):
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def insert_checks(db, project_id, rows):
    """rows: (seconds ago, ok, latency_ms or None).  Returns each check's
    checked_at as epoch seconds (whole seconds)."""
    out = []
    for ago, ok, latency in rows:
        out.append(float(db.value(
            "INSERT INTO checks (project_id, scheduled_at, checked_at, ok, "
            "latency_ms) VALUES (%s, date_trunc('second', now()) - "
            "make_interval(secs => %s + 1), date_trunc('second', now()) - "
            "make_interval(secs => %s), %s, %s) "
            "RETURNING extract(epoch FROM checked_at)",
            (project_id, ago, ago, ok, latency))))
    return out


def expected_buckets(times, rows):
    buckets = defaultdict(list)
    for when, (_, ok, latency) in zip(times, rows):
        buckets[int(when // 300 * 300)].append((ok, latency))
    points = []
    for start in sorted(buckets):
        entries = buckets[start]
        latencies = [lat for _, lat in entries if lat is not None]
        points.append({
            "t": utc(start), "checks": len(entries),
            "up": sum(ok for ok, _ in entries),
            "avg_latency_ms": round(sum(latencies) / len(latencies), 1)
            if latencies else None,
            "max_latency_ms": max(latencies) if latencies else None,
        })
    return points


def assert_shape(body, project_id, name, bucket):
    assert set(body) == TOP_KEYS, body.keys()
    assert body["project_id"] == project_id
    assert body["range"] == name
    assert body["bucket_seconds"] == bucket
    parse_time(body["from"])
    assert abs(parse_time(body["to"]).timestamp() - time.time()) < 60
    for point in body["points"]:
        assert set(point) == POINT_KEYS, point
        parse_time(point["t"])
        for key in ("checks", "up"):
            assert isinstance(point[key], int) and \
                not isinstance(point[key], bool)
        assert point["max_latency_ms"] is None or \
            isinstance(point["max_latency_ms"], int)
    times = [parse_time(p["t"]) for p in body["points"]]
    assert times == sorted(times) and len(set(times)) == len(times)


# --- 24h: five-minute buckets of the raw checks -----------------------------

def test_24h_of_a_project_without_checks(new_user):
    p = create_project(new_user)
    body = expect_json(series(new_user, p["id"], "?range=24h"), 200)
    assert_shape(body, p["id"], "24h", 300)
    assert body["points"] == []
    span = parse_time(body["to"]) - parse_time(body["from"])
    assert span.total_seconds() == 86400


def test_24h_buckets(new_user, db):
    p = create_project(new_user)
    other = create_project(new_user)
    rows = [
        (30, True, 120), (40, True, 80), (50, False, 10000),
        (400, True, 33), (401, True, None), (402, False, None),
        (3600, True, 7), (3601, True, 8), (3602, True, 9),
        (7000, False, None),                     # a bucket without latency
        (86400 - 600, True, 55),                 # near the start of the day
        (86400 + 600, True, 999),                # older than 24 h: left out
        (3 * 86400, False, 1),
    ]
    times = insert_checks(db, p["id"], rows)
    insert_checks(db, other["id"], [(30, False, 5000)])

    body = expect_json(series(new_user, p["id"], "?range=24h"), 200)
    assert_shape(body, p["id"], "24h", 300)
    inside = [(t, r) for t, r in zip(times, rows) if r[0] < 86400]
    want = expected_buckets([t for t, _ in inside], [r for _, r in inside])
    assert body["points"] == want
    for point in body["points"]:
        assert parse_time(point["t"]).timestamp() % 300 == 0
    assert any(p_["avg_latency_ms"] is None and p_["max_latency_ms"] is None
               for p_ in body["points"])
    start = parse_time(body["from"]).timestamp()
    assert all(parse_time(p_["t"]).timestamp() > start - 300
               for p_ in body["points"])


def test_24h_average_is_rounded_to_a_tenth(new_user, db):
    p = create_project(new_user)
    # Three checks in one bucket: 10, 10, 11 ms -> 10.333... -> 10.3.
    now = time.time()
    base = int(now // 300 * 300) - 300       # the previous whole bucket
    ago = int(now - base) - 100
    insert_checks(db, p["id"], [(ago, True, 10), (ago + 1, True, 10),
                                (ago + 2, True, 11)])
    body = expect_json(series(new_user, p["id"], "?range=24h"), 200)
    [point] = body["points"]
    assert point["avg_latency_ms"] == pytest.approx(10.3)
    assert point["max_latency_ms"] == 11


def test_24h_of_a_busy_project_is_at_most_288_points(new_user, db):
    p = create_project(new_user)
    db.run("INSERT INTO checks (project_id, scheduled_at, checked_at, ok, "
           "latency_ms) SELECT %s, now() - make_interval(secs => n * 30 + 1),"
           " now() - make_interval(secs => n * 30), n %% 10 <> 0, n %% 500 "
           "FROM generate_series(0, 2879) AS n", (p["id"],))
    r = series(new_user, p["id"], "?range=24h")
    body = expect_json(r, 200)
    assert 288 <= len(body["points"]) <= 289
    assert sum(pt["checks"] for pt in body["points"]) == 2880
    assert len(r.content) < 40000


# --- 7d and 30d: hourly rows ------------------------------------------------

@pytest.mark.parametrize("name,hours", [("7d", 168), ("30d", 720)])
def test_hourly_ranges(new_user, db, name, hours):
    p = create_project(new_user)
    other = create_project(new_user)
    # (hours before the current hour, checks, up, latency_sum, latency_max)
    rows = [(0, 7, 7, 700, 300), (5, 12, 11, 1337, 900), (48, 3, 0, 1, 1),
            (167, 9, 2, 45, 20), (168, 10, 0, 100, 50),
            (719, 1, 1, 17, 17), (720, 50, 0, 50, 1)]
    avoid_the_hour_boundary()
    hour = db.value("SELECT date_trunc('hour', now())")
    for ago, n, up, total, peak in rows:
        db.run("INSERT INTO check_hours (project_id, hour, checks, up, "
               "latency_sum, latency_max) VALUES "
               "(%s, %s - make_interval(hours => %s), %s, %s, %s, %s)",
               (p["id"], hour, ago, n, up, total, peak))
    db.run("INSERT INTO check_hours (project_id, hour, checks, up, "
           "latency_sum, latency_max) VALUES (%s, %s, 100, 0, 9, 9)",
           (other["id"], hour))

    body = expect_json(series(new_user, p["id"], f"?range={name}"), 200)
    assert db.value("SELECT date_trunc('hour', now())") == hour, \
        "the hour turned during the test"
    assert_shape(body, p["id"], name, 3600)
    start = hour.timestamp() - (hours - 1) * 3600
    assert body["from"] == utc(start)
    want = [{"t": utc(hour.timestamp() - ago * 3600), "checks": n, "up": up,
             "avg_latency_ms": round(total / n, 1), "max_latency_ms": peak}
            for ago, n, up, total, peak in sorted(rows, reverse=True)
            if ago < hours]
    got = body["points"]
    assert [pt["t"] for pt in got] == [w["t"] for w in want]
    for g, w in zip(got, want):
        assert g["checks"] == w["checks"] and g["up"] == w["up"]
        assert g["max_latency_ms"] == w["max_latency_ms"]
        assert g["avg_latency_ms"] == pytest.approx(w["avg_latency_ms"])


def test_hourly_range_of_a_project_without_history(new_user):
    p = create_project(new_user)
    for name in ("7d", "30d"):
        body = expect_json(series(new_user, p["id"], f"?range={name}"), 200)
        assert_shape(body, p["id"], name, 3600)
        assert body["points"] == []


# --- refusals ---------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "", "?range=", "?range=1d", "?range=24H", "?range=7d%0A", "?range=90d",
    "?range=24h%20", "?other=24h", "?range=" + "x" * 300,
])
def test_a_missing_or_unknown_range_is_400_naming_it(new_user, query):
    p = create_project(new_user)
    assert "range" in expect_error(series(new_user, p["id"], query), 400)


def test_the_first_range_parameter_counts(new_user):
    p = create_project(new_user)
    body = expect_json(series(new_user, p["id"], "?range=7d&range=x"), 200)
    assert body["range"] == "7d"


def test_a_missing_project_is_404(new_user):
    expect_error(series(new_user, 9223372036854775807, "?range=24h"), 404)


def test_another_users_project_is_404(new_user, other_user, db):
    p = create_project(other_user)
    insert_checks(db, p["id"], [(30, True, 5)])
    for name in ("24h", "7d", "30d"):
        expect_error(series(new_user, p["id"], f"?range={name}"), 404)
    body = expect_json(series(other_user, p["id"], "?range=24h"), 200)
    assert len(body["points"]) == 1


def test_series_needs_a_login(new_user):
    p = create_project(new_user)
    expect_error(call("GET", f"/project/{p['id']}/series?range=24h"), 401)
