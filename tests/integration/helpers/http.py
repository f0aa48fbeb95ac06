"""HTTP to the API through nginx.  nginx rate-limits /user/login and
/user/register per client address, so every request leaves from its own
loopback source address (127.0.a.b, from a counter), and a test that wants
the limit uses `client(ip)` with one fixed address.  Every call has a
timeout, so a hung server fails a test instead of hanging the suite."""

import concurrent.futures
import datetime as dt
import itertools
import random
import re
import threading
import time

import pytest
import requests
from requests.adapters import HTTPAdapter

from helpers.stack import TIMEOUT, url


JSON_TYPE = "application/json; charset=utf-8"
ERROR_LOGIN = {"error": "invalid email or password"}
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class SourceAddressAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections leave from a given local address."""

    def __init__(self, source_ip, **kwargs):
        self.source_ip = source_ip      # set first: __init__ builds the pool
        super().__init__(**kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **kwargs):
        kwargs["source_address"] = (self.source_ip, 0)
        super().init_poolmanager(connections, maxsize, block=block, **kwargs)


_ip_lock = threading.Lock()


# Start somewhere random so a re-run against the same nginx does not meet
# the rate-limit state of the previous run.
_ip_counter = itertools.count(random.randrange(250 * 250))


def next_source_ip():
    """A fresh address from 127.0.1.1 .. 127.0.250.250, round robin."""
    with _ip_lock:
        n = next(_ip_counter) % (250 * 250)
    return f"127.0.{n // 250 + 1}.{n % 250 + 1}"


def client(ip=None):
    """A requests.Session whose connections come from source address ip
    (a fresh one when None).  Proxies from the environment are ignored."""
    session = requests.Session()
    session.trust_env = False
    adapter = SourceAddressAdapter(ip or next_source_ip())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def call(method, path, *, token=None, ip=None, session=None,
         timeout=TIMEOUT, headers=None, **kwargs):
    """One HTTP request to the API through nginx, from its own source
    address unless ip or session says otherwise.  token adds a Bearer
    Authorization header; other keyword arguments go to requests."""
    headers = dict(headers or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if session is not None:
        return session.request(method, url(path), headers=headers,
                               timeout=timeout, **kwargs)
    with client(ip) as s:
        return s.request(method, url(path), headers=headers,
                         timeout=timeout, **kwargs)


def post_raw(path, body, *, ip=None, token=None, method="POST",
             content_type="application/json"):
    """Sends body (bytes) verbatim, for malformed-input tests."""
    return call(method, path, ip=ip, token=token, data=body,
                headers={"Content-Type": content_type})


def is_json_type(response):
    ctype = response.headers.get("Content-Type", "")
    return ctype.replace(" ", "").lower() == JSON_TYPE.replace(" ", "")


def expect_json(response, status):
    """Asserts status and a JSON body of the house content type; returns
    the decoded body."""
    assert response.status_code == status, \
        f"expected {status}, got {response.status_code}: {response.text[:300]!r}"
    assert is_json_type(response), \
        f"Content-Type is {response.headers.get('Content-Type')!r}, " \
        f"want {JSON_TYPE!r}"
    try:
        return response.json()
    except ValueError:
        pytest.fail(f"body is not JSON: {response.text[:300]!r}")


def expect_error(response, status):
    """Asserts an `{"error": "..."}` answer with the given status; returns
    the message."""
    body = expect_json(response, status)
    assert isinstance(body, dict), f"error body is not an object: {body!r}"
    assert isinstance(body.get("error"), str) and body["error"], \
        f"no error message in {body!r}"
    return body["error"]


def expect_unauthorized(response):
    """401 JSON with a Bearer challenge, as every auth failure must be."""
    message = expect_error(response, 401)
    challenge = response.headers.get("WWW-Authenticate", "")
    assert challenge.lower().startswith("bearer"), \
        f"WWW-Authenticate is {challenge!r}"
    return message


def parse_time(text):
    """Parses an RFC 3339 UTC timestamp of the form 2026-01-02T03:04:05Z."""
    assert isinstance(text, str) and RFC3339_UTC.match(text), \
        f"not an RFC 3339 UTC timestamp: {text!r}"
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.timezone.utc)


def assert_recent(text, *, offset=0, slack=120):
    """Asserts timestamp text is within slack seconds of now + offset."""
    when = parse_time(text).timestamp()
    want = time.time() + offset
    assert abs(when - want) <= slack, \
        f"{text} is {when - want:+.0f} s from the expected time"


def flood_from_one_address(path, body, count):
    """POSTs body to path count times at once from one source address, to
    meet nginx's per-address rate limit.  Asserts that every answer is the
    API's 400 (the bodies are invalid, so it does no hashing) or nginx's
    429 with a positive Retry-After, and that some are 429; returns the
    status codes in order."""
    ip = next_source_ip()

    def attempt(_):
        return call("POST", path, ip=ip, json=body, timeout=20)

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(attempt, range(count)))
    codes = [r.status_code for r in answers]
    assert set(codes) <= {400, 429}, codes
    limited = [r for r in answers if r.status_code == 429]
    assert limited, f"no 429 among {codes}"
    for r in limited:
        expect_error(r, 429)
        retry = r.headers.get("Retry-After", "")
        assert retry.isdigit() and int(retry) > 0, f"Retry-After {retry!r}"
    return codes
