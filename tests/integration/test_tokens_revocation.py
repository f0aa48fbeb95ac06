"""Revocation stays exact while the API is busy (issue 14, DESIGN §3): a
token revoked by logout, password change or account deletion is refused on
the very next request, on every worker, on every route the web client
polls, GET and HEAD alike.

A GET's token check travels to PostgreSQL together with the handler's
read (one pipelined round trip), and a GET that answers without a read (a
400 for a bad query parameter, a 404) confirms the token before its answer
leaves; these tests are what holds that to "no answer of any kind for a
revoked token".  Background threads keep every worker busy for two users
meanwhile: the other user's requests must keep succeeding, and none of the
revoked user's requests sent after the revocation returned may get a 200."""

import concurrent.futures
import threading
import time

import pytest

from helpers.http import (
    call, client, expect_error, expect_json, expect_unauthorized,
)
from helpers.projects import create_project
from helpers.stack import api_workers, pgctl
from helpers.users import login_token, make_user, random_password
from helpers.wait import wait_until


def polled_routes(project_id):
    """Every authenticated GET route the web client polls, and the rest of
    the reads."""
    return ["/project", "/project/status", "/project/status?recent=5",
            "/project/dashboard", f"/project/{project_id}",
            f"/project/{project_id}/checks?limit=100",
            f"/project/{project_id}/uptime",
            f"/project/{project_id}/incidents",
            f"/project/{project_id}/series?range=24h",
            "/project?limit=2&offset=0", "/user/me"]


class Load:
    """Threads that keep every worker busy with GETs for some users until
    stopped.  For each (token, routes) it records the answers; a request
    is stamped with when it was sent, so a 200 to a request sent after a
    revocation returned can be told from one that was already in
    flight."""

    def __init__(self, jobs, threads_per_job):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answers = {name: [] for name in jobs}
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(name, *job),
                                         daemon=True)
                        for name, job in jobs.items()
                        for _ in range(threads_per_job)]

    def run(self, name, token, routes):
        session = client()
        i = 0
        try:
            while not self.stop.is_set():
                method = "HEAD" if i % 5 == 4 else "GET"
                path = routes[i % len(routes)]
                i += 1
                sent = time.monotonic()
                r = call(method, path, token=token, session=session,
                         timeout=10)
                with self.lock:
                    self.answers[name].append((sent, method, path,
                                               r.status_code))
        except Exception as e:             # noqa: BLE001 - reported below
            with self.lock:
                self.errors.append(repr(e))
        finally:
            session.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        # Every thread has had answers: the workers are busy.
        assert wait_until(lambda: all(len(a) >= 4
                                      for a in self.answers.values()),
                          timeout=10, interval=0.05), "the load never started"
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)
        assert not self.errors, self.errors[:3]


@pytest.fixture
def pair():
    """User a (to be revoked) and user b (not), each with a project."""
    a, b = make_user(), make_user()
    return a, create_project(a)["id"], b, create_project(b)["id"]


def logout(user):
    r = call("POST", "/user/logout", token=user.token)
    assert r.status_code == 204, r.text


def change_password(user):
    new_password = random_password()
    body = expect_json(call("PUT", "/user/password", token=user.token, json={
        "current_password": user.password, "new_password": new_password}),
        200)
    return body["token"]


def delete_account(user):
    r = call("DELETE", "/user", token=user.token,
             json={"password": user.password})
    assert r.status_code == 204, r.text


REVOKE = {"logout": logout, "password": change_password,
          "delete": delete_account}


def expect_refused(r):
    """The 401 of a revoked token; a HEAD's has no body to read."""
    if r.request.method == "HEAD":
        assert r.status_code == 401, f"HEAD {r.url}: {r.status_code}"
        assert r.headers.get("WWW-Authenticate", "").lower() \
            .startswith("bearer")
    else:
        expect_unauthorized(r)


