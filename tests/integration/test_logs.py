"""
The API's request log (issue 6): one line per request with the request id
nginx generates, the method, the route pattern, the status and the time
taken, in LOG_FORMAT=text or json; never the query string, a token, a
password or a body.

The shared stack logs in text (TRACKLY_API_LOG); JSON is checked on a
private instance started with LOG_FORMAT=json.
"""

import json
import re
import time

import pytest

from helpers.fcgi import fcgi_request
from helpers.http import call, expect_json
from helpers.monitor import monitor_log_dir
from helpers.stack import (
    GOOD_SECRET, api_instance, api_log_since, binary_env, env, log_files,
    log_size, nonempty_lines,
)
from helpers.users import SECRETS_USED
from helpers.wait import wait_until

QUICK = 2
TEXT_REQUEST = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (info|warn) trackly-api\[(\d+)\]: "
    r"request id=(\S+) method=(\S+) route=(\S+) status=(\d+) ms=(\d+)$")


def request_lines(text, request_id):
    return [m for m in map(TEXT_REQUEST.match, nonempty_lines(text))
            if m and m.group(3) == request_id]


def wait_for_line(offset, request_id):
    found = []

    def logged():
        found[:] = request_lines(api_log_since(offset), request_id)
        return found
    wait_until(logged, timeout=5)
    return found


def test_request_id_comes_back_and_is_logged_once(new_user):
    offset = log_size("TRACKLY_API_LOG")
    r = call("GET", f"/project/{2**40}", token=new_user.token,
             params={"secret-looking": "q" * 20})
    assert r.status_code == 404
    request_id = r.headers.get("X-Request-Id", "")
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), r.headers
    lines = wait_for_line(offset, request_id)
    assert len(lines) == 1, lines
    level, pid, _, method, route, status, ms = lines[0].groups()
    assert (level, method, route, status) == \
        ("info", "GET", "/project/{id}", "404")
    assert int(pid) > 0 and int(ms) >= 0
    # The route pattern, never the path's id or the query string.
    text = lines[0].group(0)
    assert str(2**40) not in text and "q" * 20 not in text


def test_every_request_has_its_own_id(new_user):
    offset = log_size("TRACKLY_API_LOG")
    answers = [new_user.me() for _ in range(3)]
    for r in answers:
        expect_json(r, 200)
    ids = [r.headers["X-Request-Id"] for r in answers]
    assert len(set(ids)) == 3, ids
    for request_id in ids:
        lines = wait_for_line(offset, request_id)
        assert len(lines) == 1 and lines[0].group(5) == "/user/me" \
            and lines[0].group(6) == "200", lines


def test_unmatched_path_logs_a_dash_for_its_route():
    offset = log_size("TRACKLY_API_LOG")
    r = call("GET", "/project/dashboard/nothing-here")
    assert r.status_code == 404
    lines = wait_for_line(offset, r.headers["X-Request-Id"])
    assert [m.group(5) for m in lines] == ["-"], lines


# --- a private instance in JSON ----------------------------------------------

def try_fcgi(sock, path, **kw):
    try:
        return fcgi_request(sock, "GET", path, timeout=QUICK, **kw)
    except OSError:
        return None


def test_json_lines_parse_and_hostile_ids_are_dropped():
    env_vars = binary_env(DB_URL=env("TRACKLY_DB_URL"), JWT_SECRET=GOOD_SECRET,
                          LOG_FORMAT="json")
    with api_instance(env_vars) as (proc, sock):
        assert wait_until(sock.exists, timeout=10), proc.err_path.read_text()
        assert wait_until(lambda: try_fcgi(sock, "/healthcheck"), timeout=5)
        good = "0123456789abcdef0123456789abcdef"
        status, headers, _ = fcgi_request(
            sock, "GET", "/healthcheck", params={"REQUEST_ID": good})
        assert status == 200 and headers.get("x-request-id") == good
        # An id that could forge a line, a field or a header is not used.
        for bad in ('x"}\n{"level":"error', "a b=c", "x" * 65):
            status, headers, _ = fcgi_request(
                sock, "GET", "/user/verify", query="token=" + "t" * 40,
                params={"REQUEST_ID": bad})
            assert status != 200 and "x-request-id" not in headers
        time.sleep(0.3)
        lines = nonempty_lines(proc.err_path.read_text())

    records = [json.loads(line) for line in lines]   # every line is JSON
    for record in records:
        assert {"ts", "level", "program", "pid", "msg"} <= record.keys()
        assert record["program"] == "trackly-api"
    requests_ = [r for r in records if r["msg"] == "request"]
    mine = [r for r in requests_ if r["id"] == good]
    assert len(mine) == 1, requests_
    assert mine[0]["route"] == "/healthcheck" and mine[0]["status"] == 200 \
        and mine[0]["method"] == "GET" and isinstance(mine[0]["ms"], int)
    refused = [r for r in requests_ if r["route"] == "/user/verify"]
    assert [r["id"] for r in refused] == ["", "", ""], refused
    assert not any("t" * 40 in line for line in lines)


# --- secrets, over the whole run ---------------------------------------------

def run_logs():
    """Every log of the run: the API's, nginx's error and access logs, and
    the per-test monitor logs."""
    paths = set(log_files("TRACKLY_API_LOG")) | set(log_files("TRACKLY_NGINX_LOG"))
    paths |= {p for f in log_files("TRACKLY_NGINX_LOG")
              for p in f.parent.glob("nginx*.log")}
    paths |= {p for p in monitor_log_dir().rglob("*") if p.is_file()}
    return sorted(paths)


@pytest.mark.last
def test_no_password_or_token_of_the_run_is_in_any_log(new_user):
    """Runs after every other test (marker `last`), so it covers every
    password random_password() made and every token login_token() got in
    this run.  test_login.py checks the same for one user's wrong password
    and verification token, at the time."""
    time.sleep(0.5)                         # let the servers write their logs
    secrets = set(SECRETS_USED)
    assert new_user.password in secrets and new_user.token in secrets
    paths = run_logs()
    assert any(p.name.startswith("nginx") for p in paths), paths
    found = []
    for path in paths:
        text = path.read_bytes().decode("utf-8", "replace")
        if path.name.startswith("nginx"):
            # Some tests put a token in a query string on purpose (to see
            # it refused), and the test stack's nginx logs request lines
            # whole; the production site's access log drops queries
            # (test_nginx_tls.py).  Everything else must hold no secret.
            text = re.sub(r"\?[^\s\"]*", "?", text)
        found += [(path.name, s[:12] + "...") for s in secrets if s in text]
    assert not found, f"secrets found in logs: {found[:10]}"
