"""trackly-monitor as a process (DESIGN §1, §5): its command line, refusing a
bad configuration or an unknown schema with one line, systemd's readiness
and stopping notifications, a SIGTERM that lets checks in flight finish,
`--once`, `--env-file`, and a database restart under a running daemon
(marked resilience: it runs with the other disruptive tests, last)."""

import re
import secrets
import signal
import tempfile
import time
from pathlib import Path

import pytest

from helpers.db import (
    Database, check_rows, database_at_schema_version, db_connect, db_dsn,
    dict_rows, outbox_rows,
)
from helpers.http import call
from helpers.monitor import monitor_env, run_monitor
from helpers.projects import insert_project
from helpers.stack import (
    api_workers, binary_env, nonempty_lines, pgctl, under_asan,
)
from helpers.users import make_user, make_verified_user
from helpers.wait import eventually, wait_until

VERIFY_SUBJECT = "Confirm your email address for Trackly"


# --- command line and configuration ----------------------------------------

def test_help_prints_usage():
    r = run_monitor(["--help"], binary_env())
    assert r.returncode == 0, r.stderr
    assert "usage" in r.stdout.lower()
    for option in ("--once", "--env-file", "--version"):
        assert option in r.stdout, f"{option} missing from --help"


def test_version_prints_the_version():
    r = run_monitor(["--version"], binary_env())
    assert r.returncode == 0, r.stderr
    assert re.search(r"\d+\.\d+\.\d+", r.stdout), r.stdout


def refuses(env_vars, mentioning, args=()):
    """Runs the monitor; asserts it exits non-zero within 5 s with one line
    on stderr that matches mentioning."""
    start = time.monotonic()
    r = run_monitor(list(args), env_vars, timeout=15)
    elapsed = time.monotonic() - start
    assert r.returncode != 0, "exited 0"
    assert elapsed < 5, f"took {elapsed:.1f} s to give up"
    lines = nonempty_lines(r.stderr)
    assert len(lines) == 1, f"want one line on stderr, got {lines!r}"
    assert re.search(mentioning, lines[0], re.I), lines[0]
    return lines[0]


def test_missing_db_url_is_refused():
    refuses(binary_env(), "DB_URL")


def test_bad_setting_is_refused():
    refuses(monitor_env(MONITOR_CONCURRENCY="lots"), "MONITOR_CONCURRENCY")


def test_unknown_schema_version_is_refused():
    with database_at_schema_version("trackly_monitor_badver", 999) as name:
        for args in ((), ("--once",)):
            refuses(monitor_env(DB_URL=db_dsn(name)), r"schema[ _]version",
                    args)


# --- systemd and signals ----------------------------------------------------

def test_ready_then_stopping_on_sigterm(monitor):
    user = make_verified_user()
    daemon = monitor(users=[user])
    assert daemon.wait_ready(10), \
        f"no READY=1 within 10 s; got {daemon.notify.assignments()}"
    assert "STOPPING=1" not in daemon.notify.assignments()
    start = time.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    code = daemon.wait(10)
    assert code == 0, f"exit status {code} after SIGTERM"
    assert time.monotonic() - start < 5, "slow to stop with nothing to do"
    assert daemon.notify.wait_for("STOPPING=1", 1), daemon.notify.assignments()
    order = daemon.notify.assignments()
    assert order.index("READY=1") < order.index("STOPPING=1")


def test_watchdog_is_fed_when_systemd_asks_for_it(monitor):
    """WatchdogSec= makes systemd set WATCHDOG_USEC; the daemon must then
    send WATCHDOG=1 at least every half of it, from its main loop."""
    user = make_verified_user()
    daemon = monitor(users=[user], WATCHDOG_USEC="600000")
    assert daemon.wait_ready(10), daemon.notify.assignments()
    assert daemon.notify.wait_for("WATCHDOG=1", 2), daemon.notify.assignments()
    before = daemon.notify.assignments().count("WATCHDOG=1")
    time.sleep(3)
    pings = daemon.notify.assignments().count("WATCHDOG=1") - before
    assert pings >= 8, f"{pings} WATCHDOG=1 in 3 s with a 0.6 s watchdog"
    assert daemon.stop() == 0


