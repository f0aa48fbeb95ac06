"""
Shared helpers and fixtures for Trackly's black-box integration suite.

The suite talks to real servers that `./dev test` starts (Postgres, nginx,
trackly-api) and finds them through the TRACKLY_* environment variables
described in README.md.  Nothing here knows how the C code is built; the
tests only see HTTP, SQL, signals and exit codes.

Test modules import the plain helpers directly (`from conftest import ...`);
the fixtures (`new_user`, `other_user`, `db`) need no import.  The browser
tests' fixtures (`browser`, `page`, `open_page`) come from browser.py,
loaded below as a plugin; their helpers are imported from there.

Two things shape these helpers:

- nginx rate-limits /user/login and /user/register per client address, so
  every request leaves from its own loopback source address (127.0.a.b, from
  a counter), and a test that wants the limit uses `client(ip)` with one fixed
  address.
- Every HTTP call has a timeout, so a hung server fails a test instead of
  hanging the suite.
"""

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import itertools
import json as jsonlib
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.extensions
import pytest
import requests
from requests.adapters import HTTPAdapter

# The browser harness (browser.py): the browser, page and open_page
# fixtures and the markers of browser tests. Page tests import its helpers
# (`from browser import shoot, assert_clean, assert_accessible`).
pytest_plugins = ["browser"]

# Seconds any single HTTP call may take before the test fails.
TIMEOUT = 10
ISSUER = "trackly"
JWT_LEEWAY = 30
JSON_TYPE = "application/json; charset=utf-8"
ERROR_LOGIN = {"error": "invalid email or password"}
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


# ---------------------------------------------------------------------------
# Environment contract
# ---------------------------------------------------------------------------

def pytest_configure(config):
    if not os.environ.get("TRACKLY_URL"):
        pytest.exit("TRACKLY_URL is not set. This suite needs running servers: "
                    "run it with `./dev test` (see tests/integration/README.md).",
                    returncode=4)


def env(name):
    """The value of a TRACKLY_* variable, or a clear failure when the
    runner did not set it."""
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set; run the suite with `./dev test`")
    return value


def _base_url():
    parts = urlsplit(os.environ.get("TRACKLY_URL", ""))
    netloc = parts.netloc
    # nginx listens on 127.0.0.1; "localhost" may resolve to ::1 first, and
    # an IPv4 source address cannot reach that.
    if parts.hostname == "localhost":
        netloc = netloc.replace("localhost", "127.0.0.1", 1)
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


BASE_URL = _base_url()


def url(path):
    return BASE_URL + path


# ---------------------------------------------------------------------------
# HTTP: one loopback source address per client
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------

def random_email(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex}@example.test"


# Every password random_password made and every token login_token got in
# this run; test_logs.py checks at the end that no log holds any of them.
SECRETS_USED = set()


def random_password():
    password = "pw-" + uuid.uuid4().hex
    SECRETS_USED.add(password)
    return password


def register(email, password, **kwargs):
    return call("POST", "/user/register",
                json={"email": email, "password": password}, **kwargs)


def login(email, password, **kwargs):
    return call("POST", "/user/login",
                json={"email": email, "password": password}, **kwargs)


def login_token(email, password):
    """Logs in and returns the token, failing the test on anything but 200."""
    body = expect_json(login(email, password), 200)
    SECRETS_USED.add(body["token"])
    return body["token"]


@dataclass
class User:
    id: int
    email: str
    password: str
    token: str
    created_at: str

    def me(self, token=None):
        return call("GET", "/user/me", token=token or self.token)


def make_user():
    """Registers a fresh random account and logs it in."""
    email, password = random_email(), random_password()
    body = expect_json(register(email, password), 201)
    user = body["user"]
    return User(id=user["id"], email=email, password=password,
                token=login_token(email, password),
                created_at=user["created_at"])


@pytest.fixture
def new_user():
    return make_user()


@pytest.fixture
def other_user():
    return make_user()


# ---------------------------------------------------------------------------
# JWT forging (HS256 by hand: hmac + hashlib + base64)
# ---------------------------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_encode(payload, *, key=None, header=None, digest=hashlib.sha256):
    """Signs payload (a dict, or bytes used verbatim) with key (default: the
    API's secret).  header defaults to {"alg":"HS256","typ":"JWT"}; pass
    digest=None for an empty signature."""
    header = {"alg": "HS256", "typ": "JWT"} if header is None else header
    if key is None:
        key = env("TRACKLY_JWT_SECRET")
    if isinstance(key, str):
        key = key.encode()

    def part(obj):
        raw = obj if isinstance(obj, bytes) else \
            jsonlib.dumps(obj, separators=(",", ":")).encode()
        return b64url(raw)

    signing_input = part(header) + "." + part(payload)
    signature = "" if digest is None else b64url(
        hmac.new(key, signing_input.encode("ascii"), digest).digest())
    return signing_input + "." + signature


