"""
From a staged install to a monitored site over HTTPS (issue 6, "Done when").

What an operator does on a new host, with every file taken from a
`meson install --destdir` staging root rather than from the source tree:

1. the example environment file (PREFIX/share/trackly/trackly.env.example)
   copied and edited, the way docs/operations.md says: a database, a key
   file made with `openssl rand -hex 32`, PUBLIC_URL, the mail server;
2. `trackly-admin schema apply` into an empty database;
3. trackly-api started with the command line of the installed
   trackly-api.service, on a socket made the way trackly-api.socket makes
   it (systemd-socket-activate, LISTEN_FDS; group and mode as the unit
   sets them), with the environment file read as systemd's
   EnvironmentFile= reads it;
4. trackly-monitor started with the command line of the installed
   trackly-monitor.service, with NOTIFY_SOCKET as Type=notify gives it;
5. the installed nginx templates (trackly-tls.conf.in and its includes)
   rendered for a throwaway CA's certificate and served by nginx, with the
   installed web client as the web root.

Then a person uses it only through https:// with the CA as the one trust
anchor: the operator's first user from `trackly-admin user create`, a
second person who registers, gets the verification mail (a link to
PUBLIC_URL), follows it, adds a site (an HTTP target on loopback), and gets
"DOWN" and "UP again" mail when it fails and recovers; /metrics from
loopback shows both programs' work; the logs are JSON lines holding no
password, token or key; `trackly-admin monitor lag` and `mail test` work
against the running pair; both programs stop cleanly on SIGTERM.

Not covered here (no systemd runs as PID 1): User=trackly and the
sandboxing directives (test_install.py verifies and scores them;
tests/systemd/boot-test, `./dev test --systemd`, runs the .deb under a
booted systemd); the programs run as the suite's user, the database is the
stack's server.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

from helpers.db import db_dsn, scratch_database
from helpers.fcgi import fcgi_request
from helpers.monitor import NotifySocket
from helpers.stack import binary_env
from helpers.wait import eventually, wait_until
from helpers.smtp import SmtpSink
from helpers.staging import in_stage, installed, stage_install, unit_text, unit_values
from helpers.targets import TargetServer
from test_metrics import parse
from helpers.tls_site import TlsSite

START = 20          # seconds a program may take to be ready
STEP = 20           # seconds a monitor transition (check, state, mail) may take
STOP = 20           # seconds a program may take to exit after SIGTERM
DBNAME = "trackly_deploy"
# What systemd-socket-activate itself says before it execs the API.
LAUNCHER_LINE = re.compile(r"^(Listening on |Communication attempt on |Execing )")


# --- what the operator does --------------------------------------------------

def edit_env_example(example, values):
    """The example with each NAME in values set: its line (commented out
    or not) becomes NAME=value.  A NAME the example does not list fails:
    everything an operator must set has to be there to find."""
    lines = example.splitlines()
    for name, value in values.items():
        pattern = re.compile(rf"^#?{re.escape(name)}=")
        hits = [i for i, line in enumerate(lines) if pattern.match(line)]
        assert hits, f"trackly.env.example does not list {name}"
        lines[hits[0]] = f"{name}={value}"
    return "\n".join(lines) + "\n"


def read_env_file(path):
    """NAME=value pairs as systemd's EnvironmentFile= reads our file: no
    comments, no blank lines, and (as the example says) no quoting."""
    out = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", name), line
        out[name] = value
    return out


def exec_start(root, opts, unit):
    """The installed unit's ExecStart= as argv, its binary in the stage."""
    [line] = unit_values(unit_text(root, opts, unit), "ExecStart")
    argv = line.split()
    argv[0] = str(in_stage(root, argv[0]))
    return argv


