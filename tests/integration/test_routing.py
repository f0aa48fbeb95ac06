"""What nginx and the router do with paths and methods, CORS, and the
headers every API answer carries."""

import socket

import pytest

from helpers.fcgi import fcgi_request
from helpers.http import (
    call, expect_error, expect_json, is_json_type, next_source_ip,
)
from helpers.projects import project_body
from helpers.stack import BASE_URL, env

ALLOWED_ORIGIN = "http://allowed.test"
EVIL_ORIGIN = "http://evil.test"


def header_items(response, name):
    """The comma-separated values of a header, lower-cased."""
    return {item.strip().lower()
            for item in response.headers.get(name, "").split(",")
            if item.strip()}


# --- unknown paths and wrong methods ---------------------------------------

@pytest.mark.parametrize("method,path", [
    ("GET", "/user/nope"),
    ("POST", "/user/nope"),
    ("GET", "/user/me/extra"),
    ("GET", "/user/"),
    ("GET", "/project/abc/def?x=1"),
    ("GET", "/project/abc"),
])
def test_unknown_api_path_is_404_json(method, path):
    expect_error(call(method, path), 404)


@pytest.mark.parametrize("method,path,allowed", [
    ("GET", "/user/login", "POST"),
    ("PUT", "/user/register", "POST"),
    ("DELETE", "/healthcheck", "GET"),
    ("POST", "/healthcheck", "GET"),
    ("POST", "/user/me", "GET"),
    ("GET", "/user/logout", "POST"),
    ("PUT", "/user/verify", "POST"),
    ("GET", "/user/verify/resend", "POST"),
])
def test_wrong_method_is_405_with_allow(method, path, allowed):
    r = call(method, path, json={})
    expect_error(r, 405)
    assert allowed.lower() in header_items(r, "Allow"), \
        f"Allow is {r.headers.get('Allow')!r}"


# --- HEAD (issue 12 item 8): load balancers probe with it ------------------

# Headers that must be the same on a GET and a HEAD of the same resource.
HEAD_SAME = ("content-type", "content-length", "cache-control",
             "x-content-type-options", "content-security-policy",
             "x-total-count", "location")


