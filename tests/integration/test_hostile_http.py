"""Hostile HTTP, sent as raw bytes so nothing on our side tidies it up:
heads too large, malformed request lines and headers, Content-Length
headers that lie, odd transfer codings, slow clients (slowloris), path
tricks on ids, and malformed UTF-8 or NUL in paths, queries and headers.

Each gets a 4xx JSON error, from nginx when nginx refuses it (the site
configuration turns every error nginx produces into JSON) and from the API
otherwise.  Where nginx refuses, the access log shows the API was never
asked (`upstream=-`).  Every test leaves the stack healthy (same API
workers, /healthcheck 200) and the database unchanged where that applies.
"""

import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from helpers.db import no_writes
from helpers.http import (
    call, expect_error, expect_json, expect_unauthorized, next_source_ip,
)
from helpers.projects import create_project
from helpers.raw import (
    expect_raw_error, parse_responses, raw_exchange, raw_request,
)
from helpers.stack import BASE_URL, env
from helpers.users import make_user

pytestmark = pytest.mark.usefixtures("stack_healthy")

# nginx/trackly.conf.in
HEADER_TIMEOUT = 10          # client_header_timeout
BODY_TIMEOUT = 10            # client_body_timeout
HEADER_LINE_MAX = 8 * 1024   # large_client_header_buffers 4 8k
HEADER_TOTAL_MAX = 4 * 8 * 1024


def marker():
    return "probe-" + uuid.uuid4().hex


def request(line, *headers, body=b""):
    """Raw request bytes: a request line, Host, the given header lines,
    Connection: close, and body."""
    if isinstance(line, str):
        line = line.encode()
    head = line + b"\r\nHost: trackly.test\r\n"
    for h in headers:
        head += (h.encode() if isinstance(h, str) else h) + b"\r\n"
    return head + b"Connection: close\r\n\r\n" + body


def access_log_lines(text):
    """nginx access-log lines containing text (the log sits beside
    TRACKLY_NGINX_LOG)."""
    path = Path(env("TRACKLY_NGINX_LOG")).with_name("nginx-access.log")
    deadline = time.monotonic() + 2
    while True:
        lines = [line for line in
                 path.read_bytes().decode("utf-8", "replace").splitlines()
                 if text in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def assert_api_not_asked(text):
    """The request carrying text was answered by nginx alone."""
    lines = access_log_lines(text)
    assert lines, f"no access-log line for {text}"
    for line in lines:
        assert "upstream=-" in line, f"the API was asked: {line}"


@pytest.fixture(scope="module")
def owner():
    """A user with one project, for the path tricks (read-only)."""
    user = make_user()
    return user, create_project(user)


# --- heads too large -------------------------------------------------------

def test_one_header_over_8_kib_is_431(owner):
    user, _ = owner
    probe = marker()
    r = raw_request(request(f"GET /user/me?{probe} HTTP/1.1",
                            f"Authorization: Bearer {user.token}",
                            "X-Big: " + "a" * HEADER_LINE_MAX))
    expect_raw_error(r, 431)
    assert_api_not_asked(probe)


def test_headers_over_32_kib_in_all_are_431(owner):
    user, _ = owner
    probe = marker()
    many = [f"X-Pad-{i}: " + "a" * 7000 for i in range(5)]
    r = raw_request(request(f"GET /user/me?{probe} HTTP/1.1",
                            f"Authorization: Bearer {user.token}", *many))
    expect_raw_error(r, 431)
    assert_api_not_asked(probe)


def test_thousands_of_small_headers_are_431():
    probe = marker()
    many = [f"X-{i}: y" for i in range(5000)]
    expect_raw_error(raw_request(request(f"GET /healthcheck?{probe} HTTP/1.1",
                                         *many)), 431)
    assert_api_not_asked(probe)


def test_authorization_header_over_8_kib_is_431():
    probe = marker()
    r = raw_request(request(f"GET /user/me?{probe} HTTP/1.1",
                            "Authorization: Bearer " + "a" * 9000))
    expect_raw_error(r, 431)
    assert_api_not_asked(probe)


@pytest.mark.parametrize("where", ["path", "query"])
def test_request_line_over_8_kib_is_414(where):
    probe = marker()
    target = f"/project/{probe}{'a' * 9000}" if where == "path" else \
        f"/project?{probe}={'a' * 9000}"
    expect_raw_error(raw_request(request(f"GET {target} HTTP/1.1")), 414)


def test_path_over_1_kib_is_414_from_the_api(owner):
    """nginx passes paths up to 8 KiB; the API routes at most 1 KiB."""
    user, _ = owner
    expect_error(call("GET", "/project/" + "1" * 2000, token=user.token), 414)


def test_token_just_over_the_verifier_limit_is_401():
    """Under nginx's 8 KiB but over the API's 4 KiB token limit."""
    r = call("GET", "/user/me", headers={"Authorization": "Bearer " +
                                         "a" * 5000})
    expect_unauthorized(r)


# --- malformed request lines and headers ----------------------------------

@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"get /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n",
    b"G\x01T /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthcheck HTTP/1.1\r\n\r\n",                    # no Host
    b"GET /healthcheck HTTP/1.1\r\nHost: a/b\r\n\r\n",
    b"GET /healthcheck HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    b"GET /healthcheck HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n",
    b"GET /healthcheck HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n",
    b"GET /project/1\t HTTP/1.1\r\nHost: x\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /user/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a.b.c\r\n"
    b"Authorization: Bearer d.e.f\r\n\r\n",
], ids=["garbage", "http2-preface", "lowercase-method", "control-in-method",
        "no-host", "bad-host", "nul-in-header", "folded-header",
        "space-in-header-name", "tab-in-path", "options-star",
        "two-authorization-headers"])