def test_sigterm_lets_checks_in_flight_finish(db, monitor, target):
    user = make_verified_user()
    ids = []
    for i in range(3):
        # Answers after 1.5 s, well within the 3 s timeout.
        link = target.set(f"/inflight{i}", "slow", delay=1.5)
        ids.append(insert_project(db, user, link, interval=10,
                                  timeout_ms=3000))
    daemon = monitor(users=[user])
    eventually(lambda: all(target.requests(f"/inflight{i}") == 1
                           for i in range(3)), 15, "checks never started")
    start = time.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    code = daemon.wait(3 + 5)
    elapsed = time.monotonic() - start
    assert code is not None, "still running 8 s after SIGTERM"
    assert code == 0, f"exit status {code}"
    print(f"stopped {elapsed:.2f} s after SIGTERM")
    for pid in ids:
        checks = check_rows(db, pid)
        assert len(checks) == 1 and checks[0]["ok"], \
            f"the check in flight was not finished and written: {checks}"
    held = dict_rows(db, "SELECT id, lease_owner, lease_expires_at "
                         "FROM projects WHERE id = ANY(%s) AND lease_owner "
                         "IS NOT NULL AND lease_expires_at > now()", (ids,))
    assert held == [], f"leases still held after exit: {held}"


def test_sigterm_with_a_check_that_times_out(db, monitor, target):
    """A check still in flight at SIGTERM (a 4 s timeout against a target
    that answers after 6 s) either times out and is written, or is
    abandoned; either way the daemon exits 0 within the timeout and a few
    seconds, and leaves no lease behind for another daemon to wait out."""
    user = make_verified_user()
    link = target.set("/stuck", "slow", delay=6)
    pid = insert_project(db, user, link, interval=60, timeout_ms=4000)
    daemon = monitor(users=[user])
    eventually(lambda: target.requests("/stuck") == 1, 15,
               "check never started")
    daemon.proc.send_signal(signal.SIGTERM)
    code = daemon.wait(4 + 5)
    assert code is not None, "still running 9 s after SIGTERM"
    assert code == 0, f"exit status {code}"
    row = dict_rows(db, "SELECT lease_owner, lease_expires_at,"
                        " lease_expires_at > now() AS held,"
                        " next_check_at <= now() AS due"
                        " FROM projects WHERE id = %s", (pid,))[0]
    assert not (row["lease_owner"] and row["held"]), \
        f"lease still held after exit: {row}"
    written = check_rows(db, pid)
    if written:
        assert [c["error"] for c in written] == ["timeout"]
    else:               # abandoned: the slot stays due for the next daemon
        assert row["due"], f"an abandoned check lost its slot: {row}"


# --- --once and --env-file -------------------------------------------------

def test_once_checks_what_is_due_delivers_mail_and_exits(db, monitor,
                                                         smtp_server, target):
    user = make_user()                       # its verification mail waits
    due = insert_project(db, user, target.set("/once", "ok"), interval=60)
    later = insert_project(db, user, target.set("/later", "ok"), interval=60,
                           due_in=3600)
    run = monitor(users=[user], once=True)
    code = run.wait(30)
    assert code is not None, "--once still running after 30 s"
    assert code == 0, f"--once exited {code}"
    assert len(check_rows(db, due)) == 1
    assert check_rows(db, later) == []
    assert target.requests("/later") == 0
    assert len(smtp_server.messages(to=user.email,
                                    subject=VERIFY_SUBJECT)) == 1, \
        smtp_server.describe()
    [row] = outbox_rows(db, user_id=user.id, kind="verify")
    assert row["sent_at"] is not None

    # Nothing is due any more: a second pass checks and sends nothing.
    again = monitor(users=[user], once=True)
    assert again.wait(30) == 0
    assert len(check_rows(db, due)) == 1
    assert len(smtp_server.messages(to=user.email)) == 1


def test_env_file_supplies_the_settings(db, monitor, smtp_server, target):
    user = make_verified_user()
    pid = insert_project(db, user, target.set("/envfile", "fail"),
                         interval=60)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "monitor.env")
        settings = monitor_env(smtp_server)
        path.write_text("".join(
            f"{k}={settings[k]}\n" for k in
            ("DB_URL", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_TLS", "PUBLIC_URL",
             "TRACKLY_ALLOW_PRIVATE_TARGETS")))
        run = monitor(users=[user], once=True, args=["--env-file", str(path)],
                      DB_URL=None, EMAIL_HOST=None, EMAIL_PORT=None,
                      PUBLIC_URL=None)
        assert run.wait(30) == 0, run.log_tail()
    [check] = check_rows(db, pid)
    assert check["error"] == "status 503"