@pytest.mark.parametrize("how", list(REVOKE))
def test_revoked_token_is_refused_at_once_under_load(pair, how):
    a, a_pid, b, b_pid = pair
    a_routes, b_routes = polled_routes(a_pid), polled_routes(b_pid)
    second = login_token(a.email, a.password)   # another session of a's
    # Before: a's token works on every route, GET and HEAD.
    for path in a_routes:
        assert call("GET", path, token=a.token).status_code == 200, path
        assert call("HEAD", path, token=a.token).status_code == 200, path

    n = 4 * api_workers()
    with Load({"a": (a.token, a_routes), "b": (b.token, b_routes)},
              threads_per_job=api_workers()) as load:
        new_token = REVOKE[how](a)
        revoked_at = time.monotonic()

        # Sequential: whichever worker takes each one.
        for i in range(n):
            path = a_routes[i % len(a_routes)]
            for token in (a.token, second):
                expect_refused(call("GET", path, token=token))
                expect_refused(call("HEAD", path, token=token))

        # Concurrent: every worker at once, over every route.
        def attempt(i):
            path = a_routes[i % len(a_routes)]
            return call("HEAD" if i % 3 == 2 else "GET", path,
                        token=(a.token, second)[i % 2])

        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            for r in pool.map(attempt, range(2 * n)):
                expect_refused(r)
        time.sleep(0.2)             # a little more load after the revocation

    late = [x for x in load.answers["a"]
            if x[0] > revoked_at and x[3] != 401]
    assert not late, f"old token answered after revocation: {late[:5]}"
    early = [x for x in load.answers["a"]
             if x[0] <= revoked_at and x[3] not in (200, 401)]
    assert not early, early[:5]
    others = [x for x in load.answers["b"] if x[3] != 200]
    assert not others, f"the other user was refused: {others[:5]}"
    assert len(load.answers["b"]) >= n

    # The other user, and a's new token after a password change, work.
    for path in b_routes:
        assert call("GET", path, token=b.token).status_code == 200, path
    if how == "password":
        for path in a_routes:
            assert call("GET", path, token=new_token).status_code == 200, \
                path


# A GET that answers without reading (the query is refused first), or
# whose answer is a 404, still confirms the token before it answers.
NO_READ = ["/project?limit=abc", "/project?offset=-1",
           "/project/status?recent=0", "/project/{pid}/checks?limit=x",
           "/project/{pid}/incidents?limit=0", "/project/{pid}/series",
           "/project/{pid}/series?range=1y", "/project/999999999",
           "/project/999999999/uptime"]


@pytest.mark.parametrize("path", NO_READ)
def test_revoked_token_gets_401_not_a_400_or_404(pair, path):
    a, a_pid, b, b_pid = pair
    a_path, b_path = path.format(pid=a_pid), path.format(pid=b_pid)
    before = call("GET", a_path, token=a.token).status_code
    assert before in (400, 404), before
    logout(a)
    for _ in range(2 * api_workers()):
        expect_refused(call("GET", a_path, token=a.token))
        expect_refused(call("HEAD", a_path, token=a.token))
    # A still-valid token keeps its honest answer.
    assert call("GET", b_path, token=b.token).status_code == before


def test_valid_token_keeps_working_on_every_route(pair):
    a, a_pid, _, _ = pair
    for _ in range(2 * api_workers()):
        for path in polled_routes(a_pid):
            assert call("GET", path, token=a.token).status_code == 200, path
    expect_error(call("GET", "/project?limit=abc", token=a.token), 400)


def test_version_bumped_in_sql_is_seen_by_the_next_read(pair, db):
    """Not through the API at all: the next read sees the new version."""
    a, a_pid, _, _ = pair
    db.run("UPDATE users SET token_version = token_version + 1 WHERE id = %s",
           (a.id,))
    for path in polled_routes(a_pid):
        expect_refused(call("GET", path, token=a.token))


# --- the database goes away ------------------------------------------------

@pytest.mark.resilience
def test_pipelined_reads_give_503_while_the_database_is_away(pair):
    a, a_pid, _, _ = pair
    for _ in range(2 * api_workers()):      # every worker holds a connection
        expect_json(call("GET", "/project", token=a.token), 200)
    pgctl("stop")
    try:
        for i in range(2 * api_workers()):
            path = polled_routes(a_pid)[i % 4]
            expect_error(call("GET", path, token=a.token, timeout=5), 503)
            assert call("HEAD", path, token=a.token,
                        timeout=5).status_code == 503
        # The token check before a 400 cannot be made either.
        expect_error(call("GET", "/project?limit=abc", token=a.token,
                          timeout=5), 503)
    finally:
        pgctl("start")
    assert wait_until(lambda: all(
        call("GET", "/project", token=a.token, timeout=5).status_code == 200
        for _ in range(2 * api_workers())), timeout=10, interval=0.2), \
        "no recovery within 10 s"


@pytest.mark.resilience
def test_restart_while_idle_costs_no_pipelined_read(pair):
    """Every worker's connection died with the old server; the first
    pipelined read on each reconnects and runs again instead of a 503."""
    a, a_pid, _, _ = pair
    for _ in range(4 * api_workers()):
        expect_json(call("GET", "/project", token=a.token), 200)
    pgctl("stop")
    pgctl("start")
    codes = [call("GET", f"/project/{a_pid}", token=a.token,
                  timeout=5).status_code for _ in range(4 * api_workers())]
    assert codes == [200] * len(codes)
