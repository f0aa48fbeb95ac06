"""The browser's session: the token in an HttpOnly cookie, set by
POST /user/login and PUT /user/password, cleared by POST /user/logout,
DELETE /user and POST /user/signout, and accepted in place of a Bearer
header only with the web client's CSRF marks (X-Requested-With: trackly,
and Sec-Fetch-Site: same-origin when the browser sends it).  API clients
keep using Bearer tokens, unchanged."""

import re
import time

import pytest

from helpers.db import no_writes
from helpers.fcgi import fcgi_request
from helpers.http import call, expect_error, expect_json, expect_unauthorized
from helpers.jwt import claims_for, jwt_encode
from helpers.stack import GOOD_SECRET, api_instance, binary_env, env
from helpers.users import SECRETS_USED, login, random_password
from helpers.wait import wait_until

COOKIE = "trackly_session"
CSRF = {"X-Requested-With": "trackly"}
REFUSED = "cross-site request refused"
TTL = 86400            # JWT_TTL of the test stack (the default)
CLEARING = f"{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"


def session_cookie(response):
    """The Set-Cookie header of response (exactly one), or None."""
    values = response.raw.headers.getlist("Set-Cookie")
    assert len(values) <= 1, values
    return values[0] if values else None


def cookie_token(set_cookie):
    match = re.match(rf"{COOKIE}=([^;]*);", set_cookie or "")
    assert match, set_cookie
    SECRETS_USED.add(match.group(1))
    return match.group(1)


def with_cookie(value, **headers):
    """Request headers carrying the session cookie value, plus headers."""
    return {"Cookie": f"{COOKIE}={value}", **headers}


def me(value, **headers):
    return call("GET", "/user/me", headers=with_cookie(value, **headers))


def browser_login(user):
    """Logs user in as the web client does; returns the cookie's token."""
    r = login(user.email, user.password)
    body = expect_json(r, 200)
    token = cookie_token(session_cookie(r))
    assert token == body["token"]
    return token


# --- the cookie is set ------------------------------------------------------

def test_login_sets_the_session_cookie(new_user):
    r = login(new_user.email, new_user.password)
    body = expect_json(r, 200)
    assert set(body) == {"token", "expires_at"}       # the body is unchanged
    SECRETS_USED.add(body["token"])
    assert session_cookie(r) == (f"{COOKIE}={body['token']}; Path=/; "
                                 f"Max-Age={TTL}; HttpOnly; SameSite=Strict")


@pytest.mark.parametrize("fetch_site,cookie", [
    ("same-origin", True), ("cross-site", False), ("same-site", False),
    ("none", False),
])
def test_login_started_on_another_site_sets_no_cookie(new_user, fetch_site,
                                                      cookie):
    """Login CSRF: a form on another site can post JSON (as text/plain) to
    /user/login; the browser marks that request Sec-Fetch-Site: cross-site,
    and no cookie comes back to sign the visitor in as someone else."""
    r = login(new_user.email, new_user.password,
              headers={"Sec-Fetch-Site": fetch_site})
    body = expect_json(r, 200)
    SECRETS_USED.add(body["token"])
    assert set(body) == {"token", "expires_at"}
    assert (session_cookie(r) is not None) == cookie


def test_a_text_plain_form_post_is_read_as_json_but_sets_no_cookie(new_user):
    """What such a form sends, byte for byte."""
    name = ('{"email":"%s","password":"%s","x":"' %
            (new_user.email, new_user.password))
    r = call("POST", "/user/login", data=(name + '=x"}').encode(),
             headers={"Content-Type": "text/plain",
                      "Sec-Fetch-Site": "cross-site",
                      "Origin": "http://evil.test"})
    SECRETS_USED.add(expect_json(r, 200)["token"])
    assert session_cookie(r) is None
    assert "Access-Control-Allow-Origin" not in r.headers


def test_failed_login_sets_no_cookie(new_user):
    r = login(new_user.email, "wrong-" + random_password())
    expect_error(r, 401)
    assert session_cookie(r) is None


