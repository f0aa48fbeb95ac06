"""The process model under stress: the database going away and coming back,
workers dying, SIGHUP and SIGTERM, and refusing to start on bad
configuration.  These stop or signal the shared servers, so they live in
the file that sorts last, and each restores what it touched in a finally.
The start-up cases run private copies of the binary on their own sockets."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from helpers.db import database_at_schema_version, db_dsn
from helpers.fcgi import fcgi_request
from helpers.http import call, expect_error, expect_json
from helpers.procs import children_of, is_dead, terminate
from helpers.stack import (
    GOOD_SECRET, api_instance, api_log_since, api_master, api_workers,
    binary_env, env, log_size, nonempty_lines, pgctl, run_binary,
    upstream_errors_since,
)
from helpers.users import login
from helpers.wait import wait_until

pytestmark = pytest.mark.resilience

# How long one answer may take while something is broken.
QUICK = 5


def healthy():
    try:
        return call("GET", "/healthcheck", timeout=QUICK).status_code == 200
    except Exception:
        return False


def consecutive_successes(request, count):
    """True when count requests in a row succeed (any worker may answer)."""
    for _ in range(count):
        try:
            if request().status_code != 200:
                return False
        except Exception:
            return False
    return True


# --- the database goes away and comes back ---------------------------------

def test_database_outage_gives_503_and_recovers(new_user):
    workers = children_of(api_master())
    nginx_log = log_size("TRACKLY_NGINX_LOG")
    pgctl("stop")
    try:
        for _ in range(2 * api_workers()):          # every worker notices
            start = time.monotonic()
            r = call("GET", "/healthcheck", timeout=QUICK)
            assert expect_json(r, 503).get("database") == "unavailable"
            expect_error(r, 503)
            assert time.monotonic() - start < QUICK

        expect_error(new_user.me(), 503)
        expect_error(login(new_user.email, new_user.password,
                           timeout=QUICK), 503)
    finally:
        pgctl("start")

    recovered = wait_until(
        lambda: consecutive_successes(lambda: call("GET", "/healthcheck",
                                                   timeout=QUICK),
                                      2 * api_workers())
        and consecutive_successes(lambda: new_user.me(), 2 * api_workers()),
        timeout=10, interval=0.2)
    assert recovered, "API did not recover within 10 s of Postgres starting"
    # The 503s came from the workers themselves: none crashed (nginx would
    # turn that into a gateway error) and none was replaced.
    assert upstream_errors_since(nginx_log) == []
    assert children_of(api_master()) == workers, "workers were restarted"


def test_outage_is_logged_once_not_per_request(new_user):
    """While the database is away every request is refused with a 503;
    the log says so once per worker (cannot connect, then connected again
    with how long and how many calls were refused), not once per request:
    under load that was thousands of lines a second
    (bench/fault-pg-restart)."""
    for _ in range(4 * api_workers()):      # every worker holds a connection
        expect_json(call("GET", "/healthcheck"), 200)
    offset = log_size("TRACKLY_API_LOG")
    refused = 40
    pgctl("stop")
    try:
        for _ in range(refused):
            expect_error(new_user.me(), 503)
    finally:
        pgctl("start")
    assert wait_until(
        lambda: consecutive_successes(lambda: new_user.me(),
                                      4 * api_workers()),
        timeout=10, interval=0.2), "no recovery within 10 s"

    lines = nonempty_lines(api_log_since(offset))
    # Every line in the log's format, libpq's messages included (its
    # default notice receiver printed the server's FATAL raw).
    raw = [line for line in lines
           if not re.match(r"(\d{4}-\d\d-\d\dT\S+ \w+ trackly-api\[|\{)", line)]
    assert not raw, raw
    assert not [line for line in lines if "-> 503" in line], lines[:5]
    # Each request has its access line (test_logs.py), at info level; what
    # must not repeat per request is the report of the outage itself.
    served = [line for line in lines if ": request id=" in line]
    refused_lines = [line for line in served if " status=503 " in line]
    assert len(refused_lines) >= refused and \
        all(" info " in line for line in refused_lines), served[:5]
    lines = [line for line in lines if line not in served]
    assert len(lines) <= 4 * api_workers(), \
        f"{len(lines)} log lines for one outage: {lines[:8]}"
    again = [line for line in lines if "connected again after" in line]
    assert again and len(again) <= api_workers(), lines
    assert all(re.search(r"after \d+ ms away; \d+ calls refused", line)
               for line in again), again


def test_restart_while_idle_costs_no_request(new_user):
    """A restart that happens between requests is invisible: every worker's
    connection died with the old server, yet the first request each worker
    takes after the database is back succeeds (it reconnects and runs the
    statement again instead of answering 503)."""
    for _ in range(4 * api_workers()):      # every worker holds a connection
        expect_json(call("GET", "/healthcheck"), 200)
    pgctl("stop")
    pgctl("start")                          # returns once Postgres accepts
    codes = [call("GET", "/healthcheck", timeout=QUICK).status_code
             for _ in range(4 * api_workers())]
    assert codes == [200] * len(codes)
    expect_json(new_user.me(), 200)


# --- workers ---------------------------------------------------------------

def test_killed_worker_is_replaced():
    master, want = api_master(), api_workers()
    before = children_of(master)
    assert len(before) == want, f"master has {len(before)} workers, want {want}"
    victim = min(before)

    os.kill(victim, signal.SIGKILL)
    # A worker that has been sent SIGKILL but not yet run may still take
    # one last connection and drop it; wait for it to be really dead.
    assert wait_until(lambda: is_dead(victim), timeout=2)
    for _ in range(5):                                # the survivors answer
        expect_json(call("GET", "/healthcheck"), 200)

    def replaced():
        now = children_of(master)
        return len(now) == want and victim not in now and now - before

    assert wait_until(replaced, timeout=5), \
        f"workers after 5 s: {sorted(children_of(master))}, was {sorted(before)}"
    expect_json(call("GET", "/healthcheck"), 200)


def test_young_workers_killed_in_a_row_are_replaced_at_once():
    """SIGKILL comes from outside (an operator, the OOM killer): it is not
    a crash loop, even when the worker had only just started, so the
    master replaces it without the crash backoff.  (bench/fault-worker-kill
    with a kill every 0.5 s found the pool a worker short for up to 800 ms
    at a time while the backoff grew.)"""
    master, want = api_master(), api_workers()
    offset = log_size("TRACKLY_API_LOG")
    victims = []
    pool = children_of(master)
    for _ in range(4):
        assert wait_until(lambda: len(children_of(master)) == want,
                          timeout=10), "the pool did not refill"
        now = children_of(master)
        # The newest worker: the previous victim's replacement, a few ms
        # old, well under the master's one-second "died young" rule.
        victim = max(now - pool) if now - pool else max(now)
        pool = now
        os.kill(victim, signal.SIGKILL)
        victims.append(victim)
        assert wait_until(lambda: is_dead(victim), timeout=2)

    assert wait_until(lambda: len(children_of(master)) == want
                      and not children_of(master) & set(victims),
                      timeout=10), \
        f"workers {sorted(children_of(master))} after killing {victims}"
    log = api_log_since(offset)
    for victim in victims:
        assert f"worker {victim} killed by signal 9" in log, log[-2000:]
    assert "next start in" not in log, \
        "a worker killed from outside was treated as a crash: " + log[-2000:]
    expect_json(call("GET", "/healthcheck"), 200)


def test_sighup_replaces_every_worker_without_failed_requests(new_user):
    master, want = api_master(), api_workers()
    before = children_of(master)
    assert len(before) == want
    failures = []
    replaced_at = None
    nginx_log = log_size("TRACKLY_NGINX_LOG")

    os.kill(master, signal.SIGHUP)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for request in (lambda: call("GET", "/healthcheck", timeout=QUICK),
                        lambda: new_user.me()):
            try:
                r = request()
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text[:100]}")
            except Exception as exc:                  # timeout, reset, ...
                failures.append(repr(exc))
        now = children_of(master)
        if replaced_at is None and len(now) == want and not now & before:
            replaced_at = time.monotonic()
        if replaced_at and time.monotonic() - replaced_at > 1:
            break                                     # a second more of load

    assert replaced_at is not None, \
        f"workers {sorted(children_of(master))} still include some of " \
        f"{sorted(before)} 15 s after SIGHUP"
    assert replaced_at - (deadline - 15) <= 10, "reload took over 10 s"
    assert not failures, f"{len(failures)} failed requests: {failures[:5]}; " \
        f"nginx: {upstream_errors_since(nginx_log)[:3]}"


# --- a private instance: start, serve, stop --------------------------------

def try_fcgi(sock, path):
    """fcgi_request, or None while the instance is not accepting yet."""
    try:
        return fcgi_request(sock, "GET", path, timeout=QUICK)
    except OSError:
        return None


def instance_env(**extra):
    return binary_env(DB_URL=env("TRACKLY_DB_URL"), JWT_SECRET=GOOD_SECRET,
                      **extra)


def test_private_instance_serves_on_its_own_socket():
    with api_instance(instance_env()) as (proc, sock):
        assert wait_until(sock.exists, timeout=10), \
            f"no socket after 10 s; stderr: {proc.err_path.read_text()[-500:]}"
        answer = wait_until(lambda: try_fcgi(sock, "/healthcheck"), timeout=5)
        assert answer, "no FastCGI answer on the private socket"
        status, headers, payload = answer
        assert status == 200, payload
        assert headers.get("content-type", "").startswith("application/json")
        assert b'"ok"' in payload


def serve_with_launcher(argv, sock, env_vars):
    """Runs a launcher (systemd-socket-activate, spawn-fcgi) that creates
    sock and hands it to trackly-api; returns the first answer to
    /healthcheck on it and the launcher's output, and stops it."""
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(argv, env=env_vars, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_until(sock.exists, timeout=10), "launcher made no socket"
        answer = wait_until(lambda: try_fcgi(sock, "/healthcheck"), timeout=10)
    finally:
        terminate(proc, 12)
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
    return answer, output, proc.returncode


def test_socket_from_systemd_activation(tmp_path):
    """LISTEN_FDS: the socket systemd made (here systemd-socket-activate,
    which does what a .socket unit does) is the one the workers serve."""
    sock = tmp_path / "activated.sock"
    answer, output, _ = serve_with_launcher(
        ["systemd-socket-activate", "-E", "DB_URL", "-E", "JWT_SECRET",
         "-l", str(sock), env("TRACKLY_API_BIN"), "--workers", "1"],
        sock, instance_env())
    assert answer and answer[0] == 200, output
    assert "ready: 1 workers" in output, output
    assert "stopped" in output, output


def test_socket_on_stdin_from_spawn_fcgi(tmp_path):
    """fd 0: spawn-fcgi binds the socket and execs trackly-api with it as
    standard input."""
    sock = tmp_path / "spawned.sock"
    answer, output, rc = serve_with_launcher(
        ["spawn-fcgi", "-n", "-s", str(sock), "--",
         env("TRACKLY_API_BIN"), "--workers", "1"], sock, instance_env())
    assert answer and answer[0] == 200, output
    assert "ready: 1 workers" in output, output
    assert rc == 0, output


def links_asan(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True,
                         timeout=10).stdout
    return "libasan" in out


def test_worker_reads_no_uninitialised_memory_under_valgrind(tmp_path):
    """A worker started, connected (schema check, statements prepared),
    answered and stopped under valgrind's memcheck: no error in the master
    or the worker.  (valgrind on a worker under bench/soak-api's mix found
    the schema check cutting an error message it had never written at its
    first newline: a read of uninitialised stack, and a write past the
    buffer when the garbage held neither a NUL nor a newline.)"""
    binary = env("TRACKLY_API_BIN")
    if links_asan(binary):
        pytest.skip("an ASan build cannot run under valgrind")
    assert shutil.which("valgrind"), "valgrind is missing (./dev deps)"
    sock = tmp_path / "vg.sock"
    logs = tmp_path / "vg.%p.log"
    proc = subprocess.Popen(
        ["valgrind", "--quiet", "--trace-children=yes",
         "--child-silent-after-fork=no", f"--log-file={logs}", binary,
         "--socket", str(sock), "--workers", "1"],
        env=instance_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(sock.exists, timeout=60), "no socket under valgrind"
        answer = wait_until(lambda: try_fcgi(sock, "/healthcheck"),
                            timeout=60, interval=0.5)
        assert answer and answer[0] == 200, answer
        assert try_fcgi(sock, "/project/1")[0] == 401
    finally:
        terminate(proc, 60)
    reports = {p.name: p.read_text() for p in tmp_path.glob("vg.*.log")}
    assert len(reports) >= 2, f"want the master's and a worker's: {reports}"
    errors = {name: text for name, text in reports.items() if text.strip()}
    assert not errors, "\n".join(f"{n}:\n{t[:3000]}"
                                  for n, t in errors.items())


def test_sigterm_stops_cleanly_and_removes_the_socket():
    with api_instance(instance_env()) as (proc, sock):
        assert wait_until(sock.exists, timeout=10), \
            f"no socket after 10 s; stderr: {proc.err_path.read_text()[-500:]}"
        time.sleep(0.5)                         # let the worker start
        proc.send_signal(signal.SIGTERM)
        start = time.monotonic()
        code = proc.wait(timeout=15)
        assert time.monotonic() - start <= 10, "took over 10 s to stop"
        assert code == 0, f"exit status {code}"
        assert not sock.exists(), "socket file left behind"


# --- command line and configuration ----------------------------------------

def test_help_prints_usage():
    r = run_binary(["--help"], binary_env())
    assert r.returncode == 0, r.stderr
    assert "usage" in r.stdout.lower()
    assert "--socket" in r.stdout and "--workers" in r.stdout


def test_version_prints_the_version():
    r = run_binary(["--version"], binary_env())
    assert r.returncode == 0, r.stderr
    assert re.search(r"\d+\.\d+\.\d+", r.stdout), r.stdout


def refuses_to_start(env_vars, mentioning):
    """Runs the binary with env_vars; asserts it exits non-zero within a
    few seconds with one line on stderr containing the word mentioning."""
    start = time.monotonic()
    with api_instance(env_vars) as (proc, sock):
        try:
            code = proc.wait(timeout=10)
        except Exception:
            pytest.fail("still running 10 s after start")
        elapsed = time.monotonic() - start
        stderr = proc.err_path.read_text()
    assert code != 0, "exited 0"
    assert elapsed < 5, f"took {elapsed:.1f} s to give up"
    lines = nonempty_lines(stderr)
    assert len(lines) == 1, f"want one line on stderr, got {lines!r}"
    assert re.search(mentioning, lines[0], re.I), lines[0]
    return lines[0]


def test_short_jwt_secret_is_refused():
    short = "too-short-secret-31-bytes-long!"
    assert len(short) == 31
    line = refuses_to_start(binary_env(DB_URL=env("TRACKLY_DB_URL"),
                                       JWT_SECRET=short), "JWT_SECRET")
    assert short not in line, "the secret itself was printed"


def test_missing_db_url_is_refused():
    refuses_to_start(binary_env(JWT_SECRET=GOOD_SECRET), "DB_URL")


def test_unknown_schema_version_is_refused():
    with database_at_schema_version("trackly_badver", 999) as name:
        refuses_to_start(binary_env(DB_URL=db_dsn(name),
                                    JWT_SECRET=GOOD_SECRET),
                         r"schema[ _]version")