def jwt_decode(token):
    """Splits a token without verifying it: (header, payload, signature)."""
    head, payload, signature = token.split(".")
    return (jsonlib.loads(b64url_decode(head)),
            jsonlib.loads(b64url_decode(payload)), signature)


def jwt_signature_ok(token, key=None):
    """True when token's signature is HMAC-SHA256 of its first two parts
    under key (default: the API's secret)."""
    key = (key or env("TRACKLY_JWT_SECRET")).encode()
    head, payload, signature = token.split(".")
    want = b64url(hmac.new(key, f"{head}.{payload}".encode(),
                           hashlib.sha256).digest())
    return hmac.compare_digest(want, signature)


def claims_for(user_id, version, **overrides):
    """Claims the API itself would issue for user_id with token version
    version, valid for an hour; an override of None removes that claim
    (ver=None drops the version)."""
    now = int(time.time())
    claims = {"sub": str(user_id), "iat": now, "exp": now + 3600,
              "iss": ISSUER, "ver": version}
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


# ---------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------

def db_dsn(dbname=None):
    """The test database's DSN, or the same server's database dbname."""
    dsn = env("TRACKLY_DB_URL")
    if dbname is not None:
        dsn = psycopg2.extensions.make_dsn(dsn, dbname=dbname)
    return dsn


def db_connect(dbname=None):
    conn = psycopg2.connect(db_dsn(dbname), connect_timeout=5)
    conn.autocommit = True
    return conn


class Database:
    """A thin autocommit wrapper so tests read like the SQL they run."""

    def __init__(self, conn):
        self.conn = conn

    def all(self, sql, params=()):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def one(self, sql, params=()):
        rows = self.all(sql, params)
        assert len(rows) <= 1, f"expected at most one row, got {len(rows)}"
        return rows[0] if rows else None

    def value(self, sql, params=()):
        row = self.one(sql, params)
        return None if row is None else row[0]

    def run(self, sql, params=()):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.rowcount


@pytest.fixture
def db():
    """The test database as superuser, autocommit.  Function-scoped so a
    test that stops Postgres does not break the next one's connection."""
    conn = db_connect()
    try:
        yield Database(conn)
    finally:
        conn.close()


def verify_row(db, user_id):
    """The user's queued verification mail: (recipient, payload dict)."""
    rows = db.all("SELECT recipient, payload FROM mail_outbox "
                  "WHERE user_id = %s AND kind = 'verify' ORDER BY id",
                  (user_id,))
    assert len(rows) == 1, f"expected one verify mail, found {len(rows)}"
    recipient, payload = rows[0]
    if isinstance(payload, str):
        payload = jsonlib.loads(payload)
    return recipient, payload


def schema_sql():
    return Path(env("TRACKLY_SOURCE_ROOT"), "schema.sql")


def apply_schema(dbname, path=None):
    """Runs schema.sql (or the file path) against database dbname, failing
    on any error.  Uses psql when the file holds psql meta-commands,
    psycopg2 otherwise."""
    path = path or schema_sql()
    text = path.read_text()
    if re.search(r"^\s*\\", text, re.M):
        psql = shutil.which("psql")
        assert psql, "schema.sql has psql meta-commands but psql is missing"
        subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1",
                        "-d", db_dsn(dbname), "-f", str(path)],
                       check=True, timeout=60, capture_output=True)
        return
    conn = db_connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(text)
    finally:
        conn.close()


@contextlib.contextmanager
def scratch_database(name):
    """Creates an empty database name (dropping any leftover first) and
    drops it again afterwards, even if clients are still connected."""
    admin = db_connect()
    try:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

def proc_state(pid):
    """The state letter of pid from /proc (R, S, Z, ...), None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()[0]


def is_dead(pid):
    return proc_state(pid) in (None, "Z", "X")


def children_of(pid):
    """Live (non-zombie) child pids of pid, from /proc."""
    kids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: the fields
        # we want come after the last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == pid and state not in ("Z", "X"):
            kids.add(int(entry))
    return kids


def api_master():
    return int(env("TRACKLY_API_PID"))


def api_workers():
    return int(os.environ.get("TRACKLY_API_WORKERS", "2"))


def wait_until(predicate, timeout, interval=0.1):
    """Polls predicate until it returns something truthy or timeout seconds
    pass; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def binary_env(**extra):
    """A minimal environment for starting trackly-api by hand: PATH, locale
    and sanitizer settings from ours, plus extra (None values dropped)."""
    keep = ("PATH", "LANG", "LC_ALL", "LD_LIBRARY_PATH", "TZ")
    base = {k: v for k, v in os.environ.items()
            if k in keep or k.startswith(("ASAN_", "UBSAN_", "LSAN_"))}
    base.update({k: v for k, v in extra.items() if v is not None})
    return base


