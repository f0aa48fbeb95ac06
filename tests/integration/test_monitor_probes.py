"""What one check finds (DESIGN §4): UP when the final status is expected and
the keyword is in the first 64 KiB; otherwise DOWN with a short reason
(`timeout`, `connection refused`, `could not resolve host`, `status 503`,
`keyword not found`, `too many redirects`, ...).  Paused projects are not
checked; POST /project/{id}/check has one checked at once.

One daemon checks every case of this file at the same time (module-scoped
`probed`), so the file costs one start-up and one timeout, not one each."""

import time

import pytest

from helpers.db import Database, check_rows, db_connect, dict_rows, project_row
from helpers.http import call
from helpers.monitor import MonitorFactory
from helpers.projects import insert_project
from helpers.users import make_verified_user
from helpers.wait import eventually, wait_until
from helpers.smtp import SmtpSink
from helpers.targets import TargetServer, closed_port

KW = "trackly-target-ok"
KIB = 1024
CASES = [
    "ok", "ok without keyword", "timeout", "connection refused",
    "could not resolve host", "status 503", "status 500", "status 404",
    "expected 404", "expected 200 only", "keyword not found",
    "keyword after 64 KiB", "keyword within 64 KiB", "5 redirects",
    "6 redirects", "redirect to file:", "redirect to ftp:",
    "redirect to a closed port",
]


def cases(t):
    """name -> (link, insert_project options, expected status, error (None
    when UP), last_status_code (None: none)).  ... stands for "any".  t is
    the target server."""
    t.set("/ok", "ok")
    t.set("/slow", "slow", delay=3)
    t.set("/fail", "fail")
    t.set("/error500", "fail", status=500)
    t.set("/nokeyword", "nokeyword")
    t.set("/big-far", "big", size=200 * KIB, keyword_at=70_000)
    t.set("/big-near", "big", size=200 * KIB, keyword_at=60_000)
    t.set("/to-file", "redirect", location="file:///etc/passwd")
    t.set("/to-ftp", "redirect", location=f"ftp://127.0.0.1:{t.port}/")
    t.set("/to-refused", "redirect",
          location=f"http://127.0.0.1:{closed_port()}/")
    t.set("/moved", "redirect", location="/ok", status=301)
    return {
        "ok": (t.url("/ok"), {"keyword": KW}, "UP", None, 200),
        "ok without keyword": (t.url("/ok"), {}, "UP", None, 200),
        "timeout": (t.url("/slow"), {}, "DOWN", "timeout", None),
        "connection refused": (f"http://127.0.0.1:{closed_port()}/", {},
                               "DOWN", "connection refused", None),
        "could not resolve host": ("http://no-such-host.invalid/",
                                   {"timeout_ms": 5000, "interval": 60},
                                   "DOWN", "could not resolve host", None),
        "status 503": (t.url("/fail"), {}, "DOWN", "status 503", 503),
        "status 500": (t.url("/error500"), {}, "DOWN", "status 500", 500),
        "status 404": (t.url("/missing"), {}, "DOWN", "status 404", 404),
        "expected 404": (t.url("/missing"), {"expected_status": "404"},
                         "UP", None, 404),
        "expected 200 only": (t.url("/moved"), {"expected_status": "200"},
                              "UP", None, 200),
        "keyword not found": (t.url("/nokeyword"), {"keyword": KW},
                              "DOWN", "keyword not found", 200),
        "keyword after 64 KiB": (t.url("/big-far"), {"keyword": KW},
                                 "DOWN", "keyword not found", 200),
        "keyword within 64 KiB": (t.url("/big-near"), {"keyword": KW},
                                  "UP", None, 200),
        "5 redirects": (t.chain("/five", 5, "/ok"), {"keyword": KW},
                        "UP", None, 200),
        # A chain that breaks off: the design leaves open whether the
        # code of the last redirect is kept (...: anything).
        "6 redirects": (t.chain("/six", 6, "/ok"), {},
                        "DOWN", "too many redirects", ...),
        "redirect to file:": (t.url("/to-file"), {}, "DOWN", ..., ...),
        "redirect to ftp:": (t.url("/to-ftp"), {}, "DOWN", ..., ...),
        "redirect to a closed port": (t.url("/to-refused"), {}, "DOWN",
                                      "connection refused", ...),
    }


class Probed:
    """The module's shared run: the user, target, project ids by case, and
    the monitor still running (for the check-now test)."""


