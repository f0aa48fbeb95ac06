"""What nginx and the router do with paths and methods, CORS, and the
headers every API answer carries."""

import pytest

from conftest import call, expect_error, expect_json, is_json_type

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
