"""Several trackly-monitor daemons on one database (DESIGN §1, §7): each due
check is done once and each alert sent once; a daemon killed with SIGKILL
in the middle of its checks loses nothing for good, because its leases
expire and another daemon takes the work over."""

import subprocess
import time

from helpers.db import (
    check_rows, dict_rows, incident_rows, outbox_rows, project_row,
)
from helpers.projects import insert_project
from helpers.users import make_verified_user
from helpers.wait import eventually

STEP = 15


def duplicate_slots(db, ids):
    """(project_id, scheduled_at, count) for every slot checked twice."""
    return db.all("SELECT project_id, scheduled_at, count(*) FROM checks "
                  "WHERE project_id = ANY(%s) GROUP BY 1, 2 "
                  "HAVING count(*) > 1", (ids,))


def statuses(db, ids):
    return {r["id"]: r["status"] for r in dict_rows(
        db, "SELECT id, status FROM projects WHERE id = ANY(%s)", (ids,))}


def all_status(db, ids, status):
    return all(s == status for s in statuses(db, ids).values())


def lease_rows(db, ids):
    return dict_rows(db, "SELECT id, lease_owner, lease_expires_at "
                         "FROM projects WHERE id = ANY(%s)", (ids,))


def off_grid(db, project_id, interval):
    """Gaps between consecutive scheduled_at values that are not a whole
    number of intervals (to the millisecond: the monitor keeps times in
    milliseconds, so a first slot from the API's now() moves by < 1 ms)."""
    times = [c["scheduled_at"] for c in check_rows(db, project_id)]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    return [g for g in gaps if g < interval - 0.001
            or abs(g - interval * round(g / interval)) > 0.001]


def test_two_daemons_check_each_slot_once_and_mail_once(
        db, monitor, smtp_server, target):
    user = make_verified_user()
    names = {}
    ids = []
    for i in range(5):
        name = f"cluster {i} {user.email[:8]}"
        pid = insert_project(db, user, target.set(f"/c{i}", "ok"), name=name)
        names[pid] = name
        ids.append(pid)
    first, second = monitor(users=[user]), monitor(users=[user])
    owners = set()

    def phase(status):
        def done():
            owners.update(r[0] for r in db.all(
                "SELECT lease_owner FROM projects WHERE id = ANY(%s) "
                "AND lease_owner IS NOT NULL", (ids,)))
            return all_status(db, ids, status)
        eventually(done, STEP, lambda: f"not all {status}: "
                                       f"{statuses(db, ids)}", interval=0.05)

    phase("UP")
    for i in range(5):
        target.set(f"/c{i}", "fail")
    phase("DOWN")
    for i in range(5):
        target.set(f"/c{i}", "ok")
    phase("UP")
    end = time.monotonic() + 3                 # a few more slots, all good
    while time.monotonic() < end:
        phase("UP")
        time.sleep(0.1)

    assert first.running() and second.running()
    assert first.stop() == 0 and second.stop() == 0
    assert duplicate_slots(db, ids) == []
    for pid in ids:
        checks = check_rows(db, pid)
        assert len(checks) >= 5, f"project {pid}: only {len(checks)} checks"
        assert off_grid(db, pid, 1) == [], \
            f"project {pid}: scheduled_at off the 1 s grid"
        [incident] = incident_rows(db, pid)
        assert incident["resolved_at"] is not None
        kinds = [r["kind"] for r in outbox_rows(db, project_id=pid)]
        assert kinds == ["down", "recovered"], f"project {pid}: {kinds}"

    for pid, name in names.items():
        for subject in (f"DOWN: {name}", f"UP again: {name}"):
            got = smtp_server.wait_for(
                to=user.email, timeout=STEP,
                predicate=lambda m, s=subject: m.subject == s)
            assert len(got) == 1, f"{subject!r}:\n{smtp_server.describe()}"
    time.sleep(1)
    assert len(smtp_server.messages(to=user.email,
                                     predicate=lambda m: "cluster" in
                                     m.subject)) == 10, \
        smtp_server.describe()
    print("lease owners seen:", sorted(owners))


