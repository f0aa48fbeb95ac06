"""
The web client checks a form with the server's own rules before sending it
(issue 11: "the same validation as the server shown before submit"). The
rules are written twice, in C (api/input.c, common/validate.c) and in
JavaScript (web/src/rules.js); this holds them together: each value below
goes through rules.js (under node, tests/web/rules_cli.mjs) and through
the API, and the two must agree on accepting or refusing it.
"""

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from browser import browser_required, missing_prerequisite, node_binary
from helpers.http import call
from helpers.projects import create_project, min_interval
from helpers.users import make_user, register

CLI = Path(__file__).resolve().parents[1] / "web" / "rules_cli.mjs"

LINKS = [
    "http://a", "https://example.com/x?y#z", "HTTP://EXAMPLE.COM/",
    "http://example.com:8080/", "http://x:080/", "https://[2001:db8::1]/",
    "http://[::1]:80/p", "http://x/a@b", "http://x?y@z", "http://é.example/",
    "ftp://example.com/", "http://", "https://", "http:///path",
    "http://user:pw@x/", "http://u@x/", "http://x y/", "http://[::1",
    "http://[]/", "http://[::1]x/", "http://[::1]:", "http://[g::1]/",
    "http://x:0/", "http://x:65536/", "http://x:000001/", "http://x:/",
    "http://:80/", "http://%41/", 'http://a"b/', "http://a{b/",
    "javascript:alert(1)", "example.com", "http://x/\x7f",
    "http://x/" + "a" * 2039, "http://x/" + "a" * 2040,
]
NAMES = ["a", " a ", "   ", "\u00a0", "\t", "x" * 200, "x" * 201,
         "é" * 200, "é" * 201, "\U0001f600" * 200, "\U0001f600" * 201]
DESCRIPTIONS = ["", "d" * 2000, "d" * 2001, "\u00e9" * 2000, "\u00e9" * 2001]
STATUSES = ["200-399", "200,301-302", " 200 , 301 - 302 ", "200", "599",
            "100-599", "99", "600", "200-100", "200,", ",200", "",
            ",".join(["200"] * 16), ",".join(["200"] * 17), "2xx", "200-",
            "-200", "200--300", "0200", "200 300", "\u00a0200"]
KEYWORDS = ["k", "k" * 1024, "k" * 1025, "\u00e9" * 512, "\u00e9" * 513]
INTEGERS = {  # field: values, with the bounds the rule takes
    "interval_seconds": [0, 59, 60, 61, 86400, 86401],
    "failure_threshold": [0, 1, 10, 11],
    "recovery_threshold": [0, 1, 10, 11],
}
TIMEOUTS = [(60, 99), (60, 100), (60, 59999), (60, 60000), (300, 120000),
            (300, 120001)]


def client_verdicts(cases):
    """rules.js's verdict on each case: True when it accepts the value."""
    reason = missing_prerequisite()
    if reason and browser_required():
        pytest.fail(reason)
    if reason:
        pytest.skip(reason)
    r = subprocess.run([node_binary(), str(CLI)], input=json.dumps(cases),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return [message == "" for message in json.loads(r.stdout)]


def server_accepts(user, pid, body, field):
    """PUT the body; True on 200, False on a 400 that names field."""
    r = call("PUT", f"/project/{pid}", token=user.token, json=body)
    if r.status_code == 200:
        return True
    assert r.status_code == 400, (body, r.status_code, r.text)
    assert field in r.json()["error"], (body, r.text)
    return False


def compare(cases, server):
    client = client_verdicts([c for c, _ in cases])
    wrong = [(c, s, cl) for (c, s), cl in zip(
        [(c, server(*args)) for c, args in cases], client) if s != cl]
    assert not wrong, "rules.js and the API disagree:\n" + "\n".join(
        f"  {c['rule']}{tuple(a[:40] if isinstance(a, str) else a for a in c['args'])}: "
        f"server {'accepts' if s else 'refuses'}, client "
        f"{'accepts' if cl else 'refuses'}" for c, s, cl in wrong)


@pytest.fixture(scope="module")
def owner():
    user = make_user()
    return user, create_project(user, interval_seconds=300)["id"]


def test_links_names_descriptions_statuses_keywords(owner):
    user, pid = owner
    cases = []
    for v in LINKS:
        cases.append(({"rule": "link", "args": [v]}, ({"link": v}, "link")))
    for v in NAMES:
        cases.append(({"rule": "name", "args": [v]}, ({"name": v}, "name")))
    for v in DESCRIPTIONS:
        cases.append(({"rule": "description", "args": [v]},
                      ({"description": v}, "description")))
    for v in STATUSES:
        cases.append(({"rule": "expectedStatus", "args": [v]},
                      ({"expected_status": v}, "expected_status")))
    for v in KEYWORDS:
        cases.append(({"rule": "keyword", "args": [v]},
                      ({"keyword": v}, "keyword")))
    compare(cases, lambda body, field: server_accepts(user, pid, body, field))


def test_numbers(owner):
    user, pid = owner
    minimum = min_interval()
    cases = []
    for field, values in INTEGERS.items():
        lo, hi = (minimum, 86400) if field == "interval_seconds" else (1, 10)
        for v in values:
            body = {field: v}
            if field == "interval_seconds":
                body["timeout_ms"] = 100    # below any interval
            cases.append(({"rule": "intIn", "args": [field, str(v), lo, hi]},
                          (body, field)))
    for interval, timeout in TIMEOUTS:
        cases.append(({"rule": "timeout", "args": [str(timeout), interval]},
                      ({"interval_seconds": interval, "timeout_ms": timeout},
                       "timeout_ms")))
    compare(cases, lambda body, field: server_accepts(user, pid, body, field))


def test_emails_and_passwords():
    u = uuid.uuid4().hex[:12]
    emails = [f"{u}a@example.com", f"  {u}b@example.com ", f"{u}c@x",
              f"{u}d..e@example.com", f"{u}f@@example.com",
              f"{u}g@example..com", f"{u}h@.example.com",
              f"{u}i@example.com.", f"{u} j@example.com",
              f'{u}"k@example.com', f"{u}l@", "@example.com",
              "l" * 65 + "@example.com", "m" * 64 + f"@{u}.example.com",
              f"{u}n@exa(mple.com", f"{u}ö@example.com", "a@",
              f"{u}o@localhost", f"{u}p@127.0.0.1", f"{u}q%r@127.0.0.1",
              f"{u}s@127.1", f"{u}t@127.0.0.1.nip.io", f"{u}v@x.y1"]
    passwords = ["1234567", "12345678", "é" * 4, "é" * 3 + "1", "p" * 1024,
                 "p" * 1025]
    cases = [({"rule": "email", "args": [e]},
              (e, "correct horse battery", "email")) for e in emails]
    cases += [({"rule": "password", "args": [p]},
               (f"{uuid.uuid4().hex}@example.com", p, "password"))
              for p in passwords]

    def server(email, password, field):
        r = register(email, password)
        if r.status_code == 201:
            return True
        assert r.status_code == 400, (email, r.status_code, r.text)
        assert field in r.json()["error"], r.text
        return False

    compare(cases, server)