class Program:
    """A started program with its output in a log file."""

    def __init__(self, name, argv, env_vars, log_dir):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, env=env_vars,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log,
                                     start_new_session=True)

    def log(self):
        return self.log_path.read_text("utf-8", "replace")

    def records(self):
        """The program's log lines, each parsed as JSON.  Lines of
        systemd-socket-activate (which writes to the same stderr before it
        hands over) are the only ones allowed not to be."""
        out = []
        for line in self.log().splitlines():
            if not line.strip():
                continue
            if self.name == "trackly-api" and \
                    LAUNCHER_LINE.match(line):
                continue
            out.append(json.loads(line))
        return out

    def running(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM; the exit status, or None if SIGKILL was needed."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(STOP)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(STOP)
                return None
        return self.proc.returncode

    def close(self):
        self.stop()
        self._log.close()


class Deployment:
    """Everything test_deploy starts, and what the tests need to use it."""

    def __init__(self, d, root, opts, dbname):
        self.dir = d
        self.root = root
        self.opts = opts
        self.dbname = dbname
        self.etc = d / "etc"
        self.run = d / "run"
        self.state = d / "state"
        self.logs = d / "log"
        for sub in (self.etc, self.run, self.state, self.logs):
            sub.mkdir()
            sub.chmod(0o755)
        self.sock = self.run / "api.sock"
        share = in_stage(root, installed(opts, "datadir", "trackly"))
        self.share = share
        self.sink = SmtpSink()
        self.target = TargetServer()
        self.site = TlsSite(d / "tls", templates=share, api_socket=self.sock,
                            web_root=share / "web")
        self.api = self.monitor = self.notify = None
        self.secrets = set()
        self.story = None       # see person_is_told_when_the_site_fails

    def sbin(self, prog):
        return in_stage(self.root, installed(self.opts, "sbindir", prog))

    def configure(self):
        """Steps 1 and 2: the environment file and the schema."""
        key = subprocess.run(["openssl", "rand", "-hex", "32"], check=True,
                             capture_output=True, text=True,
                             timeout=10).stdout.strip()
        self.secrets.add(key)
        key_file = self.etc / "jwt_secret"
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
        example = (self.share / "trackly.env.example").read_text()
        self.public_url = self.site.base
        self.values = {
            "DB_URL": db_dsn(self.dbname),
            "JWT_SECRET": "",
            "JWT_SECRET_FILE": str(key_file),
            "PUBLIC_URL": self.public_url,
            "API_WORKERS": "2",
            "MONITOR_ID": "deploy-test",
            "MONITOR_MIN_INTERVAL": "1",
            "MONITOR_METRICS_FILE": str(self.state / "monitor.prom"),
            # The sites watched here are on loopback.
            "TRACKLY_ALLOW_PRIVATE_TARGETS": "1",
            "EMAIL_HOST": self.sink.host,
            "EMAIL_PORT": str(self.sink.port),
            "EMAIL_FROM": "Trackly <trackly@deploy.test>",
            "EMAIL_TLS": "none",
            "LOG_FORMAT": "json",
        }
        self.env_file = self.etc / "trackly.env"
        self.env_file.write_text(edit_env_example(example, self.values))
        self.env_file.chmod(0o640)
        r = self.admin("schema", "apply", "--file",
                       str(self.share / "schema.sql"))
        assert r.returncode == 0, r.stdout + r.stderr

    def admin(self, *args, stdin=None):
        return subprocess.run(
            [str(self.sbin("trackly-admin")), "--env-file",
             str(self.env_file), *args],
            input=stdin, capture_output=True, text=True, timeout=30,
            env=binary_env())

    def service_env(self, **extra):
        """What systemd gives a service: the environment file's settings
        (and, here, the sanitizer settings of the suite)."""
        return binary_env(**read_env_file(self.env_file), **extra)

    def start_api(self):
        """Step 3: trackly-api.service's command on trackly-api.socket's
        socket."""
        argv = exec_start(self.root, self.opts, "trackly-api.service")
        assert "--env-file" in argv, argv
        i = argv.index("--env-file")
        argv[i + 1] = str(self.env_file)
        env_vars = self.service_env()
        activate = ["systemd-socket-activate", "-l", str(self.sock)]
        for name in env_vars:
            activate += ["-E", name]
        self.api = Program("trackly-api", activate + argv, env_vars, self.logs)
        assert wait_until(lambda: self.sock.exists() or not self.api.running(),
                          START) and self.sock.exists(), self.api.log()
        # SocketGroup= (nginx's group: nobody's here) and SocketMode=0660.
        socket_unit = unit_text(self.root, self.opts, "trackly-api.socket")
        assert "SocketMode=0660" in socket_unit
        if os.geteuid() == 0:
            shutil.chown(self.sock, group="nogroup")
        self.sock.chmod(0o660)
        # systemd-socket-activate, like a .socket unit, starts the service
        # at the first connection: this one, which must then be answered.

        def answered():
            try:
                return fcgi_request(self.sock, "GET", "/healthcheck",
                                    timeout=2)
            except OSError:
                return None
        answer = wait_until(answered, START)
        assert answer and answer[0] == 200, self.api.log()
        assert self.api.running(), self.api.log()

    def start_monitor(self):
        """Step 4: trackly-monitor.service's command, Type=notify."""
        argv = exec_start(self.root, self.opts, "trackly-monitor.service")
        self.notify = NotifySocket()
        self.monitor = Program("trackly-monitor", argv,
                               self.service_env(NOTIFY_SOCKET=self.notify.path),
                               self.logs)
        assert self.notify.wait_for("READY=1", START), self.monitor.log()

    def close(self):
        for part in (self.site.stop, self.monitor and self.monitor.close,
                     self.api and self.api.close,
                     self.notify and self.notify.close,
                     self.sink.stop, self.target.close):
            if part:
                part()

    # --- what a person does --------------------------------------------------

    def call(self, method, path, token=None, **kwargs):
        """An HTTPS request trusting only the test CA."""
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
            self.secrets.add(token)
        kwargs.setdefault("timeout", 10)
        return requests.request(method, self.site.base + path,
                                headers=headers, verify=str(self.site.ca),
                                **kwargs)

    def login(self, email, password):
        self.secrets.add(password)
        r = self.call("POST", "/user/login",
                      json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        # Over HTTPS (nginx passes HTTPS=on) the session cookie is Secure.
        assert r.headers["Set-Cookie"] == (
            f"trackly_session={r.json()['token']}; Path=/; Max-Age=86400; "
            "HttpOnly; SameSite=Strict; Secure"), r.headers["Set-Cookie"]
        return r.json()["token"]


@pytest.fixture(scope="module")
def deployment():
    d = Path(tempfile.mkdtemp(prefix="trackly-deploy."))
    d.chmod(0o755)
    try:
        root = d / "root"
        root.mkdir()
        root.chmod(0o755)
        root, opts = stage_install(root)
        with scratch_database(DBNAME) as dbname:
            dep = Deployment(d, root, opts, dbname)
            try:
                dep.configure()
                dep.start_api()
                dep.start_monitor()
                dep.site.start()
                yield dep
            finally:
                dep.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def new_email(tag):
    return f"{tag}-{uuid.uuid4().hex[:10]}@deploy.test"


def new_password():
    return "pw-" + uuid.uuid4().hex


# --- the tests, in the order an operator meets them ---------------------------

def test_nginx_t_accepts_the_installed_site(deployment):
    r = deployment.site.check()
    assert r.returncode == 0, r.stderr
    assert "test is successful" in r.stderr


def test_https_serves_the_installed_web_client_and_the_api(deployment):
    page = deployment.call("GET", "/")
    assert page.status_code == 200
    assert page.content == (deployment.share / "web" / "index.html").read_bytes()
    # The client's pages carry the strict CSP (no inline script, no eval,
    # no framing); a client route is the same page; its hashed script and
    # stylesheet are cached for a year and sent gzipped to who asks.
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe" not in csp
    assert page.headers["Cache-Control"] == "no-cache"
    route = deployment.call("GET", "/projects/12/edit")
    assert route.status_code == 200 and route.content == page.content
    assets = re.findall(r'(?:src|href)="(/app\.[0-9a-f]{12}\.(?:js|css))"',
                        page.text)
    assert len(assets) == 2, page.text
    for path in assets:
        r = deployment.call("GET", path, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200, path
        assert r.headers["Content-Encoding"] == "gzip", path
        assert "immutable" in r.headers["Cache-Control"], path
        assert r.content == (deployment.share / "web" /
                             path.lstrip("/")).read_bytes(), path
    r = deployment.call("GET", "/healthcheck")
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    # Plain HTTP only redirects to PUBLIC_URL's scheme and host.
    r = requests.get(f"http://127.0.0.1:{deployment.site.http_port}/healthcheck",
                     allow_redirects=False, timeout=10)
    assert r.status_code == 301
    assert r.headers["Location"] == f"{deployment.public_url}/healthcheck"


def test_the_first_user_from_trackly_admin_logs_in(deployment):
    email, password = new_email("operator"), new_password()
    r = deployment.admin("user", "create", "--verified", email,
                         stdin=password + "\n")
    assert r.returncode == 0, r.stdout + r.stderr
    token = deployment.login(email, password)
    me = deployment.call("GET", "/user/me", token=token)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == email and me.json()["email_verified"] is True


def person_is_told_when_the_site_fails(dep):
    """The story an owner lives through: register, verify by the mailed
    link, add a site, hear when it fails and when it is back.  Told once
    per deployment (the metrics test needs its traffic, and must work when
    run alone); returns the project's id and the owner's token."""
    if dep.story:
        return dep.story
    email, password = new_email("owner"), new_password()
    dep.secrets.add(password)
    r = dep.call("POST", "/user/register",
                 json={"email": email, "password": password})
    assert r.status_code == 201, r.text

    # The verification mail, delivered by the monitor, links to PUBLIC_URL.
    [mail] = dep.sink.wait_for(to=email, timeout=STEP) or [None]
    assert mail is not None, dep.sink.describe() + dep.monitor.log()
    # The link is the web client's verify page, which POSTs the token.
    found = re.search(re.escape(dep.public_url) +
                      r"/verify\?token=([A-Za-z0-9_-]+)", mail.text)
    assert found, mail.text
    dep.secrets.add(found.group(1))
    page = dep.call("GET", found.group(0)[len(dep.public_url):])
    assert page.status_code == 200, page.text
    assert page.headers["Content-Type"].startswith("text/html")
    r = dep.call("POST", "/user/verify", json={"token": found.group(1)})
    assert r.status_code == 200, r.text
    token = dep.login(email, password)
    assert dep.call("GET", "/user/me", token=token).json()["email_verified"]

    # A site, checked every second.
    name = "shop " + uuid.uuid4().hex[:6]
    link = dep.target.set("/shop", "ok")
    r = dep.call("POST", "/project", token=token,
                 json={"name": name, "link": link, "interval_seconds": 1,
                       "failure_threshold": 2, "recovery_threshold": 1})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]

    def status():
        p = dep.call("GET", f"/project/{pid}", token=token)
        assert p.status_code == 200, p.text
        return p.json()["status"]

    eventually(lambda: status() == "UP", STEP, "the site never became UP")
    dep.target.set("/shop", "fail")
    eventually(lambda: status() == "DOWN", STEP, "the site never became DOWN")
    downs = dep.sink.wait_for(to=email, subject="DOWN:", timeout=STEP)
    assert [m.subject for m in downs] == [f"DOWN: {name}"], dep.sink.describe()
    # Its links are the web client's pages for the project and for muting.
    assert f"{dep.public_url}/projects/{pid}" in downs[0].text, downs[0].text
    assert f"{dep.public_url}/mute?token=" in downs[0].text, downs[0].text
    dep.target.set("/shop", "ok")
    eventually(lambda: status() == "UP", STEP, "the site never came back")
    ups = dep.sink.wait_for(to=email, subject="UP again:", timeout=STEP)
    assert [m.subject for m in ups] == [f"UP again: {name}"], dep.sink.describe()
    assert len(dep.sink.messages(to=email, subject="DOWN:")) == 1

    dep.story = (pid, token)
    return dep.story


def test_a_person_registers_verifies_and_is_told_when_the_site_fails(
        deployment):
    pid, token = person_is_told_when_the_site_fails(deployment)
    # Its history, over HTTPS too.
    r = deployment.call("GET", f"/project/{pid}/checks", token=token)
    assert r.status_code == 200, r.text


def total(samples, name, **labels):
    want = set(labels.items())
    return sum(v for (n, l), v in samples.items() if n == name and want <= l)


def test_metrics_show_both_programs_work(deployment):
    dep = deployment
    person_is_told_when_the_site_fails(dep)  # the traffic counted below
    r = dep.call("GET", "/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    api, _ = parse(r.text)
    assert total(api, "trackly_http_requests_total", route="/user/register",
                 status="201") >= 1, r.text
    assert total(api, "trackly_http_requests_total", route="/project",
                 status="201") >= 1, r.text

    prom = dep.state / "monitor.prom"
    # Rewritten every 5 s: wait for a page counting the checks made so far.
    monitor = {}

    def counted():
        if prom.exists():
            monitor.clear()
            monitor.update(parse(prom.read_text())[0])
        return (total(monitor, "trackly_monitor_checks_total",
                      result="down") >= 2
                and total(monitor, "trackly_monitor_checks_total",
                          result="up") >= 2
                # verification, DOWN, UP again
                and total(monitor, "trackly_monitor_mail_sent_total") >= 3)
    assert wait_until(counted, 12), monitor
    assert total(monitor, "trackly_monitor_mail_queued_total") >= 2
    assert prom.stat().st_mode & 0o777 == 0o644


def test_trackly_admin_reports_lag_and_sends_a_test_mail(deployment):
    dep = deployment
    r = dep.admin("monitor", "lag", "--max", "60")
    assert r.returncode == 0, r.stdout + r.stderr
    to = new_email("ops")
    r = dep.admin("mail", "test", to)
    assert r.returncode == 0, r.stdout + r.stderr
    assert dep.sink.wait_for(to=to, timeout=STEP), dep.sink.describe()


def test_logs_are_json_lines_without_secrets(deployment):
    dep = deployment
    r = dep.call("GET", "/healthcheck")
    request_id = r.headers["X-Request-Id"]

    def logged():
        return request_id in dep.api.log()
    assert wait_until(logged, 5), dep.api.log()[-2000:]
    for prog in (dep.api, dep.monitor):
        records = prog.records()
        assert records, prog.name
        for record in records:
            assert record["program"] == prog.name, record
            assert {"ts", "level", "pid", "msg"} <= record.keys(), record
    [mine] = [r for r in dep.api.records() if r.get("id") == request_id]
    assert (mine["msg"], mine["route"], mine["status"]) == \
        ("request", "/healthcheck", 200), mine
    logs = [p for p in dep.logs.iterdir()] + \
        [p for p in dep.site.dir.glob("*.log")]
    for path in logs:
        text = path.read_text("utf-8", "replace")
        for secret in dep.secrets:
            assert secret not in text, f"{path.name} holds a secret"


def test_both_programs_stop_cleanly_on_sigterm(deployment):
    dep = deployment
    assert dep.monitor.stop() == 0, dep.monitor.log()[-2000:]
    assert dep.notify.wait_for("STOPPING=1", 1)
    assert dep.api.stop() == 0, dep.api.log()[-2000:]
    time.sleep(0.1)
    errors = [r for p in (dep.api, dep.monitor) for r in p.records()
              if r["level"] not in ("debug", "info", "notice", "warn")]
    assert not errors, errors