def test_other_answers_set_no_cookie(new_user):
    for r in (new_user.me(), call("GET", "/healthcheck"),
              call("GET", "/project", token=new_user.token)):
        assert session_cookie(r) is None


def test_password_change_sets_a_new_cookie_and_the_old_one_stops(new_user):
    old = browser_login(new_user)
    r = call("PUT", "/user/password", headers=with_cookie(old, **CSRF),
             json={"current_password": new_user.password,
                   "new_password": random_password()})
    body = expect_json(r, 200)
    assert set(body) == {"token", "expires_at"}
    new = cookie_token(session_cookie(r))
    assert new == body["token"] and new != old
    assert session_cookie(r).endswith(
        f"; Path=/; Max-Age={TTL}; HttpOnly; SameSite=Strict")
    expect_json(me(new, **CSRF), 200)
    assert expect_unauthorized(me(old, **CSRF)) == "invalid or expired token"


# --- the cookie authenticates, with the CSRF marks --------------------------

def test_cookie_with_the_csrf_header_authenticates(new_user):
    token = browser_login(new_user)
    body = expect_json(me(token, **CSRF), 200)
    assert body["id"] == new_user.id
    same = me(token, **CSRF, **{"Sec-Fetch-Site": "same-origin"})
    assert expect_json(same, 200)["id"] == new_user.id


@pytest.mark.parametrize("headers", [
    {},
    {"X-Requested-With": "XMLHttpRequest"},
    {"X-Requested-With": "Trackly"},
    {"X-Requested-With": ""},
    {**CSRF, "Sec-Fetch-Site": "cross-site"},
    {**CSRF, "Sec-Fetch-Site": "same-site"},
    {**CSRF, "Sec-Fetch-Site": "none"},
    {**CSRF, "Sec-Fetch-Site": ""},
    {"Sec-Fetch-Site": "same-origin"},
], ids=["none", "xhr", "case", "empty", "cross-site", "same-site",
        "fetch-none", "fetch-empty", "fetch-only"])
def test_cookie_without_the_csrf_marks_is_403(new_user, headers):
    token = browser_login(new_user)
    assert expect_error(me(token, **headers), 403) == REFUSED


def test_a_cross_site_write_with_the_cookie_changes_nothing(new_user, db):
    """A form on another site can make the browser send the cookie (were
    it not SameSite=Strict), but not a custom header."""
    token = browser_login(new_user)
    with no_writes(db):
        for method, path, body in (
                ("POST", "/project", {"name": "x",
                                      "link": "https://example.com/"}),
                ("POST", "/user/logout", None),
                ("DELETE", "/user", {"password": new_user.password}),
                ("PUT", "/user/password",
                 {"current_password": new_user.password,
                  "new_password": random_password()})):
            r = call(method, path, json=body, headers=with_cookie(
                token, **{"Sec-Fetch-Site": "cross-site"}))
            assert expect_error(r, 403) == REFUSED, (method, path)
            r = call(method, path, json=body, headers=with_cookie(token))
            assert expect_error(r, 403) == REFUSED, (method, path)
    expect_json(me(token, **CSRF), 200)


def test_cookie_works_for_writes_with_the_csrf_header(new_user):
    token = browser_login(new_user)
    r = call("POST", "/project", headers=with_cookie(token, **CSRF),
             json={"name": "by cookie", "link": "https://example.com/"})
    assert expect_json(r, 201)["user_id"] == new_user.id


def test_no_cookie_and_no_header_is_401_as_before():
    message = expect_unauthorized(call("GET", "/user/me", headers=CSRF))
    assert message == "missing bearer token"
    expect_unauthorized(call("GET", "/user/me",
                             headers={"Cookie": "other=1; x=y", **CSRF}))
    # An empty session cookie (what a cleared one would be) is no session.
    expect_unauthorized(me("", **CSRF))