def test_malformed_request_is_400_json(raw):
    expect_raw_error(raw_request(raw), 400)


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/9.9"])
def test_unknown_http_version_is_505_json(version):
    expect_raw_error(raw_request(request(f"GET /healthcheck {version}")),
                     505)


@pytest.mark.parametrize("line,status", [
    ("TRACE /user/me HTTP/1.1", 405),
    ("A" * 5000 + " /healthcheck HTTP/1.1", 405),
    ("POST /index.html HTTP/1.1", 405),
    ("GET /.trackly-error/500 HTTP/1.1", 404),
])
def test_odd_methods_and_internal_paths_get_json(line, status):
    expect_raw_error(raw_request(request(line, "Content-Length: 0")), status)


@pytest.mark.parametrize("value", [
    b"Bearer \xff\xfe", b"Bearer \xc0\x80", b"Bearer \xed\xa0\x80.a.b",
    b"\xff", b"Bearer a\x7fb",
])
def test_malformed_utf8_in_authorization_is_401(value):
    r = raw_request(request("GET /user/me HTTP/1.1",
                            b"Authorization: " + value))
    expect_raw_error(r, 401)
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer")


@pytest.mark.parametrize("value", [b"http://allowed.test\xff",
                                   b"http://\xc0\xaf.test", b"\xed\xa0\x80"])
def test_malformed_utf8_in_origin_is_not_echoed(value):
    r = raw_request(request("GET /healthcheck HTTP/1.1", b"Origin: " + value))
    assert r.status == 200
    assert "access-control-allow-origin" not in r.headers


# --- Content-Length and Transfer-Encoding that lie or clash ----------------

@pytest.mark.parametrize("headers", [
    ["Content-Length: abc"],
    ["Content-Length: -1"],
    ["Content-Length: +2"],
    ["Content-Length: 2 2"],
    ["Content-Length: 0x2"],
    ["Content-Length: 99999999999999999999"],
    ["Content-Length: 2", "Content-Length: 2"],
    ["Content-Length: 2", "Content-Length: 3"],
    ["Content-Length: 2", "Transfer-Encoding: chunked"],
], ids=["not-a-number", "negative", "plus-sign", "two-numbers", "hex",
        "overflow", "twice-same", "twice-different", "with-chunked"])
def test_bad_content_length_is_400(db, headers):
    raw = request("POST /user/register HTTP/1.1", *headers,
                  "Content-Type: application/json",
                  body=b"{}" if "chunked" not in headers[-1] else
                  b"2\r\n{}\r\n0\r\n\r\n")
    with no_writes(db):
        expect_raw_error(raw_request(raw), 400)


@pytest.mark.parametrize("coding", ["gzip", "identity", "chunked, chunked"])
def test_unknown_transfer_coding_is_501(coding):
    raw = request("POST /user/login HTTP/1.1", f"Transfer-Encoding: {coding}",
                  body=b"2\r\n{}\r\n0\r\n\r\n")
    expect_raw_error(raw_request(raw), 501)


def test_bad_chunk_size_is_400():
    raw = request("POST /user/login HTTP/1.1", "Transfer-Encoding: chunked",
                  body=b"zz\r\n{}\r\n0\r\n\r\n")
    expect_raw_error(raw_request(raw), 400)


def register_body():
    return (f'{{"email":"u-{uuid.uuid4().hex}@example.test",'
            f'"password":"long-enough-password"}}').encode()


