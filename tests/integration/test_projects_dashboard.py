"""The two summary views the web client's dashboard reads:
GET /project/dashboard (totals and counts per status) and GET /project/status
(one line per project from the stored results; its newer fields and
?recent= are in test_projects_status.py).  Results are written straight
into the database, as the monitor would; neither view may probe a site."""

import datetime as dt
import json
import re
import time

from helpers.http import RFC3339_UTC, call, expect_json, parse_time
from helpers.projects import (
    UNREACHABLE_LINK, create_project, get_project, max_projects,
    set_project_state,
)

DASHBOARD_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
STATUS_KEYS = {"id", "name", "link", "status", "code", "latency_ms",
               "last_checked", "last_updated"}


def dashboard(user):
    body = expect_json(call("GET", "/project/dashboard", token=user.token),
                       200)
    assert isinstance(body, dict), body
    for key in ("total_projects", "up", "down", "pending", "paused"):
        assert isinstance(body.get(key), int) and \
            not isinstance(body[key], bool), f"{key} is {body.get(key)!r}"
    assert isinstance(body.get("latest_projects"), str), body
    assert isinstance(body.get("last_updated"), str), body
    return body


def status(user, timeout=10):
    r = call("GET", "/project/status", token=user.token, timeout=timeout)
    body = expect_json(r, 200)
    assert isinstance(body, list), body
    for entry in body:
        assert STATUS_KEYS <= set(entry), f"missing keys in {entry!r}"
        assert entry["status"] in ("UP", "DOWN", "PENDING", "PAUSED")
    return body


def counts(body):
    return {k: body[k] for k in ("total_projects", "up", "down", "pending",
                                 "paused")}


def dashboard_time(rfc3339):
    """An RFC 3339 timestamp as the dashboard writes times."""
    return parse_time(rfc3339).strftime("%Y-%m-%d %H:%M:%S")


def db_time(value):
    """A timestamptz from psycopg2 as the API writes it (whole seconds)."""
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- GET /project/dashboard ------------------------------------------------

def test_dashboard_with_no_projects(new_user):
    body = dashboard(new_user)
    assert counts(body) == {"total_projects": 0, "up": 0, "down": 0,
                            "pending": 0, "paused": 0}
    assert body["latest_projects"] == ""
    assert body["last_updated"] == ""


def test_dashboard_with_one_project(new_user):
    p = create_project(new_user, name="only one")
    body = dashboard(new_user)
    assert counts(body) == {"total_projects": 1, "up": 0, "down": 0,
                            "pending": 1, "paused": 0}
    assert body["latest_projects"] == "only one"
    assert DASHBOARD_TIME.match(body["last_updated"]), body["last_updated"]
    assert body["last_updated"] in (dashboard_time(p["updated_at"]),
                                    dashboard_time(p["created_at"]))


def test_dashboard_with_many_projects(new_user, db):
    # One of each, and a paused one whose stored status is DOWN: paused
    # projects count only as paused.
    states = ["UP", "DOWN", "PENDING", "paused-DOWN", "UP"]
    states = states[:max(max_projects(), 1)]
    made = []
    for i, state in enumerate(states):
        p = create_project(new_user, name=f"site {i}",
                           paused=state.startswith("paused"))
        stored = state.split("-")[-1]
        if stored != "PENDING":
            set_project_state(db, p["id"], stored, code=200, latency_ms=10)
        made.append(p)

    body = dashboard(new_user)
    want = {"total_projects": len(states), "up": states.count("UP"),
            "down": states.count("DOWN"), "pending": states.count("PENDING"),
            "paused": sum(s.startswith("paused") for s in states)}
    assert counts(body) == want
    assert body["up"] + body["down"] + body["pending"] + body["paused"] == \
        body["total_projects"]
    assert body["latest_projects"] == made[-1]["name"]

    # Which time "last updated" means is not pinned down (the newest
    # change, or the newest change or check); it is one of these.
    projects = [get_project(new_user, p["id"]) for p in made]
    assert body["last_updated"] in {
        dashboard_time(p[key]) for p in projects
        for key in ("created_at", "updated_at", "last_checked_at")
        if p[key] is not None}