def killed_mid_check(db, monitor, target, user, path, name, monitor_id):
    """Four of user's projects (/{path}0.. named "{name} 0".. on target),
    a monitor called monitor_id SIGKILLed while it checks all four;
    returns the projects' ids and the killed MonitorProcess."""
    ids = []
    for i in range(4):
        # The target answers after 3 s; the check gives up after 2 s.
        link = target.set(f"/{path}{i}", "slow", delay=3)
        ids.append(insert_project(db, user, link, interval=3,
                                  timeout_ms=2000, name=f"{name} {i}"))
    doomed = monitor(users=[user], MONITOR_ID=monitor_id)
    eventually(lambda: all(target.requests(f"/{path}{i}") >= 1
                           for i in range(4)),
               STEP, "the first daemon never probed every project")
    doomed.kill()                            # checks in flight, none written
    return ids, doomed


def test_sigkill_mid_batch_leases_are_taken_over(db, monitor, smtp_server,
                                                 target):
    user = make_verified_user()
    # Two names, as two hosts would have: a monitor restarted under the
    # same name takes its leases back at once (the test after this one).
    ids, doomed = killed_mid_check(db, monitor, target, user, "k", "killed",
                                   "doomed")
    killed_at = time.time()

    leases = dict_rows(db, "SELECT id, lease_owner, lease_expires_at, "
                           "extract(epoch FROM lease_expires_at - now()) "
                           "AS left FROM projects WHERE id = ANY(%s)", (ids,))
    for lease in leases:
        assert lease["lease_owner"], f"in-flight project not leased: {lease}"
        assert lease["left"] < 120, f"lease {float(lease['left']):.0f} s long"
    assert sum(len(check_rows(db, pid)) for pid in ids) == 0, \
        "checks written by a daemon that never finished them"
    lease_end = float(max(lease["left"] for lease in leases))

    survivor = monitor(users=[user], MONITOR_ID="survivor")
    # Within the lease time (plus a slot and a timeout), the survivor has
    # checked every project, and keeps doing so.
    took_over = eventually(
        lambda: all(len(check_rows(db, pid)) >= 2 for pid in ids),
        max(lease_end, 0) + 20,
        lambda: f"checks per project: "
                f"{[len(check_rows(db, pid)) for pid in ids]}; "
                f"leases: {lease_rows(db, ids)}")
    assert took_over
    print(f"taken over {time.time() - killed_at:.1f} s after the kill")

    for pid in ids:
        checks = check_rows(db, pid)
        assert all(c["error"] == "timeout" for c in checks), checks
        assert project_row(db, pid)["status"] == "DOWN"
        assert len(incident_rows(db, pid)) == 1
        assert [r["kind"] for r in outbox_rows(db, project_id=pid)] == ["down"]
    assert duplicate_slots(db, ids) == []
    stuck = db.all("SELECT id, lease_owner, lease_expires_at FROM projects "
                   "WHERE id = ANY(%s) AND lease_owner IS NOT NULL "
                   "AND lease_expires_at < now() - interval '10 seconds'",
                   (ids,))
    assert stuck == [], f"leases long expired and never taken over: {stuck}"

    downs = smtp_server.wait_for(to=user.email, subject="DOWN: killed",
                                 count=4, timeout=STEP)
    time.sleep(1)
    assert len(smtp_server.messages(to=user.email,
                                    subject="DOWN: killed")) == 4, \
        smtp_server.describe()
    assert sorted(m.subject for m in downs) == \
        [f"DOWN: killed {i}" for i in range(4)]
    assert survivor.running()


