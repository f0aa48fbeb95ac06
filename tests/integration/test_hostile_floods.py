"""Floods: failed logins by the ten thousand, registrations from one
address, logins from many addresses at once (each costs an Argon2id hash),
and more simultaneous requests from one address than nginx allows.

What must hold (nginx/trackly.conf.in, api/guard.c):
- /user/login is limited per client address to 5 r/s with a burst of 10,
  /user/register to 1 r/s with a burst of 5; over that nginx answers 429
  JSON with Retry-After and the API never sees the request.
- Behind that, ten failed passwords for one address lock it for 15 min
  (429 from the API).  Nothing in a flood is ever a 5xx.
- Each API worker is one single-threaded process, so it hashes at most one
  password at a time: a worker's memory stays under 64 MiB (Argon2id takes
  19 MiB per hash) however many logins wait in the socket's queue.  At
  most API_HASHING_SLOTS workers hash at once; a login that finds no slot
  gets the API's 429 (test_hostile_workers.py).
- At most 32 requests per client address are in progress in nginx at
  once (limit_conn); more get 429 JSON.
"""

import collections
import concurrent.futures
import math
import select
import socket
import threading
import time
import uuid

import pytest

from helpers.http import client, expect_error, next_source_ip
from helpers.raw import expect_raw_error, parse_responses
from helpers.stack import BASE_URL, under_asan, url, worker_memory
from helpers.users import login, make_user, random_email

pytestmark = pytest.mark.usefixtures("stack_healthy")

LOGIN_RATE, LOGIN_BURST = 5, 10          # nginx limit_req for /user/login
REGISTER_RATE, REGISTER_BURST = 1, 5     # and for /user/register
CONN_PER_ADDRESS = 32                    # nginx limit_conn
WORKER_MEMORY_MAX_KIB = 64 * 1024
NGINX_429 = "too many requests"          # the API's own says "attempts"
HASHING_429 = ("the server is busy checking other passwords; retry in a "
               "second")                 # the API's, no hashing slot free
FLOOD_DEADLINE = 240                     # seconds; normally about 20


