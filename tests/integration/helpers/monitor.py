"""The monitor daemon for test_monitor_*.py.  Each monitor test starts its
own trackly-monitor (the `monitor` fixture, a MonitorFactory), with an SMTP
sink (smtp.py) and HTTP targets (targets.py).  All tests share one
database, so starting a monitor first pauses every project that the test's
own users do not own and defers everyone else's unsent mail: a monitor only
ever sees the test's own work, and tests assert only on their own users'
rows and mail."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from helpers.db import db_connect
from helpers.stack import binary_env, env
from helpers.wait import wait_until


# Seconds a monitor gets to exit after SIGTERM before the fixture kills it
# and fails the test (the contract: max project timeout + a few seconds).
MONITOR_STOP_TIMEOUT = 15
TEST_MAIL_FROM = "Trackly Tests <trackly@example.test>"


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
