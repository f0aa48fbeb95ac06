"""FastCGI connection reuse between nginx and trackly-api (issue 14): the
site passes the API locations to `upstream trackly_api` (keepalive 16)
with fastcgi_keep_conn on, and each API worker serves up to 64 kept
connections, polling them beside the listening socket, and serves and
closes any connection beyond that.  docs/operations.md ("The kept
connections") describes the pool; docs/bounds.md lists its bounds.

The API's side of each open connection is counted in /proc/net/unix: an
accepted socket carries the listening socket's path, and nginx's side
none.  Timings are loose on purpose: the suite also runs under the
sanitizers, two to three times slower."""

import concurrent.futures
import os
import signal
import threading
import time

import pytest

from helpers.db import db_connect
from helpers.fcgi import KeptConnection, fcgi_request
from helpers.http import call, client, expect_json
from helpers.procs import children_of
from helpers.stack import (
    GOOD_SECRET, api_instance, api_master, api_workers, binary_env, env,
    log_size, upstream_errors_since,
)
from helpers.wait import eventually

# nginx/trackly-http.conf.in: keepalive 16 (per nginx worker; the test
# stack's nginx has one); api/worker.c: WORKER_KEPT_MAX.
POOL = 16
KEPT_MAX = 64
LOCK_TIMEOUT = 2        # common/db.h DB_LOCK_TIMEOUT_MS
CSRF = {"X-Requested-With": "trackly"}


def api_connections(sock=None):
    """Inodes of the API's side of every open connection on the socket
    (the stack's by default): connected (state 03) sockets bearing its
    path.  The listening socket is unconnected, connections still in its
    backlog have no inode yet, and nginx's side has no path."""
    path = str(sock or env("TRACKLY_API_SOCKET"))
    found = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            if (len(fields) == 8 and fields[7] == path and fields[5] == "03"
                    and fields[6] != "0"):
                found.add(fields[6])
    return found


def pool_settled():
    """True once no more connections are open than nginx may keep."""
    return len(api_connections()) <= POOL


def test_sequential_requests_reuse_one_kept_connection():
    """After a request nginx keeps its connection to the API open; the
    next 200 requests, one after another, go over connections that were
    already open (without reuse each would be a new one, and the pool,
    full at 16, would have closed the older ones to keep the new)."""
    eventually(pool_settled, 10, lambda: f"{len(api_connections())} open")
    with client() as s:
        expect_json(call("GET", "/healthcheck", session=s), 200)
        before = api_connections()
        assert before, "no FastCGI connection open after a request: " \
            "is fastcgi_keep_conn off?"
        for _ in range(200):
            expect_json(call("GET", "/healthcheck", session=s), 200)
        after = api_connections()
    print(f"API connections open: {len(before)} before, {len(after)} after "
          f"200 requests, {len(after - before)} new")
    assert before & after, "none of the connections open before survived"
    assert len(after - before) <= 2, \
        f"{len(after - before)} new connections for 200 requests"
    assert len(after) <= POOL


def test_96_concurrent_clients_are_all_answered(new_user):
    """96 clients at once (each from its own address, so nginx's limit of
    32 per address does not apply), 5 requests each: every answer right,
    none lost; afterwards nginx keeps at most its 16 and the workers have
    closed their side of every other connection."""
    clients, rounds = 96, 5
    start = threading.Barrier(clients, timeout=30)

    def one_client(_):
        problems = []
        with client() as s:
            start.wait()
            for _ in range(rounds):
                try:
                    r = call("GET", "/user/me", token=new_user.token,
                             session=s)
                    if r.status_code != 200 or \
                            r.json().get("email") != new_user.email:
                        problems.append(f"{r.status_code} {r.text[:80]}")
                except Exception as exc:          # timeout, reset, ...
                    problems.append(repr(exc))
        return problems

    offset = log_size("TRACKLY_NGINX_LOG")
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        problems = [p for ps in pool.map(one_client, range(clients))
                    for p in ps]
    assert not problems, f"{len(problems)} of {clients * rounds} failed: " \
        f"{problems[:5]}; nginx: {upstream_errors_since(offset)[:3]}"
    eventually(pool_settled, 10,
               lambda: f"{len(api_connections())} connections still open")


def instance_env(**extra):
    return binary_env(DB_URL=env("TRACKLY_DB_URL"), JWT_SECRET=GOOD_SECRET,
                      **extra)


def healthy_instance(sock):
    try:
        return fcgi_request(sock, "GET", "/healthcheck", timeout=5)[0] == 200
    except OSError:                     # not listening yet
        return False


def test_a_worker_serves_connections_beyond_its_64_kept_ones():
    """A private instance with one worker: 80 connections, each asking to
    be kept.  All 80 requests are answered; the worker keeps 64 and closes
    the other 16 after answering them.  The 64 are then served again, and
    a new connection is served too (no idle kept connection blocks it);
    one the client hangs up frees a place for another."""
    extra = 16
    with api_instance(instance_env()) as (proc, sock):
        eventually(lambda: healthy_instance(sock), 10,
                   lambda: f"no answer; {proc.err_path.read_text()[-500:]}")
        conns = []
        try:
            for _ in range(KEPT_MAX + extra):
                conns.append(KeptConnection(sock))
                answer = conns[-1].request("GET", "/healthcheck")
                assert answer and answer[0] == 200, \
                    f"connection {len(conns)}: {answer}"
            closed = lambda: [i for i, c in enumerate(conns) if c.closed()]
            eventually(lambda: len(closed()) == extra, 5,
                       lambda: f"closed by the worker: {closed()}")
            assert closed() == list(range(KEPT_MAX, KEPT_MAX + extra))
            assert len(api_connections(sock)) == KEPT_MAX
            for i, c in enumerate(conns[:KEPT_MAX]):
                answer = c.request("GET", "/healthcheck")
                assert answer and answer[0] == 200, f"kept {i}: {answer}"
            assert fcgi_request(sock, "GET", "/healthcheck")[0] == 200
            conns[0].close()
            eventually(lambda: len(api_connections(sock)) == KEPT_MAX - 1, 5,
                       "the worker did not close a connection the client "
                       "hung up")
            again = KeptConnection(sock)
            conns.append(again)
            assert again.request("GET", "/healthcheck")[0] == 200
            time.sleep(0.2)
            assert not again.closed(), "the freed place was not reused"
        finally:
            for c in conns:
                c.close()
        assert proc.poll() is None, proc.err_path.read_text()[-2000:]