def raw_head(path, headers=()):
    """HEAD path over a socket of its own, Connection: close, returning
    (status, lower-cased headers, every byte after the head): nothing may
    follow the head of a HEAD answer."""
    host, port = BASE_URL.removeprefix("http://").split(":")
    lines = [f"HEAD {path} HTTP/1.1", f"Host: {host}", "Connection: close",
             "Accept-Encoding: identity", *headers, "", ""]
    with socket.create_connection((host, int(port)), timeout=10,
                                  source_address=(next_source_ip(), 0)) as s:
        s.sendall("\r\n".join(lines).encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    got = {}
    for field in fields:
        name, _, value = field.partition(":")
        got[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), got, rest


def get_paths(user):
    """Every GET route of the table with a real id and token: path, token."""
    pid = expect_json(call("POST", "/project", token=user.token,
                           json=project_body()), 201)["id"]
    mine = [f"/project/{pid}", f"/project/{pid}/checks",
            f"/project/{pid}/uptime", f"/project/{pid}/incidents",
            f"/project/{pid}/series", "/project", "/project/dashboard",
            "/project/status", "/user/me"]
    return ([(p, user.token) for p in mine] +
            [("/healthcheck", None), ("/metrics", None),
             ("/user/verify?token=abc", None),
             ("/project/mute?token=abc", None),
             ("/user/me", "not-a-token")])


def test_head_answers_like_get_without_a_body(new_user):
    for path, token in get_paths(new_user):
        auth = [f"Authorization: Bearer {token}"] if token else []
        get = call("GET", path, token=token,
                   headers={"Accept-Encoding": "identity"},
                   allow_redirects=False)
        status, head, rest = raw_head(path, auth)
        assert status == get.status_code, (path, status, get.status_code)
        assert rest == b"", (path, rest[:100])
        for name in HEAD_SAME:
            if name == "content-length" and name not in head:
                continue             # allowed to be left out
            if name == "content-length" and path == "/metrics":
                # Counters move between the two requests.
                continue
            assert head.get(name) == get.headers.get(name), \
                (path, name, head.get(name), get.headers.get(name))
        if "content-length" in head and path != "/metrics":
            assert int(head["content-length"]) == len(get.content), path


def test_head_on_healthcheck_is_200():
    status, head, rest = raw_head("/healthcheck")
    assert status == 200 and rest == b""
    assert head["content-type"].startswith("application/json")


def test_api_writes_no_body_for_head():
    """The API itself, without nginx (which would drop a body anyway)."""
    sock = env("TRACKLY_API_SOCKET")
    status, headers, body = fcgi_request(sock, "GET", "/healthcheck")
    assert status == 200 and body
    status, head, rest = fcgi_request(sock, "HEAD", "/healthcheck")
    assert status == 200 and rest == b""
    assert head["content-length"] == str(len(body))


@pytest.mark.parametrize("path,allowed", [
    ("/user/login", {"post", "options"}),
    ("/user", {"delete", "options"}),
    ("/project/1/check", {"post", "options"}),
])
def test_head_on_a_route_without_get_is_405(path, allowed):
    status, head, rest = raw_head(path)
    assert status == 405 and rest == b""
    assert {m.strip().lower() for m in head["allow"].split(",")} == allowed


def test_allow_lists_head_beside_get():
    r = call("PATCH", "/healthcheck")
    expect_error(r, 405)
    assert header_items(r, "Allow") == {"get", "head", "options"}


@pytest.mark.parametrize("path", ["/dashboard", "/projects"])
def test_client_side_routes_reach_the_web_client(path):
    r = call("GET", path)
    assert r.status_code == 200, r.status_code
    assert r.headers.get("Content-Type", "").startswith("text/html")
    assert b"<" in r.content


# --- headers on every API answer -------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("GET", "/healthcheck"),          # 200
    ("GET", "/user/me"),              # 401
    ("GET", "/user/nope"),            # 404
    ("GET", "/user/login"),           # 405
    ("POST", "/user/register"),       # 400 (no body)
])
def test_api_answers_carry_security_headers(method, path):
    r = call(method, path)
    assert is_json_type(r), f"Content-Type {r.headers.get('Content-Type')!r}"
    assert r.headers.get("X-Content-Type-Options", "").lower() == "nosniff"
    r.json()


def test_server_does_not_advertise_its_version():
    server = call("GET", "/healthcheck").headers.get("Server", "")
    assert not any(ch.isdigit() for ch in server), f"Server: {server}"


# --- CORS ------------------------------------------------------------------

def test_allowed_origin_gets_cors_headers():
    r = call("GET", "/healthcheck", headers={"Origin": ALLOWED_ORIGIN})
    expect_json(r, 200)
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    assert "origin" in header_items(r, "Vary")


def test_allowed_origin_gets_cors_headers_on_errors_too():
    """Otherwise the browser hides the 401 from the web client."""
    r = call("GET", "/user/me", headers={"Origin": ALLOWED_ORIGIN})
    expect_error(r, 401)
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN


@pytest.mark.parametrize("origin", [
    EVIL_ORIGIN, "http://allowed.test.evil.test", "https://allowed.test",
    "null",
])
def test_other_origins_get_no_cors_headers(origin):
    r = call("GET", "/healthcheck", headers={"Origin": origin})
    expect_json(r, 200)
    assert "Access-Control-Allow-Origin" not in r.headers
    assert "Access-Control-Allow-Credentials" not in r.headers


@pytest.mark.parametrize("path,method", [
    ("/user/login", "POST"),
    ("/user/me", "GET"),
    ("/user/password", "PUT"),
])
def test_preflight_from_allowed_origin_is_204(path, method):
    r = call("OPTIONS", path, headers={
        "Origin": ALLOWED_ORIGIN,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    })
    assert r.status_code == 204, f"{r.status_code}: {r.text[:200]!r}"
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    assert method.lower() in header_items(r, "Access-Control-Allow-Methods")
    allowed_headers = header_items(r, "Access-Control-Allow-Headers")
    assert {"authorization", "content-type"} <= allowed_headers, allowed_headers


def test_preflight_from_other_origin_is_not_allowed():
    r = call("OPTIONS", "/user/login", headers={
        "Origin": EVIL_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    })
    assert r.status_code < 500, r.status_code
    assert "Access-Control-Allow-Origin" not in r.headers
