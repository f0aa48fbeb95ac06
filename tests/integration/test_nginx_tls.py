"""
The production nginx site, nginx/trackly-tls.conf.in, served for real.

The stack's nginx runs the plain-HTTP site; the TLS site shares its API,
web client, limits and error pages through trackly-common.conf, so the
rest of the suite covers those. Here a second nginx runs the TLS site on
two free loopback ports, in front of the stack's API socket
(TRACKLY_API_SOCKET), with a certificate from a throwaway CA made with
`openssl`, and a web root of its own holding a hashed asset. The tests
check what is particular to production: `nginx -t` accepts it (with only
the OCSP stapling warning a certificate without a responder brings), the
HTTP server only redirects (or serves ACME challenges), TLS 1.2 and 1.3
only, HSTS and the security headers over HTTPS, HTTP/2, the caching of
hashed assets against index.html, /metrics from loopback reaching the API,
and an access log without query strings. A third nginx serves a certificate
naming an OCSP responder (`openssl ocsp` on loopback): the answer is stapled.
"""

import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import uuid
import warnings
from pathlib import Path

import pytest
import requests

from helpers.http import JSON_TYPE, expect_error, expect_json
from helpers.wait import wait_until
from helpers.tls_site import ASSET, CHALLENGE, HSTS, IMMUTABLE, OcspResponder, TlsSite


@pytest.fixture(scope="module")
def site():
    d = Path(tempfile.mkdtemp(prefix="trackly-tls."))
    tls = TlsSite(d)
    try:
        yield tls
    finally:
        tls.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def running(site):
    site.start()
    return site


def test_nginx_t_accepts_the_site_with_a_self_signed_certificate(site):
    result = site.check()
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    # The only complaint allowed: no OCSP responder in the certificate,
    # so no stapling (documented in the site and docs/operations.md).
    complaints = [line for line in result.stderr.splitlines()
                  if "[warn]" in line or "[emerg]" in line
                  or "[alert]" in line or "[crit]" in line]
    for line in complaints:
        assert "[warn]" in line and '"ssl_stapling" ignored' in line, line


def test_https_healthcheck_with_curl_cacert(running):
    out = subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", "10",
         "--cacert", str(running.ca), "--http2", "--include",
         "--write-out", "\n%{http_code} %{http_version}",
         f"{running.base}/healthcheck"],
        capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    head, _, status = out.stdout.rpartition("\n")
    assert status == "200 2", out.stdout            # HTTP/2 over TLS
    assert re.search(r"(?mi)^strict-transport-security: max-age=63072000\r?$",
                     head), head


def test_https_answers_carry_hsts_and_the_security_headers(running):
    r = running.get("/healthcheck")
    expect_json(r, 200)
    assert r.headers["Strict-Transport-Security"] == HSTS
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store"
    assert "Server" not in r.headers or "/" not in r.headers["Server"]


def test_nginx_errors_over_https_are_json_with_hsts(running):
    secret = "secret-" + uuid.uuid4().hex
    r = requests.post(f"{running.base}/user/register?token={secret}",
                      data=b"x" * 70000,
                      headers={"Content-Type": "application/json"},
                      verify=str(running.ca), timeout=10)
    expect_error(r, 413)
    assert r.headers["Strict-Transport-Security"] == HSTS
    # Logged as the client sent it (not as nginx's internal GET of its
    # error page), without the query.
    lines = running.access_lines('"POST /user/register HTTP/1.1" 413 ')
    assert lines, running.access_log.read_text()
    assert secret not in running.access_log.read_text()


def test_http_redirects_to_https_keeping_path_and_query(running):
    r = requests.get(f"http://127.0.0.1:{running.http_port}/projects/7?a=b",
                     allow_redirects=False, timeout=10)
    assert r.status_code == 301
    assert r.headers["Location"] == f"{running.base}/projects/7?a=b"
    # The redirect names the configured host, not the client's.
    r = requests.get(f"http://127.0.0.1:{running.http_port}/healthcheck",
                     headers={"Host": "evil.test"}, allow_redirects=False,
                     timeout=10)
    assert r.status_code == 301
    assert r.headers["Location"] == f"{running.base}/healthcheck"


def test_http_serves_acme_challenges_and_nothing_else(running):
    http = f"http://127.0.0.1:{running.http_port}"
    r = requests.get(f"{http}/.well-known/acme-challenge/{CHALLENGE}",
                     allow_redirects=False, timeout=10)
    assert r.status_code == 200
    assert r.text == CHALLENGE + ".key-authorization\n"
    r = requests.get(f"{http}/.well-known/acme-challenge/missing",
                     allow_redirects=False, timeout=10)
    assert r.status_code == 404
    # The API is never served over plain HTTP.
    r = requests.post(f"{http}/user/login", json={}, allow_redirects=False,
                      timeout=10)
    assert r.status_code == 301