@pytest.fixture(scope="module")
def probed():
    sink = SmtpSink()
    t = TargetServer()
    factory = MonitorFactory(sink, "test_monitor_probes")
    run = Probed()
    run.db = None
    try:
        run.target, run.sink = t, sink
        run.user = make_verified_user()
        run.cases = cases(t)
        assert list(run.cases) == CASES
        run.db = conn_db = Database(db_connect())
        run.ids = {}
        for name, (link, options, *_rest) in run.cases.items():
            options = {"interval": 60, "timeout_ms": 500, **options}
            run.ids[name] = insert_project(conn_db, run.user, link,
                                           name=name, **options)
        run.paused = insert_project(conn_db, run.user, t.set("/paused", "ok"),
                                    interval=1, paused=True)
        run.monitor = factory(users=[run.user])
        started = time.monotonic()
        ids = list(run.ids.values())
        # Every case is checked at once; the slowest gives up after 0.5 s
        # (5 s for the resolver case).  A case still unchecked after 20 s
        # fails its own test below.
        wait_until(lambda: all(r["last_checked_at"] for r in dict_rows(
                       conn_db, "SELECT last_checked_at FROM projects "
                                "WHERE id = ANY(%s)", (ids,))), 20)
        run.first_pass = time.monotonic() - started
        yield run
    finally:
        problems = factory.finish()
        for m in factory.started:
            print(f"---- {m.log_path} ----\n{m.log_tail(60)}")
        t.close()
        sink.stop()
        if run.db is not None:
            run.db.conn.close()
        if problems:
            pytest.fail("monitor: " + "; ".join(problems), pytrace=False)


@pytest.mark.parametrize("case", CASES)
def test_probe(probed, case):
    db, pid = probed.db, probed.ids[case]
    link, options, status, error, code = probed.cases[case]
    row = project_row(db, pid)
    checks = check_rows(db, pid)
    assert len(checks) == 1, \
        f"{link}: {len(checks)} checks within 20 s, want 1: {row}"
    check = checks[0]
    assert (row["status"], check["ok"]) == (status, status == "UP"), \
        (row, check)
    if error is ...:                      # any short reason will do
        assert check["error"] and len(check["error"]) <= 200, check
    else:
        assert check["error"] == error, check
        assert row["last_error"] == error, row
    if code is not ...:
        assert check["status_code"] == code, check
    assert row["last_status_code"] == check["status_code"], row
    assert check["latency_ms"] is not None and check["latency_ms"] >= 0
    assert row["last_latency_ms"] == check["latency_ms"]
    assert row["last_checked_at"] == check["checked_at"]
    assert row["consecutive_failures"] == (0 if status == "UP" else 1)
    assert row["consecutive_successes"] == (1 if status == "UP" else 0)
    # The next check is one interval after this slot (to the millisecond:
    # the monitor keeps times in milliseconds, the API's now() has micro-
    # seconds).
    ahead = (row["next_check_at"] - check["scheduled_at"]).total_seconds()
    assert abs(ahead - options.get("interval", 60)) <= 0.001, \
        (row["next_check_at"], check["scheduled_at"])


def test_timeout_is_the_projects(probed):
    [check] = check_rows(probed.db, probed.ids["timeout"])
    assert 450 <= check["latency_ms"] <= 1500, check


def test_redirects_are_followed_hop_by_hop(probed):
    t = probed.target
    assert [t.requests(f"/five/{i}") for i in (5, 4, 3, 2, 1)] == [1] * 5
    # Six hops: five followed, the sixth refused.
    assert [t.requests(f"/six/{i}") for i in (6, 5, 4, 3, 2, 1)] == \
        [1, 1, 1, 1, 1, 1]


def test_checks_send_a_plain_get(probed):
    got = [(method, headers) for _at, method, path, headers in
           probed.target.request_log if path == "/fail"]
    assert len(got) == 1
    method, headers = got[0]
    assert method == "GET"
    headers = {k.lower(): v for k, v in headers.items()}
    assert "authorization" not in headers and "cookie" not in headers


def test_paused_projects_are_not_checked(probed):
    assert check_rows(probed.db, probed.paused) == []
    assert probed.target.requests("/paused") == 0
    assert project_row(probed.db, probed.paused)["last_checked_at"] is None


def test_check_now_through_the_api(probed):
    db, user, t = probed.db, probed.user, probed.target
    link = t.set("/on-demand", "ok")
    pid = insert_project(db, user, link, interval=3600, due_in=3600)
    time.sleep(1.5)                          # not due: nothing happens
    assert check_rows(db, pid) == []
    asked = time.monotonic()
    r = call("POST", f"/project/{pid}/check", token=user.token)
    assert r.status_code == 202, r.text
    eventually(lambda: check_rows(db, pid), 3,
               "no check within 3 s of POST /project/{id}/check")
    print(f"checked {time.monotonic() - asked:.2f} s after the request")
    [check] = check_rows(db, pid)
    assert check["ok"] is True
    # Back on an hourly schedule afterwards.
    row = project_row(db, pid)
    assert (row["next_check_at"] - check["checked_at"]).total_seconds() > 600
