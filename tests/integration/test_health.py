"""GET /healthcheck while everything is up (the database-down case is in
test_zz_resilience.py)."""

from helpers.http import call, expect_json


def test_healthcheck_reports_ok():
    r = call("GET", "/healthcheck")
    assert expect_json(r, 200) == {"status": "ok", "database": "ok"}


def test_healthcheck_ignores_query_string():
    r = call("GET", "/healthcheck?verbose=1")
    assert expect_json(r, 200)["status"] == "ok"
