"""
An nginx running Trackly's production site (nginx/trackly-tls.conf.in and
the two files it includes) on free loopback ports, with a certificate from
a throwaway CA made with `openssl`: for test_nginx_tls.py (the site from the
source tree, in front of the stack's API) and test_deploy.py (the site as
`meson install` put it, in front of the installed API).

    site = TlsSite(Path(mkdtemp()))            # templates from the source tree
    site = TlsSite(d, templates=share, api_socket=sock, web_root=web)
    site.check()                               # nginx -t
    site.start(); site.get("/healthcheck"); site.stop()

The directory d must be reachable by nginx's workers (nobody, when the
suite runs as root): TlsSite makes d and what it writes there world-readable.
"""

import datetime as dt
import os
import re
import shutil
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from helpers.stack import env
from helpers.wait import wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
STARTUP = 10        # seconds nginx may take to bind and write its pid file
STOP = 10           # seconds it may take to stop
HSTS = "max-age=63072000"
IMMUTABLE = "public, max-age=31536000, immutable"
ASSET = "app.0123abcd.js"
CHALLENGE = "acme-" + uuid.uuid4().hex


def render(template, out, **tokens):
    """The same substitution as ./dev's render() (dev.d/nginx.sh): each @KEY@ becomes its
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


def make_certificates(d, ocsp_url=None):
    """A CA and a certificate it signed for localhost and 127.0.0.1 (naming
    ocsp_url as its OCSP responder, if given).  Returns (ca.pem, full chain,
    key)."""
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
        "extendedKeyUsage=serverAuth\n" +
        (f"authorityInfoAccess=OCSP;URI:{ocsp_url}\n" if ocsp_url else ""))
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
    def __init__(self, d, *, templates=None, api_socket=None, web_root=None,
                 ocsp_url=None, cors_origins=None):
        """templates: the directory of the *.conf.in files (default the
        source tree's nginx/); api_socket: the FastCGI socket (default the
        stack's, TRACKLY_API_SOCKET); web_root: the web client (default one
        made here, with a hashed asset, ASSET); ocsp_url: the OCSP responder
        the certificate names (default none); cors_origins: @CORS_ORIGINS@
        (default the stack's CORS_ORIGINS, TRACKLY_CORS_ORIGIN)."""
        self.dir = d
        d.mkdir(exist_ok=True)
        d.chmod(0o755)
        self.templates = Path(templates or
                              Path(env("TRACKLY_SOURCE_ROOT")) / "nginx")
        self.api_socket = api_socket or env("TRACKLY_API_SOCKET")
        self.cors_origins = (env("TRACKLY_CORS_ORIGIN") if cors_origins is None
                             else cors_origins)
        self.prefix = d / "nginx"
        self.prefix.mkdir()
        self.ca, self.chain, self.key = make_certificates(d, ocsp_url)
        web, self.acme = make_web_root(d)
        self.web = web_root or web
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
        src = self.templates
        render(src / "trackly-http.conf.in", self.prefix / "trackly-http.conf",
               API_SOCKET=self.api_socket, CORS_ORIGINS=self.cors_origins)
        render(src / "trackly-common.conf.in",
               self.prefix / "trackly-common.conf", WEB_ROOT=self.web)
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
        dev_conf = Path(env("TRACKLY_SOURCE_ROOT")) / "nginx" / "dev-nginx.conf.in"
        render(dev_conf, self.prefix / "nginx.conf",
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




class OcspResponder:
    """`openssl ocsp` answering for the CA in d (made by make_certificates):
    the server certificate is listed as valid, signed by the CA itself."""

    def __init__(self, d):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = d
        self.proc = None

    def start(self):
        serial = subprocess.run(
            ["openssl", "x509", "-in", "server.pem", "-noout", "-serial"],
            cwd=self.dir, check=True, capture_output=True, text=True,
            timeout=30).stdout.strip().split("=", 1)[1]
        # The index of `openssl ca`: status, expiry (YYMMDDHHMMSSZ),
        # revocation date, serial, file, subject.
        (self.dir / "index.txt").write_text(
            f"V\t{expiry_field(self.dir)}\t\t{serial}\tunknown\t/CN=localhost\n")
        self.log = open(self.dir / "ocsp.log", "wb")
        self.proc = subprocess.Popen(
            ["openssl", "ocsp", "-index", "index.txt",
             "-port", str(self.port), "-rsigner", "ca.pem",
             "-rkey", "ca.key", "-CA", "ca.pem", "-ndays", "1",
             "-timeout", "5"],
            cwd=self.dir, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)

        # Not a probe connection: the responder serves one connection at a
        # time, and would wait for a request on the probe (up to -timeout).
        wait_until(lambda: self.proc.poll() is not None or b"waiting for"
                   in (self.dir / "ocsp.log").read_bytes(), STARTUP)
        assert self.proc.poll() is None, (self.dir / "ocsp.log").read_text()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP)
        if self.proc:
            self.log.close()


def expiry_field(d):
    """server.pem's notAfter as YYMMDDHHMMSSZ, for index.txt."""
    text = subprocess.run(
        ["openssl", "x509", "-in", "server.pem", "-noout", "-enddate"],
        cwd=d, check=True, capture_output=True, text=True,
        timeout=30).stdout.strip().split("=", 1)[1]
    when = dt.datetime.strptime(text, "%b %d %H:%M:%S %Y %Z")
    return when.strftime("%y%m%d%H%M%SZ")