class MemorySampler(threading.Thread):
    """Reads every API worker's VmRSS and VmHWM from /proc every 0.1 s
    until stopped; keeps the largest of each."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.rss = self.hwm = 0
        self.samples = 0

    def run(self):
        while not self.stop.is_set():
            for rss, hwm in worker_memory().values():
                self.rss, self.hwm = max(self.rss, rss), max(self.hwm, hwm)
            self.samples += 1
            self.stop.wait(0.1)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join(5)
        for rss, hwm in worker_memory().values():
            self.rss, self.hwm = max(self.rss, rss), max(self.hwm, hwm)


def assert_memory_bounded(sampler):
    print(f"API workers: peak RSS {sampler.rss} KiB, peak VmHWM "
          f"{sampler.hwm} KiB ({sampler.samples} samples)")
    if under_asan():
        return              # shadow memory makes the figures meaningless
    assert sampler.samples > 0
    assert sampler.hwm < WORKER_MEMORY_MAX_KIB, \
        f"an API worker peaked at {sampler.hwm} KiB"


def test_ten_thousand_failed_logins(db):
    """10,000 failed logins as fast as 16 keep-alive clients on one address
    can send them: half a wrong password for one real account, half for
    eight addresses that have no account.  Every answer is 401 or 429
    JSON; only what nginx lets through (5 r/s) reaches the API, and each
    address's lockout soon spares even those the Argon2id hash; the
    workers stay small.  (From many addresses, each failure would cost a
    hash: see the next test.)  Some that reach the API find the one
    hashing slot taken and get its 429 without a check; the lockout counts
    the passwords checked.  Stops after FLOOD_DEADLINE seconds at most."""
    victim = make_user()
    ip = next_source_ip()
    strangers = [random_email("flood") for _ in range(8)]
    total, threads = 10_000, 16
    per_thread = total // threads
    codes = collections.Counter()
    bad = []
    lock = threading.Lock()
    deadline = time.monotonic() + FLOOD_DEADLINE

    def flood(n):
        seen = collections.Counter()
        with client(ip) as s:
            for i in range(per_thread):
                if time.monotonic() > deadline:
                    break
                if i % 2:
                    body = {"email": victim.email, "password": f"wrong-{i}"}
                else:
                    body = {"email": strangers[(n + i) % len(strangers)],
                            "password": "wrong-password"}
                r = s.post(url("/user/login"), json=body, timeout=30)
                seen[r.status_code] += 1
                if r.status_code not in (401, 429) or \
                        "error" not in r.json():
                    with lock:
                        bad.append((r.status_code, r.text[:200]))
                elif r.status_code == 429:
                    seen["429-nginx" if r.json()["error"] == NGINX_429
                         else "429-api"] += 1
        with lock:
            codes.update(seen)

    start = time.monotonic()
    with MemorySampler() as sampler:
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            list(pool.map(flood, range(threads)))
    elapsed = time.monotonic() - start
    sent = codes[401] + codes[429] + len(bad)
    print(f"{sent} failed logins in {elapsed:.1f} s: {dict(codes)}")

    assert not bad, f"{len(bad)} unexpected answers, e.g. {bad[:3]}"
    assert sent == total, f"only {sent} of {total} sent within " \
        f"{FLOOD_DEADLINE} s: the stack (or this machine) is far too slow"
    assert codes["429-nginx"] > 0
    # What nginx let through: the burst, then the rate.
    allowed = LOGIN_BURST + LOGIN_RATE * math.ceil(elapsed) + 2
    reached_api = codes[401] + codes["429-api"]
    assert reached_api <= allowed, \
        f"{reached_api} logins reached the API; nginx allows {allowed}"
    assert_memory_bounded(sampler)
    # Every password the API checked for the account counted; those it
    # turned away for want of a hashing slot were never checked.  Wrong
    # passwords one at a time from fresh addresses then reach the lockout
    # (ten failures within the window) and stop there.
    failures = db.value("SELECT failures FROM login_throttle "
                        "WHERE email = lower(%s)", (victim.email,))
    assert failures is not None and failures >= 1
    for i in range(12):
        r = login(victim.email, f"wrong-again-{i}")
        if r.status_code == 429:
            break
        expect_error(r, 401)
    assert "too many failed attempts" in expect_error(r, 429), r.text
    assert i == max(0, 10 - failures), (i, failures)


def test_concurrent_logins_from_many_addresses_keep_memory_bounded():
    """Each from its own address, so nginx lets them all through and each
    would cost a dummy Argon2id hash.  The workers take them one at a
    time; the rest wait in the socket's queue.  Each is answered 401, or
    429 with Retry-After by the API when every hashing slot was taken."""
    count = 48
    start = time.monotonic()
    with MemorySampler() as sampler:
        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            answers = list(pool.map(
                lambda _: login(random_email("many"), "wrong-password",
                                timeout=60), range(count)))
    print(f"{count} concurrent logins in {time.monotonic() - start:.1f} s")
    codes = collections.Counter(r.status_code for r in answers)
    print(f"answers: {dict(codes)}")
    for r in answers:
        if r.status_code == 429:
            expect_error(r, 429)
            assert r.json()["error"] == HASHING_429
            assert r.headers.get("Retry-After") == "1"
        else:
            expect_error(r, 401)
    assert codes[401] > 0
    assert_memory_bounded(sampler)


def test_registration_flood_from_one_address_creates_few_accounts(db):
    """40 valid registrations at once from one address: nginx lets the
    burst and the rate through and answers the rest 429 itself (and the
    API answers 429 to those of its share that found the hashing slot
    taken); exactly the accounts that got 201 exist."""
    ip = next_source_ip()
    tag = uuid.uuid4().hex[:10]
    emails = [f"flood-{tag}-{i}@example.test" for i in range(40)]

    def attempt(email):
        with client(ip) as s:
            return s.post(url("/user/register"), timeout=30,
                          json={"email": email,
                                "password": "long-enough-password"})

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(attempt, emails))
    elapsed = time.monotonic() - start
    codes = collections.Counter(r.status_code for r in answers)
    print(f"40 registrations in {elapsed:.1f} s: {dict(codes)}")

    assert set(codes) <= {201, 429}, codes
    for r in answers:
        if r.status_code == 429:
            assert expect_error(r, 429) in (NGINX_429, HASHING_429)
            assert r.headers.get("Retry-After", "").isdigit()
    allowed = REGISTER_BURST + 1 + REGISTER_RATE * math.ceil(elapsed) + 1
    assert 1 <= codes[201] <= allowed, codes
    created = db.value("SELECT count(*) FROM users WHERE email LIKE %s",
                       (f"flood-{tag}-%",))
    assert created == codes[201]


def _server():
    host, port = BASE_URL.split("://", 1)[1].rsplit(":", 1)
    return host, int(port)


def test_more_requests_in_progress_than_allowed_get_429(db):
    """40 connections from one address each send a POST head announcing a
    body that never comes.  nginx holds at most 32 such requests (it reads
    bodies before bothering the API); the others are refused with 429
    JSON at once.  Everything is closed at the end."""
    ip = next_source_ip()
    socks = []
    try:
        for _ in range(40):
            s = socket.socket()
            s.bind((ip, 0))
            s.connect(_server())
            s.sendall(b"POST /project HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n")
            socks.append(s)
        # Wait a second for every answer at once (one at a time, the last
        # would be read after nginx's 10 s body timeout).
        answered = set()
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            ready, _, _ = select.select(
                [s for s in socks if s not in answered], [], [],
                max(0, deadline - time.monotonic()))
            for s in ready:
                answered.add(s)
                try:
                    got = s.recv(4096)
                except ConnectionResetError:
                    got = b""
                if got:
                    expect_raw_error(parse_responses(got)[0], 429)
        pending, refused = len(socks) - len(answered), len(answered)
    finally:
        for s in socks:
            s.close()
    print(f"40 connections from one address: {pending} held, "
          f"{refused} refused")
    assert pending <= CONN_PER_ADDRESS
    assert refused >= 40 - CONN_PER_ADDRESS
    # The limit is per address: someone else is served meanwhile.
    r = login(random_email(), "wrong-password")
    expect_error(r, 401)