def test_body_shorter_than_content_length_then_close_writes_nothing(db):
    """The client promises 200 bytes, sends a valid registration, and
    hangs up: nginx never passes the partial body on."""
    body = register_body()
    probe = marker()
    raw = (f"POST /user/register?{probe} HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
           ).encode() + body
    with no_writes(db):
        assert raw_exchange(raw, half_close=True, timeout=5) == b""
    assert_api_not_asked(probe)


def test_body_longer_than_content_length_is_the_next_request(db):
    """Bytes past Content-Length are the next request on the connection,
    as HTTP says: a valid one is answered on its own, garbage gets a 400.
    Neither can change how the first body is read."""
    raw = (b"POST /user/login HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n"
           b"{}GET /healthcheck HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    first, second = parse_responses(raw_exchange(raw, responses=2))
    assert "email" in expect_raw_error(first, 400)
    assert second.status == 200 and second.json()["status"] == "ok"

    raw = (b"POST /user/register HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n"
           b"{}" + register_body() + b"\r\n\r\n")
    with no_writes(db):
        first, second = parse_responses(raw_exchange(raw, responses=2))
    expect_raw_error(first, 400)
    expect_raw_error(second, 400)


# --- slow clients ----------------------------------------------------------

def slow_head(ip, deadline, result):
    """Slowloris: a request head sent one byte every 0.3 s, never
    finished.  Appends (how it ended, what nginx sent, seconds taken)."""
    start = time.monotonic()
    data = b"GET /healthcheck HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    how, got = "still open", b""
    with socket.socket() as sock:
        sock.bind((ip, 0))
        sock.connect(_server())
        sock.settimeout(0.3)
        for byte in data:
            if time.monotonic() > deadline:
                break
            try:
                sock.send(bytes([byte]))
                got = sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:           # reset: reset_timedout_connection
                got = b""
            how = "closed"            # nginx hung up, or answered
            break
    result.append((how, got, time.monotonic() - start))


def stalled_body(ip, deadline, result):
    """A head announcing 100 bytes of body, then 10 bytes, then nothing."""
    start = time.monotonic()
    sock = socket.socket()
    try:
        sock.bind((ip, 0))
        sock.connect(_server())
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        sock.sendall(b"POST /project HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"name\":\"")
        got = b""
        try:
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                got += chunk
            result.append(("closed", got, time.monotonic() - start))
        except socket.timeout:
            result.append(("still open", got, time.monotonic() - start))
        except OSError:
            result.append(("closed", got, time.monotonic() - start))
    finally:
        sock.close()


def _server():
    host_port = BASE_URL.split("://", 1)[1]
    host, port = host_port.rsplit(":", 1)
    return host, int(port)


def test_slow_clients_are_cut_off_and_others_are_served(db):
    """20 slowloris connections and 5 stalled bodies, all from one address,
    while other clients keep calling /healthcheck.  nginx must close every
    slow connection after its timeout (10 s) without passing anything to
    the API, and answer everyone else meanwhile.  Bounded: 25 s at most."""
    ip = next_source_ip()
    deadline = time.monotonic() + 25
    heads, bodies = [], []
    threads = [threading.Thread(target=slow_head, args=(ip, deadline, heads))
               for _ in range(20)]
    threads += [threading.Thread(target=stalled_body,
                                 args=(ip, deadline, bodies))
                for _ in range(5)]
    with no_writes(db):
        for t in threads:
            t.start()
        served = failed = 0
        while any(t.is_alive() for t in threads):
            r = call("GET", "/healthcheck", timeout=5)
            if r.status_code == 200:
                served += 1
            else:
                failed += 1
            time.sleep(0.2)
        for t in threads:
            t.join()

    assert failed == 0, f"{failed} health checks failed during the attack"
    assert served >= 10, f"only {served} health checks answered"
    assert len(heads) == 20 and len(bodies) == 5
    for how, got, elapsed in heads + bodies:
        assert how == "closed", f"a slow connection was still open " \
            f"after {elapsed:.1f} s"
        # nginx either says nothing (client_header_timeout) or 408 JSON.
        if got:
            expect_raw_error(parse_responses(got)[0], 408)


# --- paths: traversal, encoded slashes, ids that are not ids ---------------

def path_cases(pid):
    return [
        f"/project/{pid}%2F1", f"/project/{pid}%2f", "/project/%2e%2e",
        f"/project/%2E%2E/{pid}", f"/project/..%2F{pid}",
        f"/project/{pid}/..", f"/project/{pid}/../{pid}", "/project/../user/me",
        f"//project/{pid}", f"/project//{pid}", f"/project/{pid};x",
        f"/project/{pid};", f"/project/0{pid}", f"/project/-{pid}",
        f"/project/+{pid}", f"/project/{pid}.0", f"/project/{pid}e0",
        f"/project/0x{pid:x}", f"/project/%3{pid % 10}",
        f"/project/{pid}/", f"/project/{pid}/checks/", "/project/0",
        "/project/99999999999999999999", "/project/9223372036854775808",
        "/project/9223372036854775807", "/project/18446744073709551616",
        f"/project/{pid}\xff", f"/project/{pid}\xc0\x80", "/project/\xed\xa0\x80",
        f"/project/{pid}%C0%80", f"/project/{pid}%FF",
        "/user/me/", "/user//me", "/user/me;x", "/user/%6De",
        "/user/me/..", "/healthcheck/", "/healthcheck;x",
    ]


@pytest.mark.parametrize("case", range(len(path_cases(1))))
def test_path_tricks_are_404(owner, db, case):
    """Ids are positive decimal integers without leading zeros, routes
    match the raw path exactly; anything else is a 404 JSON, whether the
    API or nginx (for paths its normalisation moved) says so."""
    user, proj = owner
    path = path_cases(proj["id"])[case]
    raw = request(f"GET {path} HTTP/1.1".encode("latin-1"),
                  f"Authorization: Bearer {user.token}")
    with no_writes(db):
        r = raw_request(raw)
    assert r.status == 404, f"{path!r}: {r.status} {r.body[:200]!r}"
    expect_raw_error(r, 404)


@pytest.mark.parametrize("path", [
    "/project/../../etc/passwd", "/project/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/project/1%00", "/user/me%00",
])
def test_paths_nginx_refuses_are_400(path):
    probe = marker()
    r = raw_request(request(f"GET {path}?{probe} HTTP/1.1"))
    expect_raw_error(r, 400)


def test_other_users_project_through_path_tricks_is_404(owner, db):
    """None of the spellings reaches someone else's project."""
    _, proj = owner
    stranger = make_user()
    for path in (f"/project/{proj['id']}", f"/project/0{proj['id']}",
                 f"//project/{proj['id']}", f"/project/{proj['id']}/",
                 f"/project/x/../{proj['id']}"):
        r = raw_request(request(f"GET {path} HTTP/1.1",
                                f"Authorization: Bearer {stranger.token}"))
        expect_raw_error(r, 404)
    for method in ("PUT", "DELETE"):
        with no_writes(db):
            r = call(method, f"/project/{proj['id']}", token=stranger.token,
                     json={"name": "taken"})
        expect_error(r, 404)


# --- malformed UTF-8 and NUL in queries ------------------------------------

@pytest.mark.parametrize("query", [
    "limit=%C0%80", "limit=%FF", "limit=%ED%A0%80", "offset=%F5%80%80%80",
    "x=%E2%82", "x=%00",
], ids=["overlong", "FF", "surrogate", "F5", "truncated", "nul"])
def test_malformed_query_on_project_list_is_400(owner, query):
    user, _ = owner
    r = call("GET", f"/project?{query}", token=user.token)
    expect_error(r, 400)


@pytest.mark.parametrize("path", ["/project/mute", "/user/verify"])
@pytest.mark.parametrize("token", ["%FF", "%C0%80", "%ED%A0%80", "abc%00",
                                   "%E2%82", "\xff"])
def test_malformed_token_in_links_is_400(db, path, token):
    """"?token=%FF" on the mute link once reached Postgres as text, which
    refused it: a 500.  A query that is not UTF-8 once decoded is now a 400
    before any handler runs."""
    for method in ("GET", "POST") if path == "/project/mute" else ("GET",):
        with no_writes(db):
            r = raw_request(request(
                f"{method} {path}?token={token} HTTP/1.1".encode("latin-1"),
                "Content-Length: 0"))
        expect_raw_error(r, 400)


def test_raw_high_bytes_in_the_query_are_400(owner):
    user, _ = owner
    r = raw_request(request(b"GET /project?limit=\xc0\x80 HTTP/1.1",
                            f"Authorization: Bearer {user.token}"))
    expect_raw_error(r, 400)


def test_valid_utf8_in_an_ignored_parameter_is_fine(owner):
    user, _ = owner
    r = call("GET", "/project?note=%E2%82%AC%F0%9F%98%80&limit=5",
             token=user.token)
    assert isinstance(expect_json(r, 200), list)