def test_dashboard_counts_follow_pause_and_resume(new_user, db):
    p = create_project(new_user)
    set_project_state(db, p["id"], "DOWN", code=500, latency_ms=3)
    assert counts(dashboard(new_user))["down"] == 1

    call("PUT", f"/project/{p['id']}", token=new_user.token,
         json={"paused": True})
    assert counts(dashboard(new_user)) == {"total_projects": 1, "up": 0,
                                           "down": 0, "pending": 0,
                                           "paused": 1}
    call("PUT", f"/project/{p['id']}", token=new_user.token,
         json={"paused": False})
    assert counts(dashboard(new_user))["down"] == 1


def test_latest_project_follows_renames_and_deletes(new_user):
    first = create_project(new_user, name="first")
    newest = create_project(new_user, name="second")
    assert dashboard(new_user)["latest_projects"] == "second"

    call("PUT", f"/project/{first['id']}", token=new_user.token,
         json={"name": "first, renamed"})
    assert dashboard(new_user)["latest_projects"] == "second"
    call("PUT", f"/project/{newest['id']}", token=new_user.token,
         json={"name": "second, renamed"})
    assert dashboard(new_user)["latest_projects"] == "second, renamed"

    call("DELETE", f"/project/{newest['id']}", token=new_user.token)
    assert dashboard(new_user)["latest_projects"] == "first, renamed"
    call("DELETE", f"/project/{first['id']}", token=new_user.token)
    body = dashboard(new_user)
    assert (body["total_projects"], body["latest_projects"],
            body["last_updated"]) == (0, "", "")


def test_dashboard_names_are_returned_verbatim(new_user):
    name = "\u05e9\u05dc\u05d5\u05dd \"<b>\" \\ \U0001F600"
    create_project(new_user, name=name)
    assert dashboard(new_user)["latest_projects"] == name


# --- GET /project/dashboard: what the web client's dashboard adds -----------

OLD_DASHBOARD_KEYS = ["total_projects", "latest_projects", "last_updated",
                      "up", "down", "pending", "paused"]


def test_dashboard_additions_with_no_projects(new_user):
    body = dashboard(new_user)
    assert body["last_checked_at"] is None
    assert body["down_projects"] == []
    assert body["recent_incidents"] == []


def test_old_dashboard_fields_come_first(new_user):
    r = call("GET", "/project/dashboard", token=new_user.token)
    keys = [k for k, _ in json.loads(r.text, object_pairs_hook=list)]
    assert keys == OLD_DASHBOARD_KEYS + ["last_checked_at", "down_projects",
                                         "recent_incidents"]


def test_last_checked_at_is_the_latest_probe(new_user, db):
    a = create_project(new_user)
    b = create_project(new_user)
    set_project_state(db, a["id"], "UP", code=200, checked_ago=600)
    set_project_state(db, b["id"], "DOWN", code=500, checked_ago=60)
    body = dashboard(new_user)
    assert body["last_checked_at"] == get_project(new_user,
                                                  b["id"])["last_checked_at"]