def test_a_slow_request_does_not_stall_the_others(new_user):
    """One request waits on a row lock (the lock timeout ends it after 2 s
    with 503); meanwhile 6 clients keep asking /healthcheck.  The other
    worker answers them: requests complete during the wait, and none waits
    much longer than the slow one (a request nginx sends on an idle kept
    connection of the busy worker waits for it: docs/operations.md)."""
    locker = db_connect()
    locker.autocommit = False
    done = threading.Event()
    slow = {}
    times = []

    def slow_request():
        t0 = time.monotonic()
        slow["status"] = call("POST", "/user/logout", token=new_user.token,
                              timeout=30).status_code
        slow["took"] = time.monotonic() - t0
        slow["ended"] = time.monotonic()
        done.set()

    def poller(_):
        out = []
        with client() as s:
            while not done.is_set():
                t0 = time.monotonic()
                try:
                    r = call("GET", "/healthcheck", session=s, timeout=30)
                    out.append((t0, time.monotonic() - t0, r.status_code))
                except Exception as exc:
                    out.append((t0, time.monotonic() - t0, repr(exc)))
        return out

    try:
        with locker.cursor() as cur:
            cur.execute("SELECT id FROM users WHERE id = %s FOR UPDATE",
                        (new_user.id,))
            worker = threading.Thread(target=slow_request)
            worker.start()
            eventually(db_waiting_on_lock, 10,
                       "the logout never waited on the lock")
            with concurrent.futures.ThreadPoolExecutor(6) as pool:
                for out in pool.map(poller, range(6)):
                    times.extend(out)
            worker.join(30)
    finally:
        locker.rollback()
        locker.close()
    assert slow.get("status") == 503, slow
    bad = [t for t in times if t[2] != 200]
    assert not bad, f"{len(bad)} failed: {bad[:5]}"
    during = [t for t in times if t[0] + t[1] < slow["ended"]]
    longest = max(t[1] for t in times)
    stalled = [t for t in times if t[1] > 0.5]
    print(f"slow request {slow['took']:.2f} s; {len(during)} requests done "
          f"during it (of {len(times)}); longest {longest:.2f} s; "
          f"{len(stalled)} over 0.5 s")
    assert len(during) >= 5, f"only {len(during)} answered meanwhile"
    assert longest < slow["took"] + 3


def db_waiting_on_lock():
    conn = db_connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' "
                        "AND application_name = 'trackly-api'")
            return cur.fetchone()[0] > 0
    finally:
        conn.close()


def reload_under_load(request, reloads=2, clients=3):
    """clients loops of request(session) while the API master gets SIGHUP
    reloads times, each once the previous one has replaced every worker;
    a second of load after the last.  Returns (results, seconds), results
    being status codes or exception reprs."""
    master, want = api_master(), api_workers()
    stop = threading.Event()

    def loop(_):
        out = []
        with client() as s:
            while not stop.is_set() and len(out) < 5000:
                try:
                    out.append(request(s).status_code)
                except Exception as exc:          # timeout, reset, ...
                    out.append(repr(exc))
        return out

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(loop, i) for i in range(clients)]
        try:
            for _ in range(reloads):
                time.sleep(0.5)
                before = children_of(master)
                os.kill(master, signal.SIGHUP)
                eventually(lambda: len(children_of(master)) == want and
                           not children_of(master) & before, 15,
                           lambda: f"workers {sorted(children_of(master))} "
                           f"still include some of {sorted(before)}")
            time.sleep(1)
        finally:
            stop.set()
        results = [r for f in futures for r in f.result()]
    return results, time.monotonic() - t0


@pytest.mark.resilience
def test_reload_loses_no_get_and_few_posts():
    """SIGHUP replaces every worker; the old ones close their kept
    connections, and nginx may send a request on one just as it closes.
    nginx then retries a GET on another connection, so no GET fails; a
    POST (not idempotent) is not retried and is answered 503 (nginx's
    502).  That race is bounded: at most a few POSTs per reload."""
    offset = log_size("TRACKLY_NGINX_LOG")
    gets, took = reload_under_load(
        lambda s: call("GET", "/healthcheck", session=s))
    failed = [r for r in gets if r != 200]
    print(f"GET: {len(gets)} in {took:.1f} s over 2 reloads, "
          f"{len(failed)} failed")
    assert len(gets) >= 20
    assert not failed, f"{len(failed)} GETs failed: {failed[:5]}; " \
        f"nginx: {upstream_errors_since(offset)[:3]}"

    reloads = 3
    posts, took = reload_under_load(
        lambda s: call("POST", "/user/signout", session=s, headers=CSRF),
        reloads=reloads)
    failed = [r for r in posts if r != 204]
    print(f"POST: {len(posts)} in {took:.1f} s over {reloads} reloads, "
          f"{len(failed)} failed: {failed[:10]}")
    assert len(posts) >= 20
    assert all(r == 503 for r in failed), failed[:10]
    assert len(failed) <= 3 * reloads, \
        f"{len(failed)} of {len(posts)} POSTs failed over {reloads} reloads"
