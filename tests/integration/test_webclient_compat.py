"""The original Trackly web client (a React single-page app) must keep
working against this API.  Each test replays, over HTTP, what one page of
that client sends, and checks only what that page reads from the answers:
the point is compatibility, not the full contract (the test_projects_*
files cover that).

The client is served from another origin than the API in some deployments,
so every request carries the browser's Origin header, and every answer must
carry the CORS header that lets the page read it."""

import re

import pytest

from helpers.http import call, expect_json
from helpers.projects import set_project_state
from helpers.stack import env
from helpers.users import random_email, random_password

DASHBOARD_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def origin():
    return env("TRACKLY_CORS_ORIGIN")


def browser(method, path, token=None, body=None):
    """One fetch() from the web client: JSON body, Bearer token, and the
    Origin header the browser adds.  Fails unless the browser would let the
    page read the answer."""
    kwargs = {} if body is None else {"json": body}
    r = call(method, path, token=token, headers={"Origin": origin()},
             **kwargs)
    allowed = r.headers.get("Access-Control-Allow-Origin")
    assert allowed in (origin(), "*"), \
        f"{method} {path}: the browser would hide this answer " \
        f"(Access-Control-Allow-Origin: {allowed!r})"
    return r


def add_project(user, name, description="", link="https://example.com/"):
    """What the create form sends."""
    r = browser("POST", "/project", user.token,
                {"name": name, "description": description, "link": link})
    body = expect_json(r, 201)
    return body


# --- register and login pages ----------------------------------------------

def test_register_then_login_then_projects_page():
    email, password = random_email("web"), random_password()
    r = browser("POST", "/user/register", body={"email": email,
                                                 "password": password})
    assert r.status_code == 201, r.text

    r = browser("POST", "/user/login", body={"email": email,
                                              "password": password})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    assert isinstance(token, str) and token

    projects = expect_json(browser("GET", "/project", token), 200)
    assert projects == []


# --- projects page, create, edit, delete -----------------------------------

def test_projects_page_lists_what_the_create_form_added(new_user):
    add_project(new_user, "Shop", "the web shop", "https://shop.example/")
    add_project(new_user, "Blog", "", "http://blog.example/feed")

    projects = expect_json(browser("GET", "/project", new_user.token), 200)
    assert isinstance(projects, list)
    seen = [(p["name"], p["description"], p["link"]) for p in projects]
    assert seen == [("Shop", "the web shop", "https://shop.example/"),
                    ("Blog", "", "http://blog.example/feed")]
    ids = [p["id"] for p in projects]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 2


def test_edit_form(new_user):
    made = add_project(new_user, "Old name", "old text",
                       "https://old.example/")
    pid = made["id"]

    form = expect_json(browser("GET", f"/project/{pid}", new_user.token), 200)
    assert isinstance(form, dict)
    assert (form["name"], form["description"], form["link"]) == \
        ("Old name", "old text", "https://old.example/")

    r = browser("PUT", f"/project/{pid}", new_user.token,
                {"name": "New name", "description": "new text",
                 "link": "https://new.example/"})
    assert r.status_code == 200, r.text

    form = expect_json(browser("GET", f"/project/{pid}", new_user.token), 200)
    assert (form["name"], form["description"], form["link"]) == \
        ("New name", "new text", "https://new.example/")


def test_delete_button(new_user):
    keep = add_project(new_user, "Keep")
    gone = add_project(new_user, "Gone")
    r = browser("DELETE", f"/project/{gone['id']}", new_user.token)
    assert r.status_code == 200, r.text
    projects = expect_json(browser("GET", "/project", new_user.token), 200)
    assert [p["id"] for p in projects] == [keep["id"]]


# --- dashboard page and status table ---------------------------------------

def test_dashboard_page(new_user, db):
    empty = expect_json(browser("GET", "/project/dashboard", new_user.token),
                        200)
    assert (empty["total_projects"], empty["latest_projects"],
            empty["last_updated"]) == (0, "", "")

    states = ["UP", "DOWN", "UP", "PENDING"]
    for i, state in enumerate(states):
        p = add_project(new_user, f"site {i}")
        if state != "PENDING":
            set_project_state(db, p["id"], state, code=200, latency_ms=20)

    summary = expect_json(browser("GET", "/project/dashboard",
                                  new_user.token), 200)
    assert summary["total_projects"] == len(states)
    assert summary["latest_projects"] == f"site {len(states) - 1}"
    assert DASHBOARD_TIME.match(summary["last_updated"]), \
        summary["last_updated"]

    entries = expect_json(browser("GET", "/project/status", new_user.token),
                          200)
    assert sum(e["status"] == "UP" for e in entries) == 2
    assert sum(e["status"] == "DOWN" for e in entries) == 1


def test_status_table(new_user, db):
    up = add_project(new_user, "Up site", link="https://up.example/")
    down = add_project(new_user, "Down site", link="https://down.example/")
    fresh = add_project(new_user, "New site", link="https://new.example/")
    set_project_state(db, up["id"], "UP", code=200, latency_ms=31)
    set_project_state(db, down["id"], "DOWN", code=502, latency_ms=900,
                      error="status 502")

    rows = expect_json(browser("GET", "/project/status", new_user.token), 200)
    table = [(r["name"], r["link"], r["status"], r["code"]) for r in rows]
    assert table == [("Up site", "https://up.example/", "UP", 200),
                     ("Down site", "https://down.example/", "DOWN", 502),
                     ("New site", "https://new.example/", "PENDING", None)]
    assert isinstance(rows[0]["last_checked"], str) and rows[0]["last_checked"]
    assert isinstance(rows[1]["last_checked"], str)
    assert rows[2]["last_checked"] is None
    assert fresh["id"] == rows[2]["id"]


# --- CORS preflights the browser sends first --------------------------------

@pytest.mark.parametrize("method,path", [
    ("PUT", "/project/1"),
    ("DELETE", "/project/1"),
    ("POST", "/project"),
    ("GET", "/project"),
    ("GET", "/project/1"),
    ("GET", "/project/dashboard"),
    ("GET", "/project/status"),
])
def test_preflight_for_project_routes(method, path):
    r = call("OPTIONS", path, headers={
        "Origin": origin(),
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization,content-type",
    })
    assert r.status_code == 204, f"{r.status_code}: {r.text[:200]!r}"
    assert r.headers.get("Access-Control-Allow-Origin") == origin()
    methods = {m.strip().upper() for m in
               r.headers.get("Access-Control-Allow-Methods", "").split(",")}
    assert method in methods, r.headers.get("Access-Control-Allow-Methods")
    headers = {h.strip().lower() for h in
               r.headers.get("Access-Control-Allow-Headers", "").split(",")}
    assert {"authorization", "content-type"} <= headers, headers
