"""Resource bounds that are not about one kind of input (docs/bounds.md
lists them all, with the test that checks each): the API's statement
timeout and each worker's data-memory limit.  The JSON tree cap is in
test_hostile_json.py, nginx's limits in test_hostile_http.py and
test_hostile_floods.py."""

import time

import pytest

from conftest import (
    api_log_since, api_master, call, children_of, db_connect, expect_error,
    expect_json, log_size, under_asan,
)

pytestmark = pytest.mark.usefixtures("stack_healthy")

# api/app.h API_STATEMENT_TIMEOUT_MS, api/worker.c WORKER_DATA_MAX
STATEMENT_TIMEOUT = 5
WORKER_DATA_MAX = 128 * 1024 * 1024


def test_statement_blocked_past_the_timeout_is_503(new_user, db):
    """A transaction of ours holds the user's row lock, so POST
    /user/logout (an UPDATE of that row) waits; after the statement
    timeout Postgres cancels it and the API answers 503 JSON.  The logout
    did not happen, and the same worker answers normally once the lock is
    gone.  Takes the timeout, 5 s."""
    offset = log_size("TRACKLY_API_LOG")
    locker = db_connect()
    locker.autocommit = False
    try:
        with locker.cursor() as cur:
            cur.execute("SELECT id FROM users WHERE id = %s FOR UPDATE",
                        (new_user.id,))
            start = time.monotonic()
            r = call("POST", "/user/logout", token=new_user.token,
                     timeout=STATEMENT_TIMEOUT * 4)
            print(f"answered after {time.monotonic() - start:.1f} s "
                  f"(timeout {STATEMENT_TIMEOUT} s)")
    finally:
        locker.rollback()
        locker.close()
    expect_error(r, 503)
    assert "57014" in api_log_since(offset), \
        "the API log does not show a cancelled statement (SQLSTATE 57014)"
    expect_json(new_user.me(), 200)             # still logged in
    r = call("POST", "/user/logout", token=new_user.token)
    assert r.status_code == 204, r.text
    assert call("GET", "/user/me", token=new_user.token).status_code == 401


def test_each_worker_limits_its_data_memory():
    """RLIMIT_DATA, the backstop behind the per-body JSON cap: a worker
    that allocated without end would get NULL from malloc (a 500 for that
    request) instead of eating the machine.  Not under AddressSanitizer,
    which reserves its shadow memory up front."""
    workers = children_of(api_master())
    assert workers
    for pid in workers:
        with open(f"/proc/{pid}/limits") as f:
            line = next(l for l in f if l.startswith("Max data size"))
        soft = line.split()[3]
        if under_asan():
            assert soft == "unlimited", line
        else:
            assert soft == str(WORKER_DATA_MAX), line


def test_largest_body_leaves_workers_small(new_user):
    """A 64 KiB body parsed over and over does not grow a worker."""
    raw = b'{"name":"n","link":"https://example.com/","pad":"' + \
        b"x" * (63 * 1024) + b'"}'
    before = {}
    for pid in children_of(api_master()):
        with open(f"/proc/{pid}/status") as f:
            before[pid] = next(int(l.split()[1]) for l in f
                               if l.startswith("VmRSS"))
    for _ in range(200):
        r = call("PUT", "/project/1", token=new_user.token, data=raw,
                 headers={"Content-Type": "application/json"})
        assert r.status_code == 404       # not ours: read, parsed, refused
    if under_asan():
        return
    for pid, rss in before.items():
        with open(f"/proc/{pid}/status") as f:
            after = next(int(l.split()[1]) for l in f
                         if l.startswith("VmRSS"))
        assert after - rss < 4096, f"worker {pid} grew by {after - rss} KiB"