# --- no token key in the monitor (issue 12 item 9) ---------------------------
# The monitor never signs or verifies a token, so it must not hold the key:
# one compromised monitor (it fetches what strangers typed) must not be
# able to mint tokens.  The units keep the key out of its environment
# (tests/systemd/boot-test checks the installed one, test_install.py the
# unit text); the program also drops JWT_* itself, for a single shared
# file read without systemd, or a unit someone edited.

# Mappings larger than this are reservations, not data: under
# AddressSanitizer the allocator's region and the shadow memory are
# terabytes of mostly unbacked address space (the normal build has none).
MAPPING_SCAN_MAX = 1 << 30
CHUNK = 16 << 20


def memory_holds(pid, needles):
    """Which of needles appear in a writable mapping of pid (heap, stack,
    the environment block, data): where a secret would be.  Returns
    (bytes scanned, set of needles found); reads in chunks that overlap by
    the longest needle, so a match across two chunks is found."""
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    overlap = max(len(n) for n in needles)
    scanned, found = 0, set()
    with open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if not perms.startswith("rw"):
                continue
            start, end = (int(x, 16) for x in addr.split("-"))
            if end - start > MAPPING_SCAN_MAX:
                continue
            tail = b""
            for at in range(start, end, CHUNK):
                try:
                    mem.seek(at)
                    chunk = mem.read(min(CHUNK, end - at))
                except (OSError, ValueError, OverflowError):
                    break
                window = tail + chunk
                found.update(n for n in needles if n in window)
                scanned += len(chunk)
                tail = window[-overlap:]
    return scanned, found


def jwt_settings():
    key, previous = secrets.token_hex(32), secrets.token_hex(32)
    return key, previous, {"JWT_SECRET": key, "JWT_SECRET_PREVIOUS": previous}


def assert_holds_no_key(daemon, *keys, scan_memory=True):
    environ = Path(f"/proc/{daemon.pid}/environ").read_bytes()
    needles = [key.encode() for key in keys]
    for key in needles:
        assert key not in environ, "the key is in /proc/PID/environ"
    if not scan_memory:
        return
    scanned, found = memory_holds(daemon.pid, needles)
    assert scanned, "could not read the monitor's memory"
    for key in needles:
        assert key not in found, "the key is in the monitor's memory"


def test_monitor_drops_a_key_it_is_given(db, monitor, target):
    """The single shared file, read without systemd: the key reaches the
    monitor's environment; it checks as always and keeps no copy."""
    user = make_verified_user()
    pid = insert_project(db, user, target.set("/nokey", "ok"), interval=60)
    key, previous, settings = jwt_settings()
    daemon = monitor(users=[user], **settings)
    assert daemon.wait_ready(10), daemon.log_tail()
    eventually(lambda: check_rows(db, pid), 10, "no check was made")
    # AddressSanitizer's runtime reads /proc/self/environ into a buffer of
    # its own before main() runs, so under --sanitize a key given in the
    # environment is in memory the program never sees; the normal build
    # scans it all.
    assert_holds_no_key(daemon, key, previous, scan_memory=not under_asan())
    assert daemon.stop() == 0


def test_monitor_drops_a_key_from_its_env_file(db, monitor, smtp_server):
    user = make_verified_user()
    key, previous, settings = jwt_settings()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "trackly.env")
        path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()) +
                        f"DB_URL={monitor_env(smtp_server)['DB_URL']}\n")
        daemon = monitor(users=[user], args=["--env-file", str(path)],
                         DB_URL=None)
        assert daemon.wait_ready(10), daemon.log_tail()
        assert_holds_no_key(daemon, key, previous)
        assert daemon.stop() == 0


@pytest.mark.parametrize("settings", [
    {"JWT_SECRET": "short"},
    {"JWT_SECRET_FILE": "/nonexistent/jwt_secret"},
    {"JWT_SECRET": "a" * 64, "JWT_SECRET_FILE": "/nonexistent/jwt_secret"},
    {"JWT_TTL": "forever"},
], ids=["short-key", "missing-file", "both", "bad-ttl"])
def test_monitor_ignores_token_settings(monitor, settings):
    """The monitor reads no JWT setting, so none can stop it."""
    user = make_verified_user()
    daemon = monitor(users=[user], **settings)
    assert daemon.wait_ready(10), daemon.log_tail()
    assert daemon.stop() == 0


