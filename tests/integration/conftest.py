"""
pytest's fixtures and hooks for Trackly's black-box integration suite.

The suite talks to real servers that `./dev test` starts (Postgres, nginx,
trackly-api) and finds them through the TRACKLY_* environment variables
described in README.md.  Nothing here knows how the C code is built; the
tests only see HTTP, SQL, signals and exit codes.

The plain helpers live in the helpers package, one module per concern
(helpers/http.py, db.py, jwt.py, monitor.py, ...); test modules import
them from there (`from helpers.http import call`).  This file holds only
what pytest itself must find: the fixtures (`new_user`, `other_user`,
`db`, `smtp_server`, `make_target`, `target`, `monitor`, `stack_healthy`)
and the hooks.  The browser tests' fixtures (`browser`, `page`,
`open_page`) come from browser.py, loaded below as a plugin.
"""

import os
import re

import pytest

from helpers.db import Database, add_check_days, db_connect
from helpers.http import call, expect_json
from helpers.monitor import MonitorFactory
from helpers.procs import children_of, is_dead
from helpers.smtp import SmtpSink
from helpers.stack import api_log_since, api_master, log_size, nginx_log_since
from helpers.targets import TargetServer
from helpers.users import make_user


# The browser harness (browser.py): the browser, page and open_page
# fixtures and the markers of browser tests. Page tests import its helpers
# (`from browser import shoot, assert_clean, assert_accessible`).
pytest_plugins = ["browser"]


def pytest_configure(config):
    if not os.environ.get("TRACKLY_URL"):
        pytest.exit("TRACKLY_URL is not set. This suite needs running servers: "
                    "run it with `./dev test` (see tests/integration/README.md).",
                    returncode=4)


@pytest.fixture
def new_user():
    return make_user()


@pytest.fixture
def other_user():
    return make_user()


@pytest.fixture
def db():
    """The test database as superuser, autocommit.  Function-scoped so a
    test that stops Postgres does not break the next one's connection.
    The checks table has the partitions of the days the tests write
    (add_check_days)."""
    conn = db_connect()
    try:
        database = Database(conn)
        add_check_days(database)
        yield database
    finally:
        conn.close()


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
