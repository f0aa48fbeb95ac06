"""Keeping API workers available (issue 12, items 2 and 3): password
hashing bounded across the whole pool, registrations bounded per minute,
lock waits bounded, and a worker stuck in one request replaced.

What must hold (api/pool.h, api/guard.c, api/master.c, common/db.h):
- At most API_HASHING_SLOTS workers hash a password at once (default
  API_WORKERS - 1, at least 1); a request that finds no slot, and no other
  worker idle to wait beside, gets 429 JSON with Retry-After at once.  So
  a flood of logins from many addresses (which nginx's per-address limits
  let through) never takes the last worker: a GET still answers quickly.
- A worker killed while it holds a hashing slot gives the slot back.
- At most API_REGISTRATIONS_PER_MINUTE registrations per minute per host;
  more get 429 JSON with Retry-After.
- A statement waits for a lock at most 2 s (lock_timeout), then the API
  answers 503 JSON that says the record is busy, with Retry-After; not
  "database unavailable".
- The master kills and replaces a worker that has been in one request
  longer than API_HUNG_WORKER_SECONDS (SIGSTOP here), which also ends its
  transaction and frees its locks.

The stack's own workers are only flooded, never signalled; the cases that
stop or kill workers run a private trackly-api on its own socket.
"""

import collections
import concurrent.futures
import contextlib
import json
import os
import re
import signal
import threading
import time

import pytest

from helpers.db import db_connect
from helpers.fcgi import fcgi_request
from helpers.http import call, expect_json
from helpers.procs import children_of, is_dead
from helpers.projects import project_body
from helpers.stack import api_instance, binary_env, env, under_asan
from helpers.users import login, make_user, random_email, random_password
from helpers.wait import wait_until

LOCK_TIMEOUT = 2.0          # common/db.h DB_LOCK_TIMEOUT_MS
IDLE_IN_TRANSACTION = 10.0  # common/db.h DB_IDLE_IN_TRANSACTION_MS
STATEMENT_TIMEOUT = 5.0     # api/app.h API_STATEMENT_TIMEOUT_MS
BUSY = "the record is busy"
HASH_BUSY = "busy checking other passwords"