def test_restarted_monitor_takes_back_its_own_leases_at_once(
        db, monitor, smtp_server, target):
    """A monitor SIGKILLed and restarted under the same name (systemd's
    Restart=on-failure) checks the projects it held at once, instead of
    after their leases expire (timeout + 30 s), so no check is late by
    more than an interval."""
    user = make_verified_user()
    ids, first = killed_mid_check(db, monitor, target, user, "r", "restarted",
                                  "restarted")
    leases = lease_rows(db, ids)
    assert all(r["lease_owner"] == f"restarted:{first.pid}" for r in leases), \
        leases
    killed_at = time.monotonic()

    again = monitor(users=[user], MONITOR_ID="restarted")
    # The leases last 32 s; the restarted run checks well before that.
    eventually(lambda: all(len(check_rows(db, pid)) >= 1 for pid in ids),
               15, lambda: f"checks per project: "
                           f"{[len(check_rows(db, pid)) for pid in ids]}; "
                           f"leases: {lease_rows(db, ids)}")
    took = time.monotonic() - killed_at
    assert took < 20, f"checked only {took:.1f} s after the kill"
    assert "took back 4 leases" in again.log(), again.log_tail()
    assert duplicate_slots(db, ids) == []
    assert again.running()


def test_a_live_monitor_of_the_same_name_keeps_its_leases(
        db, monitor, smtp_server, target):
    """Two monitors started with the same name by mistake: the second does
    not take the live first one's leases (only a dead run's)."""
    user = make_verified_user()
    ids = [insert_project(db, user, target.set(f"/s{i}", "slow", delay=10),
                          interval=10, timeout_ms=8000, name=f"shared {i}")
           for i in range(2)]
    first = monitor(users=[user], MONITOR_ID="shared")
    eventually(lambda: all(r["lease_owner"] == f"shared:{first.pid}"
                           for r in lease_rows(db, ids)), STEP,
               lambda: f"not leased by the first: {lease_rows(db, ids)}")
    second = monitor(users=[user], MONITOR_ID="shared")
    assert second.wait_ready(10), second.log_tail()
    time.sleep(1)
    assert "took back" not in second.log(), second.log_tail()
    assert first.running() and second.running()


TEST_SUBJECT = "Trackly test message"


def dead_pid():
    """The pid of a process that has just exited."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_restarted_monitor_takes_back_its_own_mail_claims_at_once(
        db, monitor, smtp_server):
    """A monitor killed while its mailer held a claim (the 10-minute lease
    on an outbox row, mail_outbox.claimed_by = "name:pid") sends that mail
    as soon as it is restarted under the same name, not 10 minutes later.
    A claim of another monitor's name is left alone."""
    user = make_verified_user()
    pid = dead_pid()
    rows = {}
    for owner in (f"mailback:{pid}", f"someone-else:{pid}"):
        rows[owner] = db.value(
            "INSERT INTO mail_outbox (user_id, kind, recipient, attempts, "
            "claimed_until, claimed_by) VALUES (%s, 'test', %s, 1, "
            "now() + interval '10 minutes', %s) RETURNING id",
            (user.id, user.email, owner))
    again = monitor(users=[user], MONITOR_ID="mailback")
    assert again.wait_ready(10), again.log_tail()
    sent = smtp_server.wait_for(to=user.email, subject=TEST_SUBJECT,
                                timeout=STEP)
    assert len(sent) == 1, smtp_server.describe()
    assert "took back 0 leases and 1 mail claims" in again.log(), \
        again.log_tail()
    assert db.value("SELECT sent_at IS NOT NULL AND claimed_by IS NULL "
                    "FROM mail_outbox WHERE id = %s",
                    (rows[f"mailback:{pid}"],))
    time.sleep(1)
    assert db.value("SELECT sent_at IS NULL AND claimed_by = %s FROM "
                    "mail_outbox WHERE id = %s",
                    (f"someone-else:{pid}", rows[f"someone-else:{pid}"]))
    assert len(smtp_server.messages(to=user.email, subject=TEST_SUBJECT)) == 1