GOOD_SECRET = "integration-test-secret-" + "x" * 16   # 40 bytes


def run_binary(args, env_vars, timeout=10):
    """Runs the API binary to completion; returns CompletedProcess (text)."""
    return subprocess.run([env("TRACKLY_API_BIN"), *args], env=env_vars,
                          stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def nonempty_lines(text):
    return [line for line in text.splitlines() if line.strip()]


@contextlib.contextmanager
def api_instance(env_vars, workers=1):
    """Starts a private trackly-api on its own socket in a temporary
    directory; yields (Popen, socket path).  Output goes to files (read
    them from proc.out_path / proc.err_path) so a chatty program cannot
    block on a full pipe.  Killed at exit if still running."""
    tmp = Path(tempfile.mkdtemp(prefix="trackly-it-"))
    sock = tmp / "api.sock"
    out, err = open(tmp / "stdout", "w+"), open(tmp / "stderr", "w+")
    proc = subprocess.Popen(
        [env("TRACKLY_API_BIN"), "--socket", str(sock),
         "--workers", str(workers)],
        env=env_vars, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    proc.out_path, proc.err_path = tmp / "stdout", tmp / "stderr"
    try:
        yield proc, sock
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        out.close()
        err.close()
        shutil.rmtree(tmp, ignore_errors=True)


def fcgi_request(sock_path, method, path, query="", body=b"", headers=None,
                 timeout=TIMEOUT, params=None):
    """A minimal FastCGI responder client (one request, no keep-alive), for
    talking to a private API instance without nginx.  Sends the parameters
    nginx's fastcgi_params would, plus params (REQUEST_ID, ...); returns
    (status, headers dict, body)."""
    extra_params = params or {}
    def record(rtype, content):
        return struct.pack("!BBHHBx", 1, rtype, 1, len(content), 0) + content

    def pair(name, value):
        out = b""
        for item in (name, value):
            n = len(item)
            out += bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)
        return out + name + value

    uri = path + ("?" + query if query else "")
    params = {
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "nginx",
        "REQUEST_METHOD": method, "REQUEST_URI": uri, "DOCUMENT_URI": path,
        "SCRIPT_NAME": path, "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "http",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000",
        "SERVER_ADDR": "127.0.0.1", "SERVER_PORT": "80",
        "SERVER_NAME": "localhost", "DOCUMENT_ROOT": "/nonexistent",
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "CONTENT_TYPE": "application/json" if body else "",
    }
    for name, value in (headers or {}).items():
        params["HTTP_" + name.upper().replace("-", "_")] = value
    params.update(extra_params)
    encoded = b"".join(pair(k.encode(), v.encode()) for k, v in params.items())

    message = record(1, struct.pack("!HB5x", 1, 0))        # BEGIN, responder
    message += record(4, encoded) + record(4, b"")         # PARAMS
    if body:
        message += record(5, body)
    message += record(5, b"")                              # STDIN

    stdout = b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        s.sendall(message)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        pos = 0
        while pos + 8 <= len(buf):
            _, rtype, _, clen, plen = struct.unpack("!BBHHBx", buf[pos:pos + 8])
            content = buf[pos + 8:pos + 8 + clen]
            pos += 8 + clen + plen
            if rtype == 6:
                stdout += content
            elif rtype == 3:
                break
    head, _, payload = stdout.partition(b"\r\n\r\n")
    if not _:
        head, _, payload = stdout.partition(b"\n\n")
    out_headers = {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        out_headers[name.strip().lower()] = value.strip()
    status = int(out_headers.get("status", "200").split()[0])
    return status, out_headers, payload


def pgctl(action):
    """Runs `$TRACKLY_PGCTL stop|start`, which waits until done."""
    subprocess.run([env("TRACKLY_PGCTL"), action], check=True, timeout=120,
                   stdin=subprocess.DEVNULL, capture_output=True)


def log_size(name):
    """Current size of the log a TRACKLY_*_LOG variable names (0 if none)."""
    try:
        return Path(env(name)).stat().st_size
    except OSError:
        return 0


def log_since(name, offset):
    """What the log a TRACKLY_*_LOG variable names gained after offset
    (see log_size); "" if it cannot be read."""
    try:
        with open(env(name), "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def upstream_errors_since(offset):
    """Lines nginx's error log gained after byte offset that report a
    failed exchange with the API (502s, resets, timeouts)."""
    text = log_since("TRACKLY_NGINX_LOG", offset)
    failure = ("failed (", "timed out", "prematurely closed", "reset by peer")
    return [line for line in text.splitlines()
            if "upstream" in line and any(word in line for word in failure)]


def log_files(name):
    """The files a TRACKLY_*_LOG variable points at: the file itself, or
    every regular file in it when it names a directory."""
    path = Path(env(name))
    if path.is_dir():
        return [p for p in path.rglob("*") if p.is_file()]
    return [path] if path.exists() else []


# ---------------------------------------------------------------------------
# Projects (used by test_projects_*.py and test_webclient_compat.py)
# ---------------------------------------------------------------------------

# Every project response carries these keys (DESIGN §2).
PROJECT_KEYS = frozenset({
    "id", "name", "description", "link", "user_id", "created_at",
    "updated_at", "interval_seconds", "timeout_ms", "expected_status",
    "keyword", "failure_threshold", "recovery_threshold", "paused", "status",
    "last_status_code", "last_latency_ms", "last_checked_at", "last_error",
    "alerts_muted", "status_since",
})

# What a project created with only a name and a link holds.
PROJECT_DEFAULTS = {
    "description": "", "interval_seconds": 300, "timeout_ms": 10000,
    "expected_status": "200-399", "keyword": None, "failure_threshold": 2,
    "recovery_threshold": 1, "paused": False, "alerts_muted": False,
    "status": "PENDING", "last_status_code": None, "last_latency_ms": None,
    "last_checked_at": None, "last_error": None,
}

PROJECT_STATUSES = ("PENDING", "UP", "DOWN", "PAUSED")

# TEST-NET-1 (RFC 5737): routable-looking, but nothing ever answers.
UNREACHABLE_LINK = "http://192.0.2.1/"


def max_projects():
    """MAX_PROJECTS_PER_USER of the stack under test (./dev test runs the
    API with 5; TRACKLY_MAX_PROJECTS says otherwise)."""
    return int(os.environ.get("TRACKLY_MAX_PROJECTS", "5"))


def min_interval():
    """MONITOR_MIN_INTERVAL of the stack under test (default 60 s)."""
    return int(os.environ.get("TRACKLY_MONITOR_MIN_INTERVAL", "60"))


def project_body(**fields):
    """A valid POST /project body (random name, example.com link) with
    fields added or replaced."""
    body = {"name": "site " + uuid.uuid4().hex[:8],
            "link": "https://example.com/"}
    body.update(fields)
    return body


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def assert_project_shape(project):
    """Asserts project is a project object: every key, of the right type,
    and status PAUSED exactly when paused."""
    assert isinstance(project, dict), f"not an object: {project!r}"
    missing = PROJECT_KEYS - set(project)
    assert not missing, f"project lacks {sorted(missing)}: {project!r}"
    assert "mute_token_hash" not in project
    for key in ("id", "user_id", "interval_seconds", "timeout_ms",
                "failure_threshold", "recovery_threshold"):
        assert _is_int(project[key]), f"{key} is {project[key]!r}"
    for key in ("name", "description", "link", "expected_status"):
        assert isinstance(project[key], str), f"{key} is {project[key]!r}"
    for key in ("keyword", "last_error"):
        assert project[key] is None or isinstance(project[key], str), \
            f"{key} is {project[key]!r}"
    for key in ("last_status_code", "last_latency_ms"):
        assert project[key] is None or _is_int(project[key]), \
            f"{key} is {project[key]!r}"
    assert isinstance(project["paused"], bool), project["paused"]
    assert project["status"] in PROJECT_STATUSES, project["status"]
    assert (project["status"] == "PAUSED") == project["paused"], \
        f"status {project['status']} with paused {project['paused']}"
    parse_time(project["created_at"])
    parse_time(project["updated_at"])
    parse_time(project["status_since"])
    assert isinstance(project["alerts_muted"], bool), project["alerts_muted"]
    if project["last_checked_at"] is not None:
        parse_time(project["last_checked_at"])
    return project


def create_project(user, **fields):
    """Creates a project for user (see project_body); returns it, failing
    the test on anything but a well-formed 201."""
    r = call("POST", "/project", token=user.token, json=project_body(**fields))
    return assert_project_shape(expect_json(r, 201))


def get_project(user, project_id):
    """The project as its owner sees it, failing on anything but 200."""
    r = call("GET", f"/project/{project_id}", token=user.token)
    return assert_project_shape(expect_json(r, 200))


def set_project_state(db, project_id, status, *, code=None, latency_ms=None,
                      checked_ago=0, error=None):
    """Writes a monitor result straight into the projects row, as if the
    monitor had checked it checked_ago seconds ago (None: never), and moves
    its next check a day away so a running monitor leaves it be."""
    db.run("UPDATE projects SET status = %s, last_status_code = %s, "
           "last_latency_ms = %s, last_error = %s, last_checked_at = "
           "CASE WHEN %s::float8 IS NULL THEN NULL ELSE date_trunc('second', "
           "now() - make_interval(secs => %s::float8)) END, "
           "next_check_at = now() + interval '1 day' WHERE id = %s",
           (status, code, latency_ms, error, checked_ago, checked_ago,
            project_id))


# ---------------------------------------------------------------------------
# The monitor daemon (used by test_monitor_*.py)
# ---------------------------------------------------------------------------
#
# Each monitor test starts its own trackly-monitor (the `monitor` fixture),
# with an SMTP sink (`smtp_server`, smtp.py) and HTTP targets (`target`,
# `make_target`, targets.py).  All tests share one database, so starting a
# monitor first pauses every project that the test's own users do not own
# and defers everyone else's unsent mail: a monitor only ever sees the
# test's own work, and tests assert only on their own users' rows and mail.

import signal                        # noqa: E402

from smtp import SmtpSink            # noqa: E402  (sibling helper modules)
from targets import TargetServer     # noqa: E402

# Seconds a monitor gets to exit after SIGTERM before the fixture kills it
# and fails the test (the contract: max project timeout + a few seconds).
MONITOR_STOP_TIMEOUT = 15
TEST_MAIL_FROM = "Trackly Tests <trackly@example.test>"


def pytest_collection_modifyitems(session, config, items):
    """Tests marked `resilience` stop or signal the shared servers, so they
    run after all the others (in their usual order), wherever they are
    defined: test_zz_resilience.py, and the monitor's database restart.
    Tests marked `last` look back over the whole run, so they come after
    even those."""
    items.sort(key=lambda item:
               (item.get_closest_marker("last") is not None,
                item.get_closest_marker("resilience") is not None))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the item (item.rep_call, ...), so a
    fixture's teardown can tell whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def monitor_bin():
    """TRACKLY_MONITOR_BIN, or the monitor of TRACKLY_BUILD_DIR."""
    path = os.environ.get("TRACKLY_MONITOR_BIN")
    if path:
        return path
    return str(Path(env("TRACKLY_BUILD_DIR"), "monitor", "trackly-monitor"))


def monitor_log_dir():
    """Where per-test monitor logs go: TRACKLY_MONITOR_LOG_DIR, else a
    monitor/ directory beside the API's log, else a temporary one."""
    path = os.environ.get("TRACKLY_MONITOR_LOG_DIR")
    if not path and os.environ.get("TRACKLY_API_LOG"):
        path = str(Path(os.environ["TRACKLY_API_LOG"]).parent / "monitor")
    if not path:
        path = tempfile.mkdtemp(prefix="trackly-monitor-logs-")
    Path(path).mkdir(parents=True, exist_ok=True)
    return Path(path)


def public_url():
    """PUBLIC_URL the monitors run with: the stack's URL, no trailing /."""
    return env("TRACKLY_URL").rstrip("/")


def monitor_env(sink=None, **overrides):
    """The environment a test monitor runs with: the test database, the
    sink as plain-SMTP mail server, PUBLIC_URL = TRACKLY_URL, private
    targets allowed, text logs; overrides replace (None removes)."""
    values = {
        "DB_URL": env("TRACKLY_DB_URL"),
        "PUBLIC_URL": public_url(),
        "EMAIL_FROM": TEST_MAIL_FROM,
        "EMAIL_TLS": "none",
        "TRACKLY_ALLOW_PRIVATE_TARGETS": "1",
        "LOG_FORMAT": "text",
    }
    if sink is not None:
        values["EMAIL_HOST"] = sink.host
        values["EMAIL_PORT"] = str(sink.port)
    values.update(overrides)
    return binary_env(**values)


def run_monitor(args, env_vars, timeout=20):
    """Runs the monitor binary to completion; returns CompletedProcess
    (text).  For --help, --version and start-up refusals."""
    return subprocess.run([monitor_bin(), *args], env=env_vars,
                          stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def _ids(users):
    return [u if isinstance(u, int) else u.id for u in users]


def isolate_monitor(users):
    """Pauses every project not owned by users (User objects or ids) and
    pushes everyone else's unsent mail a day away, so that a monitor
    started now works only for this test."""
    ids = _ids(users)
    conn = db_connect()
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE projects SET paused = true "
                        "WHERE NOT paused AND user_id <> ALL(%s)", (ids,))
            cur.execute("UPDATE mail_outbox "
                        "SET next_attempt_at = now() + interval '1 day' "
                        "WHERE sent_at IS NULL "
                        "AND next_attempt_at < now() + interval '1 hour' "
                        "AND (user_id IS NULL OR user_id <> ALL(%s))", (ids,))
    finally:
        conn.close()


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET;
    a thread collects what the program sends (READY=1, STOPPING=1, ...)."""

    def __init__(self):
        # Short path: unix socket paths are limited to ~107 bytes.
        self.dir = tempfile.mkdtemp(prefix="trk-ntf-", dir="/tmp")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.datagrams = []
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.datagrams.append(data.decode("utf-8", "replace"))

    def assignments(self):
        """Every NAME=value line received so far, in order."""
        with self._lock:
            return [line for d in self.datagrams for line in d.split("\n")
                    if line]

    def wait_for(self, line, timeout):
        """True once a datagram carried line (e.g. "READY=1")."""
        return bool(wait_until(lambda: line in self.assignments(), timeout,
                               interval=0.05))

    def close(self):
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class MonitorProcess:
    """One trackly-monitor started by the `monitor` fixture.  Output
    (stdout and stderr) goes to log_path; NOTIFY_SOCKET is notify.path."""

    def __init__(self, args, env_vars, log_path, notify):
        self.args = args
        self.log_path = log_path
        self.notify = notify
        self.killed = False          # SIGKILLed on purpose by the test
        self.forced = False          # SIGKILLed because SIGTERM did not work
        self.stopped_by_test = False
        self.returncode = None
        self._log = open(log_path, "ab")
        self._log.write(f"==== {' '.join(args)}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(args, env=env_vars,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log,
                                     start_new_session=True)
        self.pid = self.proc.pid
        self.started_at = time.monotonic()

    def running(self):
        return self.proc.poll() is None

    def log(self):
        """The log so far (text)."""
        try:
            return Path(self.log_path).read_text("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=40):
        return "\n".join(self.log().splitlines()[-lines:])

    def wait(self, timeout):
        """Waits for the process to exit; its status, or None if it is
        still running after timeout seconds."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.stopped_by_test = True
        return self.returncode

    def wait_ready(self, timeout=10):
        """True once the monitor sent READY=1 on NOTIFY_SOCKET."""
        return self.notify.wait_for("READY=1", timeout)

    def stop(self, timeout=MONITOR_STOP_TIMEOUT):
        """SIGTERM, then up to timeout seconds; SIGKILL (and forced=True)
        if it is still running.  Returns the exit status."""
        self.stopped_by_test = True
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.returncode = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.forced = True
                self.proc.kill()
                self.returncode = self.proc.wait(timeout=10)
        else:
            self.returncode = self.proc.wait()
        return self.returncode

    def kill(self):
        """SIGKILL, as a crash or `kill -9` would."""
        self.killed = True
        self.stopped_by_test = True
        self.proc.kill()
        self.returncode = self.proc.wait(timeout=10)
        return self.returncode

    def close(self):
        self._log.close()
        self.notify.close()


class MonitorFactory:
    """What the `monitor` fixture yields: monitor(users=[...], once=False,
    args=(), **env_overrides) starts a trackly-monitor (isolated to users'
    projects, see isolate_monitor) and returns its MonitorProcess.  Every
    monitor still running at the end of the test gets SIGTERM and must exit
    0 within MONITOR_STOP_TIMEOUT seconds, or the test fails."""

    def __init__(self, sink, test_name):
        self.sink = sink
        self.test_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)[:120]
        self.started = []

    def __call__(self, *, users, once=False, args=(), sink="default",
                 **env_overrides):
        isolate_monitor(users)
        sink = self.sink if sink == "default" else sink
        notify = NotifySocket()
        env_vars = monitor_env(sink, NOTIFY_SOCKET=notify.path,
                               **env_overrides)
        argv = [monitor_bin(), *(["--once"] if once else []), *args]
        log_path = monitor_log_dir() / \
            f"{self.test_name}-{len(self.started) + 1}.log"
        proc = MonitorProcess(argv, env_vars, log_path, notify)
        self.started.append(proc)
        return proc

    def finish(self):
        """Stops what is still running; returns the problems found."""
        problems = []
        for m in self.started:
            if m.running():
                code = m.stop()
                if m.forced:
                    problems.append(f"pid {m.pid} did not exit within "
                                    f"{MONITOR_STOP_TIMEOUT} s of SIGTERM")
                elif code != 0:
                    problems.append(f"pid {m.pid} exited with status {code} "
                                    f"on SIGTERM")
            elif not m.stopped_by_test:
                code = m.proc.wait()
                if "--once" not in m.args:
                    problems.append(f"daemon pid {m.pid} exited on its own "
                                    f"(status {code}) during the test")
                elif code != 0:
                    problems.append(f"--once pid {m.pid} exited with status "
                                    f"{code}")
            m.close()
        return problems


@pytest.fixture
def smtp_server():
    """An SMTP sink on 127.0.0.1 (smtp.SmtpSink), stopped afterwards."""
    sink = SmtpSink()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def make_target():
    """make_target(host="127.0.0.1", port=0) -> a targets.TargetServer,
    closed after the test."""
    made = []

    def factory(host="127.0.0.1", port=0, **kwargs):
        server = TargetServer(host, port, **kwargs)
        made.append(server)
        return server

    try:
        yield factory
    finally:
        for server in made:
            server.close()


@pytest.fixture
def target(make_target):
    """An HTTP target on 127.0.0.1 (targets.TargetServer)."""
    return make_target()


@pytest.fixture
def monitor(request, smtp_server):
    """A MonitorFactory (see there); logs go to monitor_log_dir(), and the
    end of each is printed (shown by pytest when the test fails)."""
    factory = MonitorFactory(smtp_server, request.node.name)
    try:
        yield factory
    finally:
        problems = factory.finish()
        for m in factory.started:
            print(f"---- {m.log_path} (pid {m.pid}, status {m.returncode})"
                  f" ----\n{m.log_tail(60)}")
        if problems:
            pytest.fail("monitor: " + "; ".join(problems), pytrace=False)


# --- users, projects and rows for monitor tests -----------------------------

def make_verified_user():
    """A fresh user (make_user) whose address counts as verified, so alert
    mail is queued for it."""
    user = make_user()
    conn = db_connect()
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE users SET email_verified = true "
                        "WHERE id = %s", (user.id,))
    finally:
        conn.close()
    return user


def dict_rows(db, sql, params=()):
    """Rows of a query as dicts keyed by column name."""
    with db.conn.cursor() as cur:
        cur.execute(sql, params)
        if not cur.description:
            return []
        names = [c.name for c in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def insert_project(db, user, link, *, name=None, interval=1, timeout_ms=500,
                   failure_threshold=1, recovery_threshold=1,
                   expected_status="200-399", keyword=None, paused=False,
                   due_in=0.0, notify=True):
    """Inserts a project straight into SQL (the API's 60 s minimum interval
    does not apply), due due_in seconds from now; NOTIFYs trackly_wakeup
    as the API would.  Returns its id."""
    name = name if name is not None else "site " + uuid.uuid4().hex[:8]
    pid = db.value(
        "INSERT INTO projects (user_id, name, link, interval_seconds, "
        "timeout_ms, expected_status, keyword, failure_threshold, "
        "recovery_threshold, paused, next_check_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
        "now() + make_interval(secs => %s)) RETURNING id",
        (user if isinstance(user, int) else user.id, name, link, interval,
         timeout_ms, expected_status, keyword, failure_threshold,
         recovery_threshold, paused, due_in))
    if notify:
        db.run("NOTIFY trackly_wakeup")
    return pid


def project_row(db, project_id):
    rows = dict_rows(db, "SELECT * FROM projects WHERE id = %s",
                     (project_id,))
    assert rows, f"project {project_id} does not exist"
    return rows[0]


def check_rows(db, project_id):
    """The project's checks, oldest first."""
    return dict_rows(db, "SELECT * FROM checks WHERE project_id = %s "
                         "ORDER BY scheduled_at, id", (project_id,))


def outbox_rows(db, *, user_id=None, project_id=None, kind=None):
    """mail_outbox rows matching every filter given, oldest first."""
    where, params = [], []
    for column, value in (("user_id", user_id), ("project_id", project_id),
                          ("kind", kind)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    sql = "SELECT * FROM mail_outbox"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return dict_rows(db, sql + " ORDER BY id", params)


def incident_rows(db, project_id):
    return dict_rows(db, "SELECT * FROM incidents WHERE project_id = %s "
                         "ORDER BY started_at, id", (project_id,))


def eventually(predicate, timeout, what, interval=0.1):
    """wait_until(predicate, timeout), failing the test with what (a string,
    or a callable giving one, evaluated then) when it never holds."""
    value = wait_until(predicate, timeout, interval)
    if not value:
        detail = what() if callable(what) else what
        pytest.fail(f"not within {timeout} s: {detail}", pytrace=False)
    return value


# ---------------------------------------------------------------------------
# Hostile input (test_hostile_*.py): raw HTTP, stack health, no stray writes
# ---------------------------------------------------------------------------

@dataclass
class RawResponse:
    status: int
    headers: dict           # lower-cased names; a repeated name keeps the last
    body: bytes

    def json(self):
        return jsonlib.loads(self.body)


def _complete(raw, count):
    """True when raw holds count whole responses framed by Content-Length."""
    for _ in range(count):
        head, sep, rest = raw.partition(b"\r\n\r\n")
        match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if not sep or not match or len(rest) < int(match.group(1)):
            return False
        raw = rest[int(match.group(1)):]
    return True


def raw_exchange(data, *, ip=None, timeout=5, half_close=False,
                 responses=None):
    """Sends bytes verbatim to nginx from source address ip (a fresh one
    when None) and reads until the server closes or timeout seconds pass
    without data.  Returns everything read; a reset counts as a close.
    Requests should say "Connection: close".  half_close shuts our sending
    side after the data, which nginx takes for a client that went away
    (it then drops the request unanswered, status 499).  With responses=n,
    stops as soon as n whole responses have arrived (nginx may keep the
    connection open a while after an early error, to read what the client
    still sends)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.bind((ip or next_source_ip(), 0))
        parts = urlsplit(BASE_URL)
        sock.connect((parts.hostname, parts.port or 80))
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
            if responses and _complete(out, responses):
                break
        return out
    finally:
        sock.close()


def parse_responses(raw):
    """Splits what raw_exchange read into RawResponses (bodies framed by
    Content-Length, as nginx frames every error it sends)."""
    responses = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, f"incomplete response head: {raw[:200]!r}"
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", len(rest)))
        responses.append(RawResponse(status, headers, rest[:length]))
        raw = rest[length:]
    return responses


def raw_request(data, **kwargs):
    """One raw request; returns its (first) RawResponse."""
    kwargs.setdefault("responses", 1)
    out = raw_exchange(data, **kwargs)
    assert out, "the server closed the connection without an answer"
    return parse_responses(out)[0]


def expect_raw_error(response, status):
    """expect_error for a RawResponse."""
    assert response.status == status, \
        f"expected {status}, got {response.status}: {response.body[:300]!r}"
    ctype = response.headers.get("content-type", "")
    assert ctype.replace(" ", "").lower() == JSON_TYPE.replace(" ", ""), \
        f"Content-Type is {ctype!r}"
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) \
        and body["error"], f"not an error object: {body!r}"
    return body["error"]


def api_log_since(offset):
    return log_since("TRACKLY_API_LOG", offset)


def nginx_log_since(offset):
    return log_since("TRACKLY_NGINX_LOG", offset)


@pytest.fixture
def stack_healthy():
    """Checks, after a test that threw something hostile at the stack, that
    it is unharmed: /healthcheck answers 200, the API master runs the same
    workers as before (none died and was replaced), the API's log records
    no worker death and nginx's no crashed worker process."""
    master = api_master()
    workers = children_of(master)
    api_offset = log_size("TRACKLY_API_LOG")
    nginx_offset = log_size("TRACKLY_NGINX_LOG")
    yield
    assert not is_dead(master), "the API master died"
    expect_json(call("GET", "/healthcheck"), 200)
    assert children_of(master) == workers, \
        f"API workers changed from {sorted(workers)} to " \
        f"{sorted(children_of(master))}"
    deaths = [line for line in api_log_since(api_offset).splitlines()
              if re.search(r"worker \d+ .*(starting a new one|after starting)",
                           line)]
    assert not deaths, "API workers died:\n" + "\n".join(deaths)
    crashes = [line for line in nginx_log_since(nginx_offset).splitlines()
               if "exited on signal" in line]
    assert not crashes, "nginx workers crashed:\n" + "\n".join(crashes)


def db_fingerprint(db):
    """What a refused request must not change: the rows of every table a
    request can write (login_throttle aside: failed logins count there on
    purpose) and the latest update of users and projects."""
    return db.one(
        "SELECT (SELECT count(*) FROM users),"
        "       (SELECT max(updated_at) FROM users),"
        "       (SELECT sum(token_version) FROM users),"
        "       (SELECT count(*) FROM projects),"
        "       (SELECT max(updated_at) FROM projects),"
        "       (SELECT count(*) FROM mail_outbox),"
        "       (SELECT sum(sends) FROM verify_mail_log),"
        "       (SELECT count(*) FROM checks),"
        "       (SELECT count(*) FROM incidents)")


@contextlib.contextmanager
def no_writes(db):
    """Fails the test when the block changed what db_fingerprint covers."""
    before = db_fingerprint(db)
    yield
    after = db_fingerprint(db)
    assert after == before, f"the database changed: {before} -> {after}"


def worker_memory():
    """{pid: (VmRSS, VmHWM) in KiB} of each API worker, from /proc."""
    out = {}
    for pid in children_of(api_master()):
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        out[pid] = (int(fields["VmRSS"].split()[0]),
                    int(fields["VmHWM"].split()[0]))
    return out


def under_asan():
    """True when the stack runs the sanitizer build (./dev test
    --sanitize), whose memory figures mean nothing."""
    return Path(os.environ.get("TRACKLY_BUILD_DIR", "")).name == "build-asan"