def test_down_projects_oldest_down_first(new_user, db):
    n = min(4, max_projects())
    made = [create_project(new_user, name=f"site {i}",
                           link=f"https://example.com/{i}") for i in range(n)]
    # 0: down 2 h (open incident), 1: down 10 min (failing_since only),
    # 2: up, 3: down but paused.
    set_project_state(db, made[0]["id"], "DOWN", code=503,
                      error="status 503")
    db.run("INSERT INTO incidents (project_id, started_at, reason) VALUES "
           "(%s, date_trunc('second', now()) - interval '2 hours', "
           "'status 503')", (made[0]["id"],))
    db.run("UPDATE projects SET failing_since = now() - interval '3 hours' "
           "WHERE id = %s", (made[0]["id"],))
    if n > 1:
        set_project_state(db, made[1]["id"], "DOWN", error="timeout")
        db.run("UPDATE projects SET failing_since = date_trunc('second', "
               "now()) - interval '10 minutes' WHERE id = %s",
               (made[1]["id"],))
    if n > 2:
        set_project_state(db, made[2]["id"], "UP", code=200)
    if n > 3:
        set_project_state(db, made[3]["id"], "DOWN", error="timeout")
        call("PUT", f"/project/{made[3]['id']}", token=new_user.token,
             json={"paused": True})

    down = dashboard(new_user)["down_projects"]
    assert [d["id"] for d in down] == [p["id"] for p in made[:min(n, 2)]]
    first = down[0]
    assert set(first) == {"id", "name", "link", "since", "reason"}
    assert (first["name"], first["link"], first["reason"]) == \
        ("site 0", "https://example.com/0", "status 503")
    # The open incident's start wins over failing_since.
    age = time.time() - parse_time(first["since"]).timestamp()
    assert abs(age - 7200) < 60, first
    if n > 1:
        assert down[1]["reason"] == "timeout"
        age = time.time() - parse_time(down[1]["since"]).timestamp()
        assert abs(age - 600) < 60, down[1]


def test_down_projects_are_at_most_100(new_user, db):
    db.run("INSERT INTO projects (user_id, name, link, status, last_error, "
           "failing_since, next_check_at) SELECT %s, 'down ' || n, "
           "'https://example.com/' || n, 'DOWN', 'timeout', "
           "now() - n * interval '1 minute', now() + interval '1 day' "
           "FROM generate_series(1, 105) AS n", (new_user.id,))
    body = dashboard(new_user)
    assert body["down"] == 105
    down = body["down_projects"]
    assert len(down) == 100
    # Oldest down first: 105 minutes down, then 104, ...
    assert [d["name"] for d in down[:2]] == ["down 105", "down 104"]
    assert down[-1]["name"] == "down 6"


def test_recent_incidents_across_projects(new_user, other_user, db):
    a = create_project(new_user, name="alpha")
    b = create_project(new_user, name="beta")
    theirs = create_project(other_user, name="theirs")
    ids = []
    for k in range(12):
        pid = a["id"] if k % 2 else b["id"]
        ids.append(db.value(
            "INSERT INTO incidents (project_id, started_at, resolved_at, "
            "reason) VALUES (%s, date_trunc('second', now()) - "
            "make_interval(secs => %s), date_trunc('second', now()) - "
            "make_interval(secs => %s), %s) RETURNING id",
            (pid, 10000 - k * 600, 10000 - k * 600 - 30, f"cause {k}")))
    open_id = db.value(
        "INSERT INTO incidents (project_id, started_at, reason) VALUES "
        "(%s, date_trunc('second', now()) - interval '60 seconds', "
        "'still down') RETURNING id", (b["id"],))
    db.run("INSERT INTO incidents (project_id, started_at, reason) VALUES "
           "(%s, now(), 'not yours')", (theirs["id"],))

    recent = dashboard(new_user)["recent_incidents"]
    assert [i["id"] for i in recent] == [open_id] + ids[::-1][:9]
    newest = recent[0]
    assert set(newest) == {"id", "project_id", "project_name", "started_at",
                           "resolved_at", "duration_seconds", "cause"}
    assert (newest["project_id"], newest["project_name"],
            newest["resolved_at"], newest["cause"]) == \
        (b["id"], "beta", None, "still down")
    assert 58 <= newest["duration_seconds"] <= 120
    second = recent[1]
    assert (second["project_name"], second["cause"],
            second["duration_seconds"]) == ("alpha", "cause 11", 30)
    assert isinstance(second["duration_seconds"], int)


# --- GET /project/status ---------------------------------------------------

def test_status_with_no_projects(new_user):
    assert status(new_user) == []


def test_status_of_a_never_checked_project(new_user):
    p = create_project(new_user, name="fresh", link="https://example.com/x")
    [entry] = status(new_user)
    assert {k: entry[k] for k in STATUS_KEYS} == {
        "id": p["id"], "name": "fresh", "link": "https://example.com/x",
        "status": "PENDING", "code": None, "latency_ms": None,
        "last_checked": None, "last_updated": p["updated_at"],
    }