# --- the database going away -------------------------------------------------

def api_recovered():
    """True once every API worker answers /healthcheck with 200 in a row."""
    for _ in range(2 * api_workers()):
        try:
            if call("GET", "/healthcheck", timeout=5).status_code != 200:
                return False
        except Exception:
            return False
    return True


@pytest.mark.resilience
def test_survives_a_database_restart(db, monitor, target):
    """Postgres stops for a few seconds under a running daemon: the daemon
    keeps running, and once the database is back it checks again on its
    grid, without checking a slot twice."""
    user = make_verified_user()
    pid = insert_project(db, user, target.set("/restart", "ok"), interval=1)
    daemon = monitor(users=[user])
    eventually(lambda: len(check_rows(db, pid)) >= 2, 15, "no checks")
    db.conn.close()
    pgctl("stop")
    try:
        time.sleep(3)
        assert daemon.running(), "the monitor exited without its database"
    finally:
        pgctl("start")
        # Leave the shared API healthy for the tests after this one (each
        # worker notices the new database on its next request).
        wait_until(api_recovered, timeout=10, interval=0.2)
    again = Database(db_connect())
    try:
        before = len(check_rows(again, pid))
        eventually(lambda: len(check_rows(again, pid)) >= before + 3, 20,
                   lambda: f"no new checks after the restart; log:\n"
                           f"{daemon.log_tail(20)}")
        assert daemon.running()
        slots = [c["scheduled_at"] for c in check_rows(again, pid)]
        assert len(set(slots)) == len(slots), "a slot was checked twice"
    finally:
        again.conn.close()


def cut_connection_while_checking(db, monitor, target, application_name,
                                  cuts, pause):
    """Three projects checked every second; the monitor's connection named
    application_name is cut cuts times, pause seconds apart: the monitor
    keeps running, checks and writes on, every slot once, and leaves no
    lease behind when it stops."""
    user = make_verified_user()
    ids = [insert_project(db, user, target.set(f"/{application_name}{i}",
                                               "ok"), interval=1)
           for i in range(3)]
    daemon = monitor(users=[user])
    eventually(lambda: all(len(check_rows(db, p)) >= 2 for p in ids), 15,
               "no checks")

    def backends():
        return {r["application_name"] for r in dict_rows(
            db, "SELECT application_name FROM pg_stat_activity "
                "WHERE application_name LIKE 'trackly-monitor%%'")}
    eventually(lambda: {"trackly-monitor", "trackly-monitor-writer"}
               <= backends(), 10, lambda: f"backends: {backends()}")
    before = {p: len(check_rows(db, p)) for p in ids}
    cut = 0
    for _ in range(cuts):
        cut += len(dict_rows(
            db, "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity"
                " WHERE application_name = %s", (application_name,)))
        time.sleep(pause)
    assert cut >= cuts // 2, f"{application_name} was cut {cut} times"
    assert daemon.running(), daemon.log_tail(20)
    eventually(lambda: all(len(check_rows(db, p)) >= before[p] + 6
                           for p in ids), 20,
               lambda: f"checks stopped; log:\n{daemon.log_tail(20)}")
    for p in ids:
        slots = [c["scheduled_at"] for c in check_rows(db, p)]
        assert len(set(slots)) == len(slots), f"a slot written twice: {slots}"
    assert daemon.stop() == 0
    held = dict_rows(db, "SELECT id FROM projects WHERE id = ANY(%s) AND "
                         "lease_owner IS NOT NULL", (ids,))
    assert held == [], f"leases still held after exit: {held}"


def test_loop_losing_its_connection_claims_on(db, monitor, target):
    """The check loop sends its claims without waiting for them
    (common/db.h, db_send): its own connection cut again and again,
    whether a claim is out on it or not, it reconnects and claims on."""
    cut_connection_while_checking(db, monitor, target, "trackly-monitor",
                                  cuts=6, pause=0.7)


def test_writer_losing_its_connection_loses_no_result(db, monitor, target):
    """The monitor writes its results on a connection of its own (the
    writer thread, monitor/writer.h), beside the check loop's.  Cut the
    writer's connection again and again: the loop keeps probing, the
    writer reconnects and writes what it held, every slot exactly once."""
    cut_connection_while_checking(db, monitor, target,
                                  "trackly-monitor-writer", cuts=4, pause=1.2)
