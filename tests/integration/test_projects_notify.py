"""How the API tells the monitor there is work: every create, update,
delete and check request sends `NOTIFY trackly_wakeup`, and
POST /project/{id}/check makes the project due at once.  Also the answers of
POST /project/{id}/check itself."""

import select

import pytest

from helpers.db import db_connect
from helpers.http import call, expect_error, expect_json
from helpers.projects import create_project, get_project, project_body

CHANNEL = "trackly_wakeup"


class Listener:
    """A database session LISTENing on the wakeup channel."""

    def __init__(self):
        self.conn = db_connect()
        with self.conn.cursor() as cur:
            cur.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout=5):
        """Notifications on the channel that arrive within timeout seconds
        (returns as soon as there is at least one)."""
        got = self._take()
        if got:
            return got
        if select.select([self.conn], [], [], timeout)[0]:
            got = self._take()
        return got

    def drain(self, settle=0.2):
        """Forgets whatever was sent so far (waiting briefly for stragglers
        of requests that already answered)."""
        while select.select([self.conn], [], [], settle)[0]:
            self._take()
        self._take()

    def _take(self):
        self.conn.poll()
        got = [n for n in self.conn.notifies if n.channel == CHANNEL]
        self.conn.notifies.clear()
        return got

    def close(self):
        self.conn.close()


@pytest.fixture
def listener():
    listening = Listener()
    try:
        yield listening
    finally:
        listening.close()


def check_now(user, project_id):
    return call("POST", f"/project/{project_id}/check", token=user.token)


# --- NOTIFY trackly_wakeup -------------------------------------------------

def test_create_wakes_the_monitor(new_user, listener):
    listener.drain()
    create_project(new_user)
    assert listener.wait(), "no NOTIFY trackly_wakeup after POST /project"


def test_update_wakes_the_monitor(new_user, listener):
    p = create_project(new_user)
    listener.drain()
    r = call("PUT", f"/project/{p['id']}", token=new_user.token,
             json={"interval_seconds": 600})
    expect_json(r, 200)
    assert listener.wait(), "no NOTIFY trackly_wakeup after PUT"


def test_delete_wakes_the_monitor(new_user, listener):
    p = create_project(new_user)
    listener.drain()
    expect_json(call("DELETE", f"/project/{p['id']}", token=new_user.token),
                200)
    assert listener.wait(), "no NOTIFY trackly_wakeup after DELETE"


def test_check_request_wakes_the_monitor(new_user, listener):
    p = create_project(new_user)
    listener.drain()
    expect_json(check_now(new_user, p["id"]), 202)
    assert listener.wait(), "no NOTIFY trackly_wakeup after POST .../check"


# --- when a project is due -------------------------------------------------

def test_new_project_is_due_within_its_first_interval(new_user, db):
    before = db.value("SELECT now()")
    p = create_project(new_user, interval_seconds=600)
    after = db.value("SELECT now()")
    due, created = db.one("SELECT next_check_at, created_at FROM projects "
                          "WHERE id = %s", (p["id"],))
    slack = 1
    assert (before - due).total_seconds() <= slack, \
        f"first check due {due}, before the project existed ({before})"
    assert (due - after).total_seconds() <= 600 + slack, \
        f"first check due {due}, more than an interval after {after}"
    assert abs((created - before).total_seconds()) <= 5


def test_check_request_makes_the_project_due_now(new_user, db):
    p = create_project(new_user, interval_seconds=86400)
    db.run("UPDATE projects SET next_check_at = now() + interval '1 day' "
           "WHERE id = %s", (p["id"],))

    asked = db.value("SELECT now()")
    body = expect_json(check_now(new_user, p["id"]), 202)
    assert isinstance(body, dict), body

    # Still due now, or (when a monitor runs) already checked since.
    due_now, checked_since = db.one(
        "SELECT next_check_at <= now() + interval '1 second', "
        "coalesce(last_checked_at >= %s, false) FROM projects WHERE id = %s",
        (asked, p["id"]))
    assert due_now or checked_since, "the check request did not make it due"


# --- POST /project/{id}/check answers --------------------------------------

def test_check_request_leaves_the_project_as_it_was(new_user):
    p = create_project(new_user)
    expect_json(check_now(new_user, p["id"]), 202)
    after = get_project(new_user, p["id"])
    for key in ("name", "link", "paused", "interval_seconds", "timeout_ms",
                "created_at"):
        assert after[key] == p[key], key


def test_check_request_on_a_paused_project_is_409(new_user, db):
    p = create_project(new_user, paused=True)
    due = db.value("SELECT next_check_at FROM projects WHERE id = %s",
                   (p["id"],))
    expect_error(check_now(new_user, p["id"]), 409)
    assert db.value("SELECT next_check_at FROM projects WHERE id = %s",
                    (p["id"],)) == due
    assert get_project(new_user, p["id"])["status"] == "PAUSED"


def test_check_request_after_resuming_is_accepted(new_user):
    p = create_project(new_user, paused=True)
    expect_error(check_now(new_user, p["id"]), 409)
    expect_json(call("PUT", f"/project/{p['id']}", token=new_user.token,
                     json={"paused": False}), 200)
    expect_json(check_now(new_user, p["id"]), 202)


def test_check_request_on_a_missing_project_is_404(new_user):
    expect_error(check_now(new_user, 9223372036854775807), 404)


def test_check_request_on_a_deleted_project_is_404(new_user):
    p = create_project(new_user)
    call("DELETE", f"/project/{p['id']}", token=new_user.token)
    expect_error(check_now(new_user, p["id"]), 404)


def test_check_request_ignores_a_body(new_user):
    p = create_project(new_user)
    r = call("POST", f"/project/{p['id']}/check", token=new_user.token,
             json=project_body(name="ignored"))
    expect_json(r, 202)
    assert get_project(new_user, p["id"])["name"] == p["name"]