def handshake(port, version, ca):
    """The protocol negotiated by a handshake offering only `version`, or
    the ssl.SSLError that refused it. The client's own floor is lowered
    (SECLEVEL=0) so that it really offers old versions and the refusal is
    the server's."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(ca))
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():      # TLSv1_1 and TLSv1 are deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                return tls.version()
        except ssl.SSLError as e:
            return e


def test_tls_1_2_and_1_3_only(running):
    port, ca = running.https_port, running.ca
    assert handshake(port, ssl.TLSVersion.TLSv1_3, ca) == "TLSv1.3"
    assert handshake(port, ssl.TLSVersion.TLSv1_2, ca) == "TLSv1.2"
    for old in (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1):
        refused = handshake(port, old, ca)
        assert isinstance(refused, ssl.SSLError), refused
        # The server's alert, not a client that would not even try.
        assert "PROTOCOL_VERSION" in str(refused).upper() or \
            "UNSUPPORTED_PROTOCOL" in str(refused).upper(), refused


def test_tls_1_1_refused_by_openssl_s_client(running):
    out = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{running.https_port}",
         "-servername", "localhost", "-tls1_1",
         "-cipher", "DEFAULT:@SECLEVEL=0"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    assert out.returncode != 0
    assert "alert protocol version" in out.stdout + out.stderr, \
        out.stdout + out.stderr


def test_tls_1_2_offers_only_forward_secret_aead_suites(running):
    for cipher in ("AES128-GCM-SHA256", "AES256-SHA", "ECDHE-RSA-AES128-SHA"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(str(running.ca))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(cipher + ":@SECLEVEL=0")
        with socket.create_connection(("127.0.0.1", running.https_port),
                                      timeout=10) as raw:
            with pytest.raises(ssl.SSLError):
                ctx.wrap_socket(raw, server_hostname="localhost").close()


def test_hashed_asset_is_immutable_and_pages_are_revalidated(running):
    r = running.get("/" + ASSET)
    assert r.status_code == 200
    assert r.text == "console.log('trackly');\n"
    assert r.headers["Cache-Control"] == IMMUTABLE
    assert r.headers["Strict-Transport-Security"] == HSTS
    for path in ("/", "/index.html", "/projects"):
        r = running.get(path)
        assert r.status_code == 200, path
        assert r.text.startswith("<!doctype html>"), path
        assert r.headers["Cache-Control"] == "no-cache", path
        assert "immutable" not in r.headers["Cache-Control"]


def test_missing_hashed_asset_is_404_not_the_page(running):
    r = running.get("/app.deadbeef0.js")
    expect_error(r, 404)
    assert "immutable" not in r.headers.get("Cache-Control", "")


def test_metrics_from_loopback_reach_the_api(running):
    r = running.get("/metrics")
    # nginx's loopback rule let it through to the API, which served the
    # metrics, and the access log shows an upstream time.
    assert r.status_code == 200, r.text
    assert "trackly_http_requests_total" in r.text
    lines = running.access_lines('"GET /metrics ')
    assert lines and "upstream=-" not in lines[-1], lines


def test_access_log_has_paths_without_query_strings(running):
    secret = "secret-" + uuid.uuid4().hex
    r = running.get(f"/user/verify?token={secret}", allow_redirects=False)
    assert r.status_code == 303, r.text       # to the web client's page
    assert r.headers["Content-Type"] == JSON_TYPE
    requests.get(f"http://127.0.0.1:{running.http_port}/x?token={secret}",
                 allow_redirects=False, timeout=10)
    lines = running.access_lines('"GET /user/verify HTTP/1.1" 303 ')
    assert lines, running.access_log.read_text()
    assert "tls=TLSv1." in lines[-1]
    assert running.access_lines('"GET /x HTTP/1.1" 301 ')
    # A "?" anywhere cuts the rest, even in a line nginx refuses.
    with socket.create_connection(("127.0.0.1", running.http_port),
                                  timeout=10) as raw:
        raw.sendall(f"GET /y?token={secret} junk\r\n\r\n".encode())
        raw.recv(4096)
    assert running.access_lines('"GET /y" 400 ')
    for log in (running.access_log, running.main_access_log, running.error_log):
        if log.exists():
            assert secret not in log.read_text(errors="replace"), log
    # Both servers log to the site's log, none to the main one.
    assert not running.main_access_log.exists() or \
        running.main_access_log.stat().st_size == 0


# --- OCSP stapling, with a responder ------------------------------------------

@pytest.fixture(scope="module")
def stapled():
    """The site with a certificate naming an OCSP responder (`openssl ocsp`
    on loopback, answering "good" for it)."""
    d = Path(tempfile.mkdtemp(prefix="trackly-ocsp."))
    responder = OcspResponder(d)
    tls = TlsSite(d, ocsp_url=responder.url)
    try:
        responder.start()
        tls.start()
        yield tls
    finally:
        tls.stop()
        responder.stop()
        shutil.rmtree(d, ignore_errors=True)


def s_client_status(site):
    """What `openssl s_client -status` says about a handshake with site."""
    out = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{site.https_port}",
         "-servername", "localhost", "-status", "-CAfile", str(site.ca)],
        input="", capture_output=True, text=True, timeout=20)
    return out.stdout


def test_ocsp_response_is_stapled_when_the_certificate_names_a_responder(
        stapled):
    check = stapled.check()
    assert check.returncode == 0, check.stderr
    assert "ssl_stapling" not in check.stderr, check.stderr
    # nginx asks the responder on the first handshake and staples the
    # answer to the ones after it.
    text = wait_until(
        lambda: (lambda t: t if "OCSP Response Status: successful" in t
                 else "")(s_client_status(stapled)), 10, interval=0.3)
    assert text, s_client_status(stapled) + stapled.error_log.read_text()
    assert "Cert Status: good" in text, text
    assert "Verify return code: 0 (ok)" in text, text
    errors = [line for line in stapled.error_log.read_text().splitlines()
              if "OCSP" in line or "stapl" in line]
    assert not errors, errors
