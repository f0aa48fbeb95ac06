"""
The monitor's metrics (issue 6): with MONITOR_METRICS_FILE set, the daemon
rewrites that file every 5 s (and when it stops) in the Prometheus text
format, for node_exporter's textfile collector.  Read by result: every
line goes through test_metrics.py's strict parser, and the counters match
what the monitor was given to do.
"""

import tempfile
import time
from pathlib import Path

from helpers.projects import insert_project
from helpers.users import make_verified_user
from helpers.wait import wait_until
from test_metrics import parse

FAMILIES = (
    "trackly_monitor_checks_total",
    "trackly_monitor_check_duration_seconds",
    "trackly_monitor_schedule_lag_seconds",
    "trackly_monitor_claims_total",
    "trackly_monitor_leases_claimed_total",
    "trackly_monitor_leases_expired_total",
    "trackly_monitor_mail_queued_total",
    "trackly_monitor_mail_sent_total",
    "trackly_monitor_mail_failed_total",
    "trackly_monitor_outbox_pending",
    "trackly_monitor_outbox_oldest_seconds",
)


def read(path):
    """(samples, types) of the file, or None while it is not there."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return None
    return parse(text)


def get(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0)


def test_metrics_file_counts_checks_leases_and_mail(monitor, target, db):
    user = make_verified_user()
    insert_project(db, user, target.set("/ok", "ok"), interval=1)
    insert_project(db, user, target.set("/fail", "fail"), interval=60,
                   failure_threshold=1)
    path = Path(tempfile.mkdtemp(prefix="trackly-metrics-")) / "monitor.prom"
    m = monitor(users=[user], MONITOR_METRICS_FILE=str(path))
    assert m.wait_ready(), m.log_tail()
    got = {}

    def counted():
        read_now = read(path)
        if not read_now:
            return False
        got["samples"], got["types"] = read_now
        s = got["samples"]
        return get(s, "trackly_monitor_checks_total", result="up") >= 2 \
            and get(s, "trackly_monitor_checks_total", result="down") >= 1 \
            and get(s, "trackly_monitor_mail_sent_total") >= 1
    assert wait_until(counted, timeout=25, interval=0.5), \
        f"{got.get('samples')}\n{m.log_tail()}"
    samples, types = got["samples"], got["types"]
    assert set(FAMILIES) <= set(types), set(FAMILIES) - set(types)
    assert types["trackly_monitor_check_duration_seconds"] == "histogram"
    checks = get(samples, "trackly_monitor_checks_total", result="up") + \
        get(samples, "trackly_monitor_checks_total", result="down")
    assert get(samples, "trackly_monitor_check_duration_seconds_count") == \
        checks
    claimed = get(samples, "trackly_monitor_leases_claimed_total")
    assert claimed >= checks
    assert get(samples, "trackly_monitor_claims_total") >= 1
    assert get(samples, "trackly_monitor_schedule_lag_seconds_count") == \
        claimed
    assert get(samples, "trackly_monitor_leases_expired_total") == 0
    assert get(samples, "trackly_monitor_mail_queued_total") >= 1
    assert get(samples, "trackly_monitor_mail_failed_total") == 0
    assert get(samples, "trackly_monitor_outbox_pending") >= 0
    assert get(samples, "trackly_monitor_outbox_oldest_seconds") >= 0

    # Written once more on the way out, with at least what was seen.
    assert m.stop() == 0
    final, _ = read(path)
    for key, number in samples.items():
        if key[0].endswith("_total"):
            assert final.get(key, 0) >= number, key
    assert not path.with_name(path.name + ".tmp").exists()


def test_unwritable_metrics_file_is_reported_once(monitor, db):
    user = make_verified_user()
    m = monitor(users=[user],
                MONITOR_METRICS_FILE="/nonexistent-trackly-dir/monitor.prom")
    assert m.wait_ready(), m.log_tail()
    assert wait_until(lambda: "cannot write" in m.log(), timeout=10), \
        m.log_tail()
    assert m.running()
    time.sleep(6)            # the next write, 5 s later, fails silently
    assert m.log().count("cannot write") == 1, m.log_tail()
