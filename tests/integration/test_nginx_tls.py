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
and an access log without query strings.
"""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import uuid
import warnings
from pathlib import Path

import pytest
import requests

from conftest import JSON_TYPE, env, expect_error, expect_json, wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
STARTUP = 10        # seconds nginx may take to bind and write its pid file
STOP = 10           # seconds it may take to stop
HSTS = "max-age=63072000"
IMMUTABLE = "public, max-age=31536000, immutable"
ASSET = "app.0123abcd.js"
CHALLENGE = "acme-" + uuid.uuid4().hex


def render(template, out, **tokens):
    """The same substitution as ./dev's render(): each @KEY@ becomes its
    value, and a placeholder left outside a comment is an error."""
    text = template.read_text()
    for key, value in tokens.items():
        text = text.replace(f"@{key}@", str(value))
    left = [line for line in text.splitlines()
            if re.search(r"^[^#]*@[A-Z][A-Z_]*@", line)]
    assert not left, f"unfilled placeholders in {out}: {left}"
    out.write_text(text)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, timeout=30,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certificates(d):
    """A CA and a certificate it signed for localhost and 127.0.0.1.
    Returns (ca.pem, full chain, key)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=Trackly test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost", cwd=d)
    (d / "server.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem",
            "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "server.ext", "-out", "server.pem", cwd=d)
    chain = d / "fullchain.pem"
    chain.write_text((d / "server.pem").read_text() + (d / "ca.pem").read_text())
    return d / "ca.pem", chain, d / "server.key"


def make_web_root(d):
    """index.html, a hashed asset and an ACME challenge, readable by the
    workers (nobody, when the suite runs as root)."""
    web = d / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>Trackly</title>\n")
    (web / ASSET).write_text("console.log('trackly');\n")
    acme = d / "acme" / ".well-known" / "acme-challenge"
    acme.mkdir(parents=True)
    (acme / CHALLENGE).write_text(CHALLENGE + ".key-authorization\n")
    for path in [d, *d.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return web, d / "acme"


class TlsSite:
    def __init__(self, d):
        self.dir = d
        self.prefix = d / "nginx"
        self.prefix.mkdir()
        self.ca, self.chain, self.key = make_certificates(d)
        self.web, self.acme = make_web_root(d)
        self.error_log = d / "error.log"
        self.access_log = d / "trackly-access.log"
        self.main_access_log = d / "main-access.log"
        self.proc = None
        self.configure()

    def configure(self):
        """Renders the site and its main configuration on two free ports."""
        self.http_port = free_port()
        self.https_port = free_port()
        self.base = f"https://localhost:{self.https_port}"
        src = Path(env("TRACKLY_SOURCE_ROOT")) / "nginx"
        render(src / "trackly-http.conf.in", self.prefix / "trackly-http.conf")
        render(src / "trackly-common.conf.in",
               self.prefix / "trackly-common.conf",
               API_SOCKET=env("TRACKLY_API_SOCKET"), WEB_ROOT=self.web)
        render(src / "trackly-tls.conf.in", self.prefix / "trackly-tls.conf",
               SERVER_NAME="localhost", PUBLIC_URL=self.base,
               LISTEN_HTTP=f"127.0.0.1:{self.http_port}",
               LISTEN_HTTPS=f"127.0.0.1:{self.https_port}",
               CERT=self.chain, KEY=self.key, RESOLVER="127.0.0.1",
               ACME_ROOT=self.acme, ACCESS_LOG=self.access_log,
               CONF_DIR=self.prefix)
        # The dev stack's main configuration: its http-level access log
        # records whole request lines, which the site's servers must
        # override with their own.
        render(src / "dev-nginx.conf.in", self.prefix / "nginx.conf",
               PREFIX=self.prefix, ERROR_LOG=self.error_log,
               ACCESS_LOG=self.main_access_log,
               SITE_CONF=self.prefix / "trackly-tls.conf")
        self.args = [NGINX, "-p", f"{self.prefix}/",
                     "-c", str(self.prefix / "nginx.conf"),
                     "-e", str(self.error_log)]

    def check(self):
        return subprocess.run([*self.args, "-t"], capture_output=True,
                              text=True, timeout=30)

    def start(self):
        """nginx in the foreground of its own session. It writes its pid
        file once it has bound its ports; a port taken since free_port()
        makes it exit, and gets two more tries on other ports."""
        pidfile = self.prefix / "nginx.pid"
        for _ in range(3):
            pidfile.unlink(missing_ok=True)
            mark = self.error_log.stat().st_size if self.error_log.exists() else 0
            self.proc = subprocess.Popen([*self.args, "-g", "daemon off;"],
                                         stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL,
                                         start_new_session=True)
            wait_until(lambda: self.proc.poll() is not None or
                       (pidfile.exists() and pidfile.stat().st_size > 0),
                       STARTUP)
            if self.proc.poll() is None and pidfile.exists():
                return
            self.stop()
            with self.error_log.open(errors="replace") as f:
                f.seek(mark)
                log = f.read()
            if "Address already in use" not in log:
                break
            self.configure()
        pytest.fail(f"nginx did not start:\n{self.error_log.read_text()}")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(STOP)

    def get(self, path, **kwargs):
        kwargs.setdefault("verify", str(self.ca))
        kwargs.setdefault("timeout", 10)
        return requests.get(self.base + path, **kwargs)

    def access_lines(self, text):
        """Lines of the site's access log containing text (nginx writes
        them after the response; allow it a moment)."""
        lines = []

        def found():
            lines[:] = [line for line in
                        self.access_log.read_text(errors="replace").splitlines()
                        if text in line]
            return bool(lines)
        wait_until(found, 2, interval=0.05)
        return lines


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
    r = running.get(f"/user/verify?token={secret}")
    assert r.status_code in (400, 404, 410), r.text
    assert r.headers["Content-Type"] == JSON_TYPE
    requests.get(f"http://127.0.0.1:{running.http_port}/x?token={secret}",
                 allow_redirects=False, timeout=10)
    lines = running.access_lines('"GET /user/verify HTTP/1.1" ')
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
