"""Resource bounds that are not about one kind of input (docs/bounds.md
lists them all, with the test that checks each): the API's lock
timeout and each worker's data-memory limit.  The JSON tree cap is in
test_hostile_json.py, nginx's limits in test_hostile_http.py and
test_hostile_floods.py."""

import time

import pytest

from helpers.db import db_connect
from helpers.http import call, expect_error, expect_json
from helpers.procs import children_of
from helpers.stack import api_log_since, api_master, log_size, under_asan
from helpers.users import login_token

pytestmark = pytest.mark.usefixtures("stack_healthy")

# api/app.h API_STATEMENT_TIMEOUT_MS, common/db.h DB_LOCK_TIMEOUT_MS,
# api/worker.c WORKER_DATA_MAX
STATEMENT_TIMEOUT = 5
LOCK_TIMEOUT = 2
WORKER_DATA_MAX = 128 * 1024 * 1024


def test_write_blocked_by_a_lock_is_503_busy_after_the_lock_timeout(
        new_user, db):
    """A transaction of ours holds the user's row lock, so POST
    /user/logout (an UPDATE of that row) waits; after the lock timeout (2
    s, well before the 5 s statement timeout) Postgres gives up and the API
    answers 503 JSON saying the record is busy, with Retry-After, not
    "database unavailable".  The logout did not happen, and the same
    worker answers normally once the lock is gone."""
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
            waited = time.monotonic() - start
            print(f"answered after {waited:.1f} s (lock timeout "
                  f"{LOCK_TIMEOUT} s)")
    finally:
        locker.rollback()
        locker.close()
    expect_error(r, 503)
    assert "the record is busy" in r.json()["error"], r.text
    assert r.headers.get("Retry-After") == "1"
    assert LOCK_TIMEOUT - 0.2 <= waited < STATEMENT_TIMEOUT
    assert "55P03" in api_log_since(offset), \
        "the API log does not show a lock timeout (SQLSTATE 55P03)"
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


def worker_memory_kib():
    """{pid: (VmRSS, VmHWM)} of every API worker, in KiB."""
    out = {}
    for pid in children_of(api_master()):
        with open(f"/proc/{pid}/status") as f:
            fields = dict(l.split(":", 1) for l in f if ":" in l)
        out[pid] = (int(fields["VmRSS"].split()[0]),
                    int(fields["VmHWM"].split()[0]))
    return out


def test_workers_give_argon2_memory_back(new_user):
    """Issue 14: Argon2id takes 19 MiB per hash; a worker that has hashed
    several passwords gives it back, so resting workers stay small (each
    hash is a mapping of its own, api/worker.c's mmap threshold).  Not
    under AddressSanitizer, whose allocator keeps freed memory."""
    if under_asan():
        pytest.skip("ASan's allocator keeps freed memory")
    for _ in range(6):          # sequential: each one hashes, in some worker
        login_token(new_user.email, new_user.password)
    mem = worker_memory_kib()
    assert mem
    # At least one worker hashed (its peak holds the 19 MiB) ...
    assert max(hwm for _, hwm in mem.values()) > 19 * 1024, mem
    # ... and every one is back under 16 MiB (about 6.5 at rest).
    for pid, (rss, _) in mem.items():
        assert rss < 16 * 1024, f"worker {pid} rests at {rss} KiB: {mem}"


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