def metrics(get=None):
    """{name: value} of the plain (unlabelled) lines of /metrics, from the
    stack or through get (a function returning the text)."""
    text = get() if get else call("GET", "/metrics", timeout=10).text
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+) ([0-9.]+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


# --- hashing slots, on the stack --------------------------------------------

@pytest.mark.usefixtures("stack_healthy")
def test_login_flood_never_takes_the_last_worker():
    """Failed logins from a fresh address each (nginx lets them all
    through), 16 at a time for 6 s, against the stack's 2 workers and so 1
    hashing slot.  Every answer is 401 or the API's 429 (JSON, Retry-After);
    /metrics never shows more workers hashing than there are slots; and a
    user's GET /project, timed throughout, answers quickly.  (Before the
    bound: every worker sat in Argon2 and the GET took about a second.)"""
    user = make_user()
    stop = threading.Event()
    codes, bad, lat, hashing = collections.Counter(), [], [], []
    lock = threading.Lock()
    before = metrics()
    slots = before["trackly_api_hashing_slots"]
    assert slots >= 1

    def flood():
        while not stop.is_set():
            r = login(random_email("slot"), "wrong-password", timeout=30)
            with lock:
                if r.status_code == 401:
                    codes[401] += 1
                elif r.status_code == 429 and HASH_BUSY in r.text:
                    codes["429 api"] += 1
                    if not r.headers.get("Retry-After", "").isdigit():
                        bad.append("429 without Retry-After")
                elif r.status_code == 429:
                    codes["429 nginx"] += 1
                else:
                    bad.append((r.status_code, r.text[:200]))

    def watch():
        while not stop.is_set():
            m = metrics()
            hashing.append(m["trackly_api_hashing"])
            start = time.monotonic()
            r = call("GET", "/project", token=user.token, timeout=30)
            lat.append(time.monotonic() - start)
            if r.status_code != 200:
                bad.append(("GET /project", r.status_code, r.text[:200]))
            stop.wait(0.02)

    threads = [threading.Thread(target=flood) for _ in range(16)]
    threads.append(threading.Thread(target=watch))
    for t in threads:
        t.start()
    time.sleep(6)
    stop.set()
    for t in threads:
        t.join(60)
    after = metrics()

    lat.sort()
    p50, p95 = lat[len(lat) // 2], lat[int(len(lat) * 0.95)]
    print(f"logins: {dict(codes)}; GET /project x{len(lat)}: p50 "
          f"{p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, max "
          f"{lat[-1] * 1000:.1f} ms; most hashing at once {max(hashing)} "
          f"of {slots}")
    assert not bad, bad[:5]
    assert codes[401] > 0 and codes["429 api"] > 0, codes
    assert max(hashing) <= slots
    assert after["trackly_api_hashing_refused_total"] > \
        before["trackly_api_hashing_refused_total"]
    # The figure to beat is bench/login-flood's (p99 under 50 ms on a quiet
    # machine); the suite shares the machine with the flood's own Python
    # threads, so it asks for the median and a generous p95.  The median
    # is the property (without the bound every GET waited behind Argon2,
    # about a second).  The tail is looser: a GET that nginx sends on a
    # kept connection of the worker that is hashing waits for that
    # worker's round (docs/operations.md, "Head-of-line"): p95 292 ms,
    # max 775 ms seen once in a full run of the suite.
    if not under_asan():
        assert p50 < 0.05, f"GET /project median {p50 * 1000:.0f} ms"
        assert p95 < 1.0, f"GET /project p95 {p95 * 1000:.0f} ms"


# --- private instances --------------------------------------------------------

def private_env(**extra):
    """A private trackly-api on the stack's database and JWT key, so the
    stack's users' tokens work there."""
    return binary_env(DB_URL=env("TRACKLY_DB_URL"),
                      JWT_SECRET=env("TRACKLY_JWT_SECRET"),
                      LOG_FORMAT="text", **extra)


class Private:
    """A started private instance: FastCGI requests, its workers, its log."""

    def __init__(self, proc, sock):
        self.proc, self.sock = proc, sock
        assert wait_until(sock.exists, timeout=10), \
            f"no socket; stderr: {proc.err_path.read_text()[-500:]}"
        assert wait_until(lambda: self.ok("/healthcheck"), timeout=10)

    def ok(self, path):
        try:
            return self.request("GET", path, timeout=5)[0] == 200
        except OSError:
            return False

    def request(self, method, path, body=None, token=None, timeout=30):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        status, hdrs, payload = fcgi_request(
            self.sock, method, path,
            body=json.dumps(body).encode() if body is not None else b"",
            headers=headers, timeout=timeout)
        return status, hdrs, payload

    def metrics(self):
        return metrics(lambda: self.request("GET", "/metrics")[2].decode())

    def workers(self):
        return children_of(self.proc.pid)

    def log(self):
        return self.proc.err_path.read_text()


def assert_dropped(future):
    """The request in future got no answer: the worker died with it."""
    try:
        status, headers, payload = future.result(timeout=10)
    except OSError:
        return
    assert not headers.get("content-type") and not payload, \
        f"the killed worker's request was answered {status}: {payload[:100]}"


def background(fn, *args):
    """Runs fn(*args) in a thread; returns a future."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    future = pool.submit(fn, *args)
    pool.shutdown(wait=False)
    return future


def test_worker_killed_while_hashing_gives_its_slot_back():
    """Two workers, one hashing slot.  One worker is stopped, so the other
    takes a login; it is stopped in turn while /metrics (answered by the
    first, resumed) shows it holding the slot; then it is killed.  The
    master reaps it and frees its slot: /metrics shows nobody hashing, and
    logins are answered 401, not 429."""
    with api_instance(private_env(), workers=2) as (proc, sock):
        api = Private(proc, sock)
        assert api.metrics()["trackly_api_hashing_slots"] == 1
        for attempt in range(20):
            a, b = sorted(api.workers())
            os.kill(b, signal.SIGSTOP)
            pending = background(api.request, "POST", "/user/login",
                                 {"email": random_email("kill"),
                                  "password": "wrong-password"})
            time.sleep(0.005 * (attempt % 8) + 0.01)
            os.kill(a, signal.SIGSTOP)
            os.kill(b, signal.SIGCONT)
            if api.metrics()["trackly_api_hashing"] == 1:
                break
            os.kill(a, signal.SIGCONT)             # not caught mid-hash
            pending.result(timeout=30)
        else:
            pytest.fail("never caught a worker holding the hashing slot")

        os.kill(a, signal.SIGKILL)
        assert wait_until(lambda: is_dead(a), timeout=5)
        assert_dropped(pending)
        assert wait_until(lambda: len(api.workers()) == 2 and
                          a not in api.workers(), timeout=5)
        assert api.metrics()["trackly_api_hashing"] == 0
        for _ in range(3):
            status, _, payload = api.request(
                "POST", "/user/login", {"email": random_email("after"),
                                        "password": "wrong-password"})
            assert status == 401, payload


def test_registrations_over_the_rate_get_429(db):
    """API_REGISTRATIONS_PER_MINUTE=3 on a private instance: three
    accounts in a minute, then 429 JSON with Retry-After up to 60, and no
    account made."""
    # The window is the minute of CLOCK_MONOTONIC, time.monotonic() here.
    if time.monotonic() % 60 > 50:
        time.sleep(61 - time.monotonic() % 60)
    with api_instance(private_env(API_REGISTRATIONS_PER_MINUTE="3"),
                      workers=2) as (proc, sock):
        api = Private(proc, sock)
        emails = [random_email("rate") for _ in range(5)]
        answers = [api.request("POST", "/user/register",
                               {"email": e, "password": random_password()})
                   for e in emails]
        assert [a[0] for a in answers] == [201, 201, 201, 429, 429], \
            [(a[0], a[2][:100]) for a in answers]
        for status, headers, payload in answers[3:]:
            assert headers["content-type"].startswith("application/json")
            assert "too many accounts" in json.loads(payload)["error"]
            assert 1 <= int(headers["retry-after"]) <= 60
        for e in emails[3:]:
            assert db.value("SELECT count(*) FROM users WHERE email = %s",
                            (e,)) == 0
        assert api.metrics()["trackly_api_registrations_refused_total"] == 2


# --- lock waits and stuck workers --------------------------------------------

def wait_for_lock_wait(conn, timeout=5):
    """Waits until some session of ours waits for a lock."""
    def waiting():
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' "
                        "AND application_name = 'trackly-api'")
            return cur.fetchone()[0] > 0
    return wait_until(waiting, timeout=timeout, interval=0.02)


def stop_mid_write(api, user, locker, watcher):
    """Worker A (the lower pid) takes POST /project for user and is stopped
    while its transaction holds the user's row lock: B is stopped first so
    A takes the request; A's INSERT waits for a table lock locker holds;
    then A is stopped, B resumed and the table lock released.  Returns
    (a, b, the request's future, when it was sent)."""
    a, b = sorted(api.workers())
    os.kill(b, signal.SIGSTOP)
    locker.autocommit = False
    with locker.cursor() as cur:
        cur.execute("LOCK TABLE projects IN SHARE MODE")
    started = time.monotonic()
    stuck = background(api.request, "POST", "/project", project_body(),
                       user.token)
    assert wait_for_lock_wait(watcher), "the write never waited"
    os.kill(a, signal.SIGSTOP)
    os.kill(b, signal.SIGCONT)
    locker.rollback()                       # A still holds the row
    return a, b, stuck, started


def write_is_busy(api, user):
    """The user's next write, answered by B: 503 'busy' after the lock
    timeout, with Retry-After."""
    t0 = time.monotonic()
    status, headers, payload = api.request("POST", "/project",
                                           project_body(), user.token)
    waited = time.monotonic() - t0
    print(f"write: {status} after {waited:.2f} s: {payload[:100]!r}")
    assert status == 503, payload
    assert BUSY in json.loads(payload)["error"]
    assert headers.get("retry-after") == "1"
    assert LOCK_TIMEOUT - 0.2 <= waited < STATEMENT_TIMEOUT


@contextlib.contextmanager
def stuck_worker(api_env):
    """A private instance with 2 workers and a user with a project; yields
    (api, user, locker, watcher) and resumes every worker at the end."""
    user = make_user()
    expect_json(call("POST", "/project", token=user.token,
                     json=project_body()), 201)
    with api_instance(api_env, workers=2) as (proc, sock):
        api = Private(proc, sock)
        pids = api.workers()
        locker, watcher = db_connect(), db_connect()
        watcher.autocommit = True
        try:
            yield api, user, locker, watcher
        finally:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            locker.rollback()
            locker.close()
            watcher.close()


def test_worker_stopped_mid_write_is_replaced_and_others_answer():
    """A private instance with 2 workers and API_HUNG_WORKER_SECONDS=3;
    worker A is stopped (SIGSTOP) in the middle of POST /project, its
    transaction holding the user's row lock.  Meanwhile, from worker B:
    reads answer 200 at once, the same user's next write waits 2 s
    (lock_timeout) and is answered 503 'the record is busy' with
    Retry-After, not 'database unavailable'; and the master kills A about
    3 s after it took its request and starts another, after which the
    user's write succeeds."""
    with stuck_worker(private_env(API_HUNG_WORKER_SECONDS="3")) as \
            (api, user, locker, watcher):
        a, b, stuck, started = stop_mid_write(api, user, locker, watcher)

        # Mixed load on B while A is stuck.
        t0 = time.monotonic()
        status, _, payload = api.request("GET", "/project", token=user.token)
        assert status == 200, payload
        assert time.monotonic() - t0 < 1.0
        assert api.request("GET", "/healthcheck")[0] == 200
        write_is_busy(api, user)

        # The master notices A and replaces it.
        assert wait_until(lambda: is_dead(a), timeout=6), \
            "the stuck worker was not killed"
        killed_after = time.monotonic() - started
        print(f"stuck worker killed {killed_after:.1f} s after its request "
              "began")
        assert killed_after < 3 + 2
        assert wait_until(lambda: len(api.workers()) == 2, timeout=5)
        assert_dropped(stuck)
        status, _, payload = api.request("POST", "/project", project_body(),
                                         user.token)
        assert status == 201, payload
        log = api.log()
        assert re.search(rf"worker {a} has been in one request", log), \
            log[-2000:]
        assert "55P03" in log
        assert api.metrics()["trackly_api_workers_hung_total"] == 1


def test_session_idle_in_a_transaction_is_ended_by_the_server():
    """As above, but the hung-worker bound is far away (60 s): the server
    itself ends A's session after 10 s idle in its transaction
    (idle_in_transaction_session_timeout), which frees the user's row, so
    B's writes succeed again while A is still stopped.  About 12 s."""
    with stuck_worker(private_env(API_HUNG_WORKER_SECONDS="60")) as \
            (api, user, locker, watcher):
        a, b, stuck, started = stop_mid_write(api, user, locker, watcher)
        write_is_busy(api, user)

        def write_ok():
            status, _, _ = api.request("POST", "/project", project_body(),
                                       user.token)
            return status == 201
        assert wait_until(write_ok, timeout=IDLE_IN_TRANSACTION + 5,
                          interval=0.5), "the row stayed locked"
        freed_after = time.monotonic() - started
        print(f"row free {freed_after:.1f} s after the stuck write began")
        assert freed_after >= IDLE_IN_TRANSACTION - 1
        assert not is_dead(a)                   # not the master's doing