@pytest.mark.parametrize("forge", [
    "garbage", "a.b.c", "long", "wrong-key", "expired", "no-version",
    "quoted", "space",
])
def test_forged_or_bad_cookie_is_401(new_user, forge):
    version = 0
    tokens = {
        "garbage": "garbage",
        "a.b.c": "a.b.c",
        "long": "x" * 4097,
        "wrong-key": jwt_encode(claims_for(new_user.id, version),
                                key="k" * 40),
        "expired": jwt_encode(claims_for(new_user.id, version,
                                         exp=int(time.time()) - 3600,
                                         iat=int(time.time()) - 7200)),
        "no-version": jwt_encode(claims_for(new_user.id, None)),
        "quoted": f'"{new_user.token}"',
        "space": new_user.token + " x",
    }
    r = me(tokens[forge], **CSRF)
    assert expect_unauthorized(r) == "invalid or expired token"


def test_a_forged_cookie_without_the_csrf_header_is_403(new_user):
    assert expect_error(me("garbage"), 403) == REFUSED


def test_revoked_cookie_is_401(new_user):
    token = browser_login(new_user)
    expect_json(me(token, **CSRF), 200)
    r = call("POST", "/user/logout", token=new_user.token)
    assert r.status_code == 204
    assert expect_unauthorized(me(token, **CSRF)) == "invalid or expired token"


# --- parsing the Cookie header ----------------------------------------------

def test_the_session_cookie_is_found_among_others(new_user):
    token = browser_login(new_user)
    for header in (f"theme=dark; {COOKIE}={token}; lang=en",
                   f"{COOKIE}={token}",
                   f"a=1;{COOKIE}={token}",
                   f"flag; {COOKIE}={token}",
                   f"x_{COOKIE}=nope; {COOKIE}={token}"):
        r = call("GET", "/user/me", headers={"Cookie": header, **CSRF})
        assert expect_json(r, 200)["id"] == new_user.id, header


def test_only_the_exact_name_counts(new_user):
    token = browser_login(new_user)
    for header in (f"Trackly_Session={token}", f"x{COOKIE}={token}",
                   f"{COOKIE}x={token}", f"a=1; {COOKIE} ={token}",
                   f"{COOKIE}"):
        r = call("GET", "/user/me", headers={"Cookie": header, **CSRF})
        assert expect_unauthorized(r) == "missing bearer token", header


def test_the_first_session_cookie_wins(new_user):
    token = browser_login(new_user)
    first_bad = f"{COOKIE}=garbage; {COOKIE}={token}"
    r = call("GET", "/user/me", headers={"Cookie": first_bad, **CSRF})
    assert expect_unauthorized(r) == "invalid or expired token"
    first_good = f"{COOKIE}={token}; {COOKIE}=garbage"
    r = call("GET", "/user/me", headers={"Cookie": first_good, **CSRF})
    expect_json(r, 200)


def test_a_cookie_just_over_the_token_limit_is_401_not_read(new_user):
    token = browser_login(new_user)
    long = token + "A" * (4097 - len(token))
    assert expect_unauthorized(me(long, **CSRF)) == "invalid or expired token"


# --- Bearer wins ------------------------------------------------------------

def test_a_bearer_header_wins_over_the_cookie(new_user, other_user):
    theirs = browser_login(other_user)
    r = call("GET", "/user/me", token=new_user.token,
             headers=with_cookie(theirs))
    assert expect_json(r, 200)["id"] == new_user.id     # no CSRF mark needed
    r = call("GET", "/user/me", token="garbage",
             headers=with_cookie(theirs, **CSRF))
    assert expect_unauthorized(r) == "invalid or expired token"


# --- clearing the cookie ----------------------------------------------------

def test_logout_clears_the_cookie_and_revokes(new_user):
    token = browser_login(new_user)
    r = call("POST", "/user/logout", headers=with_cookie(token, **CSRF))
    assert r.status_code == 204 and r.content == b""
    assert session_cookie(r) == CLEARING
    expect_unauthorized(me(token, **CSRF))
    expect_unauthorized(new_user.me())