def test_status_reports_stored_results_in_id_order(new_user, db):
    n = min(4, max_projects())
    made = [create_project(new_user, name=f"site {i}",
                           link=f"https://example.com/{i}") for i in range(n)]
    plan = [("UP", 200, 87, None), ("DOWN", 503, 12, "status 503"),
            ("DOWN", None, None, "timeout"), ("PENDING", None, None, None)][:n]
    for p, (state, code, latency, error) in zip(made, plan):
        if state != "PENDING":
            set_project_state(db, p["id"], state, code=code,
                              latency_ms=latency, error=error, checked_ago=90)

    body = status(new_user)
    assert [e["id"] for e in body] == [p["id"] for p in made]
    for entry, p, (state, code, latency, _) in zip(body, made, plan):
        row = db.one("SELECT last_checked_at, updated_at FROM projects "
                     "WHERE id = %s", (p["id"],))
        assert entry["name"] == p["name"]
        assert entry["link"] == p["link"]
        assert entry["status"] == state
        assert entry["code"] == code
        assert entry["latency_ms"] == latency
        if state == "PENDING":
            assert entry["last_checked"] is None
        else:
            assert RFC3339_UTC.match(entry["last_checked"])
            assert entry["last_checked"] == db_time(row[0])
            age = time.time() - parse_time(entry["last_checked"]).timestamp()
            assert 60 <= age <= 300, age
        # The time of the last probe; before the first, the last change.
        if state == "PENDING":
            assert entry["last_updated"] == \
                get_project(new_user, p["id"])["updated_at"]
        else:
            assert entry["last_updated"] == entry["last_checked"]


def test_status_shows_paused_whatever_was_stored(new_user, db):
    up = create_project(new_user, paused=True)
    set_project_state(db, up["id"], "UP", code=200, latency_ms=5)
    down = create_project(new_user, paused=True)
    set_project_state(db, down["id"], "DOWN", code=500, latency_ms=5)
    never = create_project(new_user, paused=True)

    body = status(new_user)
    assert [e["status"] for e in body] == ["PAUSED"] * 3
    assert [e["id"] for e in body] == [up["id"], down["id"], never["id"]]
    assert body[0]["code"] == 200 and body[1]["code"] == 500
    assert body[2]["code"] is None and body[2]["last_checked"] is None


def test_status_does_not_probe(new_user, db):
    """Unreachable links would take seconds each if the API probed them;
    the answer must come at once and leave the stored results alone."""
    links = [UNREACHABLE_LINK, "http://10.255.255.1:81/",
             "https://192.0.2.2:8443/slow"][:max(1, min(3, max_projects()))]
    made = [create_project(new_user, link=link, timeout_ms=30000)
            for link in links]
    for p in made:   # keep a running monitor away from them, too
        db.run("UPDATE projects SET next_check_at = now() + interval '1 day' "
               "WHERE id = %s", (p["id"],))

    started = time.monotonic()
    body = status(new_user, timeout=3)
    assert time.monotonic() - started < 2
    assert [e["status"] for e in body] == ["PENDING"] * len(made)
    ids = [p["id"] for p in made]
    assert db.value("SELECT count(*) FROM checks WHERE project_id = ANY(%s)",
                    (ids,)) == 0
    assert db.value("SELECT count(*) FROM projects WHERE id = ANY(%s) "
                    "AND last_checked_at IS NOT NULL", (ids,)) == 0


def test_status_follows_updates(new_user, db):
    p = create_project(new_user, name="before", link="https://a.example/")
    db.run("UPDATE projects SET updated_at = now() - interval '1 hour' "
           "WHERE id = %s", (p["id"],))
    call("PUT", f"/project/{p['id']}", token=new_user.token,
         json={"name": "after", "link": "https://b.example/"})
    [entry] = status(new_user)
    assert (entry["name"], entry["link"]) == ("after", "https://b.example/")
    now = get_project(new_user, p["id"])
    assert entry["last_updated"] == now["updated_at"]
    assert time.time() - parse_time(entry["last_updated"]).timestamp() < 120
