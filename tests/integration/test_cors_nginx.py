"""CORS on the answers nginx makes itself, and preflights outside the rate
limits (issue 12 item 10).

The API adds `Access-Control-Allow-Origin` to its own answers for the
origins in `CORS_ORIGINS`.  nginx's own answers (the rate limit's 429, a
body's 413, 502-504 when the API is away) never reach the API, so nginx
adds the header itself, for the same list, rendered into its configuration
as `@CORS_ORIGINS@` (nginx/trackly-http.conf.in).  Without it a browser on
a listed origin sees a network error instead of "too many requests, retry
in 1 s".  A preflight (OPTIONS) is the browser's, not the user's, so it
does not count against the login and registration rate limits.

The test stack's CORS_ORIGINS is TRACKLY_CORS_ORIGIN (http://allowed.test)."""

import concurrent.futures
import shutil
import tempfile
from pathlib import Path

import pytest

from helpers.http import call, expect_error, next_source_ip
from helpers.stack import env
from helpers.tls_site import TlsSite

ALLOWED = env("TRACKLY_CORS_ORIGIN")
EVIL = "http://evil.test"


def items(response, name):
    return {i.strip().lower() for i in response.headers.get(name, "").split(",")
            if i.strip()}


def flood_login(origin, count=40):
    """count logins at once from one address, with Origin: origin; the
    answers nginx limited (429)."""
    ip = next_source_ip()

    def attempt(_):
        return call("POST", "/user/login", ip=ip, json={}, timeout=20,
                    headers={"Origin": origin})

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(attempt, range(count)))
    limited = [r for r in answers if r.status_code == 429]
    assert limited, [r.status_code for r in answers]
    return limited


def test_rate_limited_login_answers_a_listed_origin():
    for r in flood_login(ALLOWED):
        expect_error(r, 429)
        assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED
        # The browser lets the page read Retry-After only when exposed.
        assert "retry-after" in items(r, "Access-Control-Expose-Headers")
        assert r.headers.get("Retry-After", "").isdigit()
        assert "origin" in items(r, "Vary")
        assert len(r.raw.headers.getlist("Access-Control-Allow-Origin")) == 1


@pytest.mark.parametrize("origin", [EVIL, ALLOWED + ".evil.test",
                                    "https://allowed.test", "null",
                                    "x,|" + ALLOWED])
def test_rate_limited_login_answers_no_other_origin(origin):
    for r in flood_login(origin):
        expect_error(r, 429)
        assert "Access-Control-Allow-Origin" not in r.headers


def test_body_too_large_answers_a_listed_origin():
    body = b'{"name":"' + b"x" * (70 * 1024) + b'"}'
    for origin, acao in ((ALLOWED, ALLOWED), (EVIL, None)):
        r = call("POST", "/user/register", data=body, headers={
            "Origin": origin, "Content-Type": "application/json"})
        expect_error(r, 413)
        assert r.headers.get("Access-Control-Allow-Origin") == acao


def test_api_answers_carry_one_allow_origin():
    """nginx adds the header only to its own answers: the API's already
    have one, and two make the browser refuse the answer."""
    r = call("GET", "/user/me", headers={"Origin": ALLOWED})
    expect_error(r, 401)
    assert r.raw.headers.getlist("Access-Control-Allow-Origin") == [ALLOWED]


@pytest.fixture(scope="module")
def site_without_api():
    """The production TLS site pointed at an API socket nobody listens on:
    every API request is nginx's 502, answered as the JSON 503."""
    d = Path(tempfile.mkdtemp(prefix="trackly-cors."))
    tls = TlsSite(d, api_socket=d / "nobody.sock")
    try:
        tls.start()
        yield tls
    finally:
        tls.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_api_away_answers_a_listed_origin(site_without_api):
    r = site_without_api.get("/healthcheck", headers={"Origin": ALLOWED})
    expect_error(r, 503)
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED
    r = site_without_api.get("/healthcheck", headers={"Origin": EVIL})
    expect_error(r, 503)
    assert "Access-Control-Allow-Origin" not in r.headers


@pytest.mark.parametrize("origins,sent,echoed", [
    ("", ALLOWED, None),
    ("*", EVIL, EVIL),
    (f" http://a.test ,\t{ALLOWED} ", ALLOWED, ALLOWED),
    (f" http://a.test ,\t{ALLOWED} ", "http://a.test", "http://a.test"),
    (f"http://a.test,{ALLOWED}", "http://a.tes", None),
    (f"http://a.test,{ALLOWED}", f"{ALLOWED},http://a.test", None),
])
def test_the_rendered_list_is_read_as_the_programs_read_it(tmp_path, origins,
                                                           sent, echoed):
    """@CORS_ORIGINS@ takes CORS_ORIGINS as it is: empty, *, spaces and
    tabs around entries; entries match whole."""
    tls = TlsSite(tmp_path / "site", api_socket=tmp_path / "nobody.sock",
                  cors_origins=origins)
    try:
        tls.start()
        r = tls.get("/healthcheck", headers={"Origin": sent})
        expect_error(r, 503)
        assert r.headers.get("Access-Control-Allow-Origin") == echoed
    finally:
        tls.stop()


@pytest.mark.parametrize("path,method", [("/user/login", "POST"),
                                         ("/user/register", "POST")])
def test_preflights_do_not_count_against_the_rate_limit(path, method):
    """100 preflights from one address, then the request they announce:
    with preflights counted, the register limit (1 r/s, burst 5) and the
    login one (5 r/s, burst 10) would both be spent."""
    ip = next_source_ip()
    headers = {"Origin": ALLOWED, "Access-Control-Request-Method": method,
               "Access-Control-Request-Headers": "content-type"}

    def preflight(_):
        return call("OPTIONS", path, ip=ip, headers=headers).status_code

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(preflight, range(100)))
    assert codes == [204] * 100, codes
    r = call("POST", path, ip=ip, json={}, headers={"Origin": ALLOWED})
    expect_error(r, 400)
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED
