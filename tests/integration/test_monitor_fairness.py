"""Check slots are shared fairly between users (issue 12, item 1).

Accounts whose links point at a tarpit (a listener that accepts and never
answers) with long timeouts used to fill every one of MONITOR_CONCURRENCY
slots, first come first served, so another user's checks started a whole
timeout late.  Now slots are taken round-robin by user and a few are kept
for users with nothing in flight (monitor/fairshare.h, sched_claim): the
honest user's checks start within 2 s of their slot while the attack goes
on, and the tarpit costs its owners (their own checks wait).  The
full-scale run is bench/fairness."""

import time

from helpers.db import dict_rows
from helpers.projects import insert_project
from helpers.users import make_verified_user
from helpers.targets import Tarpit

CONCURRENCY = 16
ATTACKERS, PER_ATTACKER = 4, 10           # 40 tarpit checks for 16 slots
TARPIT_INTERVAL, TARPIT_TIMEOUT_MS = 10, 8000
HONEST_DUE_IN = 2                         # after the tarpits took the slots
WATCH = 12                                # s: past the first tarpit timeout


def lags(db, ids, since):
    """checked_at - scheduled_at (s) of the checks of ids scheduled since."""
    return [float(r["lag"]) for r in dict_rows(
        db, "SELECT extract(epoch FROM checked_at - scheduled_at) AS lag "
            "FROM checks WHERE project_id = ANY(%s) AND scheduled_at >= "
            "to_timestamp(%s) ORDER BY scheduled_at", (ids, since))]


def leases_by_user(db, users):
    return {r["user_id"]: r["n"] for r in dict_rows(
        db, "SELECT user_id, count(*) AS n FROM projects "
            "WHERE lease_owner IS NOT NULL AND user_id = ANY(%s) "
            "GROUP BY user_id", ([u.id for u in users],))}


def test_tarpit_accounts_do_not_delay_an_honest_user(db, monitor, target):
    tarpit = Tarpit()
    try:
        attackers = [make_verified_user() for _ in range(ATTACKERS)]
        honest = make_verified_user()
        tarpit_ids = [insert_project(db, a, tarpit.url(f"/t{i}"),
                                     interval=TARPIT_INTERVAL,
                                     timeout_ms=TARPIT_TIMEOUT_MS,
                                     name=f"tarpit {i}", notify=False)
                      for a in attackers for i in range(PER_ATTACKER)]
        start = time.time()
        honest_ids = [insert_project(db, honest, target.set(f"/h{i}", "ok"),
                                     interval=1, timeout_ms=500,
                                     due_in=HONEST_DUE_IN, name=f"honest {i}")
                      for i in range(2)]
        m = monitor(users=[*attackers, honest],
                    MONITOR_CONCURRENCY=str(CONCURRENCY))
        held = []
        end = time.monotonic() + WATCH
        while time.monotonic() < end:
            held.append(leases_by_user(db, attackers))
            time.sleep(0.5)
        # Stop the attack before the monitor stops: what is in flight ends
        # within one tarpit timeout.
        db.run("UPDATE projects SET paused = true WHERE id = ANY(%s)",
               (tarpit_ids,))

        got = lags(db, honest_ids, start + HONEST_DUE_IN)
        most = max((sum(h.values()) for h in held), default=0)
        per_user = max((n for h in held for n in h.values()), default=0)
        print(f"tarpit connections {tarpit.connections}; attackers' leases "
              f"at most {most} ({per_user} for one); honest lags: "
              f"{[round(x, 3) for x in got]}")
        assert tarpit.connections >= CONCURRENCY - 1, \
            "the attack never filled the slots"
        assert len(got) >= WATCH - HONEST_DUE_IN - 2, \
            f"only {len(got)} honest checks in {WATCH} s"
        assert max(got) < 2.0, \
            f"honest checks started up to {max(got):.1f} s late: {got}"
        assert most < CONCURRENCY, "the attackers held every slot"
        assert m.running()
    finally:
        tarpit.close()