def test_delete_account_clears_the_cookie(new_user):
    token = browser_login(new_user)
    r = call("DELETE", "/user", headers=with_cookie(token, **CSRF),
             json={"password": new_user.password})
    assert r.status_code == 204, r.text
    assert session_cookie(r) == CLEARING


def test_signout_clears_the_cookie_and_revokes_nothing(new_user):
    token = browser_login(new_user)
    r = call("POST", "/user/signout", headers=with_cookie(token, **CSRF))
    assert r.status_code == 204 and r.content == b""
    assert session_cookie(r) == CLEARING
    # This browser forgets the cookie; the token itself still works.
    expect_json(me(token, **CSRF), 200)
    expect_json(new_user.me(), 200)


def test_signout_needs_no_session_but_the_csrf_header():
    r = call("POST", "/user/signout", headers=CSRF)
    assert r.status_code == 204
    assert session_cookie(r) == CLEARING


@pytest.mark.parametrize("headers", [
    {}, {"Cookie": f"{COOKIE}=x"},
    {**CSRF, "Sec-Fetch-Site": "cross-site"},
], ids=["nothing", "cookie-only", "cross-site"])
def test_signout_without_the_csrf_marks_is_403(headers):
    r = call("POST", "/user/signout", headers=headers)
    assert expect_error(r, 403) == REFUSED
    assert session_cookie(r) is None


def test_signout_is_post_only():
    r = call("GET", "/user/signout", headers=CSRF)
    expect_error(r, 405)
    assert r.headers["Allow"].startswith("POST")


# --- CORS stays Bearer-only -------------------------------------------------

def test_cors_never_allows_credentials_or_the_csrf_header(new_user):
    origin = env("TRACKLY_CORS_ORIGIN")
    r = call("OPTIONS", "/user/me", headers={
        "Origin": origin, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-requested-with"})
    assert r.status_code == 204
    allowed = r.headers.get("Access-Control-Allow-Headers", "").lower()
    assert "x-requested-with" not in allowed, allowed
    assert "Access-Control-Allow-Credentials" not in r.headers
    r = login(new_user.email, new_user.password, headers={"Origin": origin})
    SECRETS_USED.add(expect_json(r, 200)["token"])
    assert r.headers.get("Access-Control-Allow-Origin") == origin
    assert "Access-Control-Allow-Credentials" not in r.headers


# --- Secure over HTTPS ------------------------------------------------------

def private_api(**extra):
    return api_instance(binary_env(DB_URL=env("TRACKLY_DB_URL"),
                                   JWT_SECRET=GOOD_SECRET, **extra))


def fcgi_login(sock, user, **params):
    body = ('{"email": "%s", "password": "%s"}' %
            (user.email, user.password)).encode()
    status, headers, payload = fcgi_request(sock, "POST", "/user/login",
                                            body=body, params=params)
    assert status == 200, payload
    return headers["set-cookie"]


@pytest.mark.parametrize("public_url,params,secure", [
    ("http://trackly.test", {}, False),
    ("http://trackly.test", {"HTTPS": "on"}, True),
    ("https://trackly.test", {}, True),
], ids=["http", "https-param", "https-url"])
def test_cookie_is_secure_over_https(new_user, public_url, params, secure):
    with private_api(PUBLIC_URL=public_url) as (proc, sock):
        assert wait_until(sock.exists, timeout=10), proc.err_path.read_text()
        assert wait_until(lambda: _answers(sock), timeout=5)
        cookie = fcgi_login(sock, new_user, **params)
        cookie_token(cookie)
        assert cookie.endswith("; Secure") == secure, cookie
        status, headers, _ = fcgi_request(
            sock, "POST", "/user/signout", headers=CSRF, params=params)
        assert status == 204
        assert headers["set-cookie"] == CLEARING + ("; Secure" if secure
                                                    else "")


def _answers(sock):
    try:
        return fcgi_request(sock, "GET", "/healthcheck", timeout=2)[0] == 200
    except OSError:
        return False
