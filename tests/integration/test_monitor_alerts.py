"""trackly-monitor's state machine and the mail it sends (DESIGN §4):
DOWN after failure_threshold failures in a row and UP again after
recovery_threshold successes, one incident and exactly one mail per
transition, nothing for a blip; what the messages look like; no alert mail
to unverified addresses (but their verification mail goes out); and mail
that survives the mail server being away.

Projects are inserted in SQL with 1 s intervals and 500 ms timeouts, so a
transition takes a few seconds; every wait has a deadline."""

import datetime as dt
import re
import time

from helpers.db import check_rows, incident_rows, outbox_rows, project_row
from helpers.http import call, expect_json
from helpers.monitor import TEST_MAIL_FROM, public_url
from helpers.projects import insert_project
from helpers.users import make_user, make_verified_user
from helpers.wait import eventually, wait_until

# Seconds for a transition that needs a few 1 s checks, the monitor's start
# and a mailer pass included.
STEP = 15


def snapshot(db, project_id):
    """The project's status with the run of failed and of good checks at
    the end of its history, read in one statement (one snapshot): the
    monitor writes a check and the state it implies in one transaction."""
    return db.one(
        "SELECT p.status,"
        " (SELECT count(*) FROM checks c WHERE c.project_id = p.id"
        "    AND NOT c.ok AND c.scheduled_at > coalesce((SELECT"
        "    max(scheduled_at) FROM checks WHERE project_id = p.id AND ok),"
        "    '-infinity')),"
        " (SELECT count(*) FROM checks c WHERE c.project_id = p.id"
        "    AND c.ok AND c.scheduled_at > coalesce((SELECT"
        "    max(scheduled_at) FROM checks WHERE project_id = p.id"
        "    AND NOT ok), '-infinity')),"
        " (SELECT count(*) FROM checks c WHERE c.project_id = p.id)"
        " FROM projects p WHERE p.id = %s", (project_id,))


def watch(db, project_id, invariant, until, timeout, what):
    """Polls the project's snapshot (status, failed tail, good tail, checks)
    every 50 ms, asserting invariant on each, until until(snapshot) holds;
    returns that snapshot."""
    seen = []

    def step():
        snap = snapshot(db, project_id)
        if not seen or seen[-1] != snap:
            seen.append(snap)
        problem = invariant(*snap)
        assert not problem, f"{problem}; snapshots so far: {seen}"
        return snap if until(*snap) else None

    return eventually(step, timeout, lambda: f"{what}; snapshots: {seen}",
                      interval=0.05)


def alert_kinds(db, project_id):
    return [r["kind"] for r in outbox_rows(db, project_id=project_id)
            if r["kind"] != "verify"]


# What watch() is given: plain functions of a snapshot (status, failed tail,
# good tail, checks).  An invariant returns a problem or nothing; a goal
# returns whether to stop watching.

def anything_goes(status, fails, oks, n):
    return None


def is_up(status, fails, oks, n):
    return status == "UP"


def is_down(status, fails, oks, n):
    return status == "DOWN"


def stays(expected):
    def invariant(status, fails, oks, n):
        return status != expected and f"became {status}"
    return invariant


def up_only_after_a_check(status, fails, oks, n):
    if n == 0 and status != "PENDING":
        return f"{status} before any check"
    if n > 0 and oks > 0 and status != "UP":
        return f"{status} after a good check"
    return None


def watch_transition(db, pid, before, after, threshold, what):
    """Watches the project go from before to after exactly when the run of
    failed checks (to DOWN) or good checks (to UP) reaches threshold."""
    def invariant(status, fails, oks, n):
        run = fails if after == "DOWN" else oks
        want = before if run < threshold else after
        return status != want and f"{status} after a run of {run} checks"

    def arrived(status, fails, oks, n):
        return status == after

    watch(db, pid, invariant, arrived, STEP, what)


# --- the state machine -------------------------------------------------------

def test_down_after_threshold_and_up_after_recovery_one_mail_each(
        db, monitor, smtp_server, target):
    user = make_verified_user()
    name = "state machine " + user.email[:10]
    link = target.set("/site", "ok")
    pid = insert_project(db, user, link, name=name, failure_threshold=3,
                         recovery_threshold=2)
    monitor(users=[user])

    # PENDING -> UP after one good check, without mail.
    watch(db, pid, up_only_after_a_check, is_up, STEP,
          "the project never became UP")
    assert alert_kinds(db, pid) == [], "mail queued for PENDING -> UP"
    assert incident_rows(db, pid) == []

    # UP -> DOWN exactly at the third failure in a row.
    target.set("/site", "fail")
    watch_transition(db, pid, "UP", "DOWN", 3,
                     "the project never became DOWN")
    [incident] = incident_rows(db, pid)
    assert incident["resolved_at"] is None
    assert "503" in incident["reason"], incident
    assert alert_kinds(db, pid) == ["down"]
    [down] = outbox_rows(db, project_id=pid, kind="down")
    assert down["recipient"].lower() == user.email.lower()
    assert down["user_id"] == user.id
    row = project_row(db, pid)
    assert row["last_error"] == "status 503" and row["last_status_code"] == 503
    assert row["consecutive_failures"] >= 3 and row["consecutive_successes"] == 0

    mails = smtp_server.wait_for(to=user.email, subject="DOWN:", timeout=STEP)
    assert len(mails) == 1, smtp_server.describe()
    assert mails[0].subject == f"DOWN: {name}"
    assert "status 503" in mails[0].text, mails[0].text

    # Staying down: more failures, no more incidents or mail.
    def six_failures(status, fails, oks, n):
        return fails >= 6

    watch(db, pid, stays("DOWN"), six_failures, STEP,
          "no further failed checks")
    assert alert_kinds(db, pid) == ["down"]
    assert len(incident_rows(db, pid)) == 1

    # DOWN -> UP at the second good check in a row.
    target.set("/site", "ok")
    watch_transition(db, pid, "DOWN", "UP", 2,
                     "the project never recovered")
    [incident] = incident_rows(db, pid)
    assert incident["resolved_at"] is not None
    assert incident["resolved_at"] > incident["started_at"]
    assert alert_kinds(db, pid) == ["down", "recovered"]
    [recovered] = outbox_rows(db, project_id=pid, kind="recovered")
    down_seconds = recovered["payload"].get("down_seconds")
    assert isinstance(down_seconds, int), recovered["payload"]
    lasted = (incident["resolved_at"] - incident["started_at"]).total_seconds()
    assert abs(down_seconds - lasted) <= 2, (down_seconds, lasted)
    assert down_seconds >= 3                 # 3 more failures, 2 good checks

    ups = smtp_server.wait_for(to=user.email, subject="UP again:",
                               timeout=STEP)
    assert len(ups) == 1, smtp_server.describe()
    assert ups[0].subject == f"UP again: {name}"
    assert re.search(r"\d+\s*(seconds?|secs?|s|minutes?|min)\b",
                     ups[0].text), f"no downtime stated: {ups[0].text!r}"
    assert len(smtp_server.messages(to=user.email, subject="DOWN:")) == 1


def test_blip_below_the_threshold_sends_nothing(db, monitor, smtp_server,
                                                target):
    user = make_verified_user()
    link = target.set("/blip", "ok")
    pid = insert_project(db, user, link, failure_threshold=3)
    monitor(users=[user])
    watch(db, pid, anything_goes, is_up, STEP, "never UP")

    target.fail_next("/blip", 2)             # two failures, then good again
    def blip_then_good(status, fails, oks, n):
        return oks >= 1 and sum(not c["ok"] for c in check_rows(db, pid)) == 2

    watch(db, pid, stays("UP"), blip_then_good, STEP,
          "the blip and a good check after it never showed")
    assert [c["error"] for c in check_rows(db, pid) if not c["ok"]] == \
        ["status 503", "status 503"]
    assert project_row(db, pid)["status"] == "UP"
    assert incident_rows(db, pid) == []
    assert alert_kinds(db, pid) == []
    assert smtp_server.messages(to=user.email, subject="DOWN:") == []


# --- what the messages look like ---------------------------------------------

EVIL_NAME = '<script>"\r\nBcc: x@y'
UNICODE_NAME = "Café ☕ Ünïcødé 🚀 €"


def test_alert_mail_is_well_formed_and_escaped(db, monitor, smtp_server,
                                               target):
    user = make_verified_user()
    link = target.set("/down", "fail")
    evil = insert_project(db, user, link, name=EVIL_NAME)
    uni = insert_project(db, user, link + "?u", name=UNICODE_NAME)
    monitor(users=[user])

    mails = smtp_server.wait_for(to=user.email, subject="DOWN:", count=2,
                                 timeout=STEP)
    assert len(mails) == 2, smtp_server.describe()
    by_project = {}
    for m in mails:
        for pid in (evil, uni):
            if f"{public_url()}/projects/{pid}" in m.text:
                by_project[pid] = m
    assert set(by_project) == {evil, uni}, \
        "each mail should link to its project: " + \
        " | ".join(m.text[:300] for m in mails)

    now = dt.datetime.now(dt.timezone.utc)
    for pid, m in by_project.items():
        msg = m.message
        # Envelope: only the owner, from EMAIL_FROM.
        assert [r.lower() for r in m.rcpt_tos] == [user.email.lower()]
        assert m.mail_from == "trackly@example.test"
        # RFC 5322 headers.
        for header in ("From", "To", "Date", "Message-ID", "Subject"):
            assert msg[header], f"no {header} header"
        assert msg["From"].addresses[0].addr_spec == "trackly@example.test"
        assert msg["From"].addresses[0].display_name == \
            TEST_MAIL_FROM.split(" <")[0]
        assert msg["To"].addresses[0].addr_spec.lower() == user.email.lower()
        assert abs((msg["Date"].datetime - now).total_seconds()) < 300
        assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", str(msg["Message-ID"]))
        assert msg["MIME-Version"] == "1.0"
        # Raw form: CRLF only, ASCII headers (RFC 2047 for the rest),
        # no line over 998 bytes.
        assert not re.search(rb"(?<!\r)\n", m.raw), "bare LF in the message"
        assert all(b < 128 for b in m.raw_headers), "8-bit header bytes"
        assert max(len(line) for line in m.raw.split(b"\r\n")) <= 998
        # multipart/alternative with a plain and an HTML part.
        assert msg.get_content_type() == "multipart/alternative"
        types = [p.get_content_type() for p in msg.iter_parts()]
        assert "text/plain" in types and "text/html" in types, types
        assert m.text.strip() and m.html.strip()
        # Links: the project's page in the web client, and its mute page.
        project_link = f"{public_url()}/projects/{pid}"
        assert project_link in m.text and project_link in m.html
        # (a fresh token per mail, its SHA-256 stored: mute_tokens)
        found = re.search(re.escape(public_url()) +
                          r"/mute\?token=([A-Za-z0-9_-]{43})\b", m.text)
        assert found, m.text
        assert found.group(0) in m.html, m.html
        assert db.value("SELECT project_id FROM mute_tokens"
                        " WHERE token_hash = sha256(convert_to(%s, 'UTF8'))",
                        (found.group(1),)) == pid
        assert msg["List-Unsubscribe"], "no List-Unsubscribe header"
        assert "<http" in str(msg["List-Unsubscribe"])
    assert by_project[evil].message["Message-ID"] != \
        by_project[uni].message["Message-ID"]

    # The hostile name: escaped in HTML, kept out of the headers' structure.
    m = by_project[evil]
    assert "<script>" not in m.html
    assert "&lt;script&gt;" in m.html
    assert m.message["Bcc"] is None
    assert not re.search(rb"^bcc:", m.raw_headers, re.I | re.M), \
        m.raw_headers.decode()
    assert "\r" not in m.subject and "\n" not in m.subject
    assert m.subject.startswith("DOWN: <script>")
    assert "x@y" not in [r.lower() for r in m.rcpt_tos]

    # The Unicode name comes back whole.
    assert by_project[uni].subject == f"DOWN: {UNICODE_NAME}"
    assert UNICODE_NAME in by_project[uni].text


# --- unverified addresses ----------------------------------------------------

VERIFY_SUBJECT = "Confirm your email address for Trackly"


def test_unverified_gets_no_alerts_until_the_mailed_link_is_followed(
        db, monitor, smtp_server, target):
    user = make_user()                       # not verified
    link = target.set("/unverified", "fail")
    pid = insert_project(db, user, link)
    monitor(users=[user])

    eventually(lambda: project_row(db, pid)["status"] == "DOWN", STEP,
               "never DOWN")
    assert alert_kinds(db, pid) == [], "alert queued for an unverified user"

    verify = smtp_server.only(to=user.email, subject=VERIFY_SUBJECT,
                              timeout=STEP)
    assert verify.subject == VERIFY_SUBJECT
    assert verify.message["To"].addresses[0].addr_spec.lower() == \
        user.email.lower()
    # The link leads to the web client's verify page, which POSTs the token.
    found = re.search(re.escape(public_url()) +
                      r"/verify\?token=([A-Za-z0-9_-]+)", verify.text)
    assert found, f"no verification link in {verify.text!r}"
    assert found.group(0) in verify.html.replace("&amp;", "&")
    [row] = outbox_rows(db, user_id=user.id, kind="verify")
    assert row["sent_at"] is not None

    assert smtp_server.messages(to=user.email, subject="DOWN:") == []

    # Following the link verifies the address ...
    expect_json(call("POST", "/user/verify",
                     json={"token": found.group(1)}), 200)
    assert expect_json(user.me(), 200)["email_verified"] is True

    # ... and the next transitions bring alert mail.
    target.set("/unverified", "ok")
    eventually(lambda: project_row(db, pid)["status"] == "UP", STEP,
               "never UP")
    target.set("/unverified", "fail")
    eventually(lambda: project_row(db, pid)["status"] == "DOWN", STEP,
               "never DOWN again")
    assert len(outbox_rows(db, project_id=pid, kind="down")) == 1
    downs = smtp_server.wait_for(to=user.email, subject="DOWN:", timeout=STEP)
    assert len(downs) == 1, smtp_server.describe()


# --- the mail server away ----------------------------------------------------

def test_mail_waits_for_the_server_and_is_sent_once(db, monitor, smtp_server,
                                                    target):
    user = make_verified_user()
    smtp_server.stop()                       # the port now refuses
    link = target.set("/smtp-away", "fail")
    pid = insert_project(db, user, link)
    monitor(users=[user])

    # A claim counts the attempt; the failure, with its reason, is written
    # when the attempt ends: wait for both.
    def failed_attempt():
        rows = outbox_rows(db, project_id=pid, kind="down")
        return rows if rows and rows[0]["attempts"] >= 1 and \
            rows[0]["last_error"] else None

    [row] = eventually(failed_attempt, STEP,
                       lambda: f"no failed delivery recorded with its reason:"
                               f" {outbox_rows(db, project_id=pid)}")
    assert row["sent_at"] is None
    # Not retried at once: while the server is away the mailer only probes
    # it (1 s, 2 s, 4 s ... 30 s apart) and does not charge the row again.
    time.sleep(3)
    [row] = outbox_rows(db, project_id=pid, kind="down")
    assert row["attempts"] == 1, f"retried against a dead server: {row}"

    smtp_server.start()                      # back, on the same port
    # Nothing pulled forward by hand: the mailer finds the server again.
    mails = smtp_server.wait_for(to=user.email, subject="DOWN:",
                                 timeout=STEP + 30)
    assert len(mails) == 1, smtp_server.describe()
    eventually(lambda: outbox_rows(db, project_id=pid, kind="down")[0]
               ["sent_at"], 5, "sent_at not set after delivery")

    # No second copy: give the mailer a few more passes.
    wait_until(lambda: len(smtp_server.messages(to=user.email,
                                                subject="DOWN:")) > 1,
               timeout=5)
    assert len(smtp_server.messages(to=user.email, subject="DOWN:")) == 1, \
        smtp_server.describe()
    [row] = outbox_rows(db, project_id=pid, kind="down")
    assert row["sent_at"] is not None and row["attempts"] >= 1


# --- the mute link -------------------------------------------------------------

def test_mute_link_in_the_mail_stops_alerts_for_that_project(
        db, monitor, smtp_server, target):
    user = make_verified_user()
    muted_link = target.set("/muted", "fail")
    pid = insert_project(db, user, muted_link, name="to be muted")
    other = insert_project(db, user, target.set("/not-muted", "fail"),
                           name="still alerting")
    monitor(users=[user])

    mail = smtp_server.only(to=user.email, subject="DOWN: to be muted",
                            timeout=STEP)
    # The link in the text opens a page under PUBLIC_URL (opening it alone
    # must change nothing: mail scanners open links too) ...
    found = re.search(re.escape(public_url()) + r"(/mute\?token=\S+)",
                      mail.text)
    assert found, f"no mute link under PUBLIC_URL in {mail.text!r}"
    page = call("GET", found.group(1))
    assert page.status_code == 200, page.status_code
    assert page.headers["Content-Type"].startswith("text/html")
    assert project_row(db, pid)["alerts_muted"] is False, \
        "opening the mute link muted alerts without asking"
    # ... and List-Unsubscribe is the RFC 8058 one-click URL a mail client
    # POSTs to (announced with List-Unsubscribe-Post only for https, as
    # RFC 8058 wants; the test stack is plain http).
    unsubscribe = re.fullmatch(r"<([^<>]+)>",
                               str(mail.message["List-Unsubscribe"]).strip())
    assert unsubscribe, mail.message["List-Unsubscribe"]
    assert unsubscribe.group(1) == \
        f"{public_url()}/project/mute?{found.group(1).split('?', 1)[1]}", \
        unsubscribe
    if public_url().startswith("https://"):
        assert str(mail.message["List-Unsubscribe-Post"]) == \
            "List-Unsubscribe=One-Click"
    r = call("POST", unsubscribe.group(1)[len(public_url()):],
             data="List-Unsubscribe=One-Click",
             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, (r.status_code, r.text[:200])
    assert project_row(db, pid)["alerts_muted"] is True
    assert project_row(db, other)["alerts_muted"] is False

    # Both recover and fail again: only the project not muted says so.
    for path in ("/muted", "/not-muted"):
        target.set(path, "ok")
    eventually(lambda: project_row(db, pid)["status"] == "UP" and
               project_row(db, other)["status"] == "UP", STEP, "never UP")
    for path in ("/muted", "/not-muted"):
        target.set(path, "fail")
    eventually(lambda: project_row(db, pid)["status"] == "DOWN" and
               project_row(db, other)["status"] == "DOWN", STEP,
               "never DOWN again")
    assert alert_kinds(db, pid) == ["down"]
    assert alert_kinds(db, other) == ["down", "recovered", "down"]
    smtp_server.wait_for(to=user.email, subject="DOWN: still alerting",
                         count=2, timeout=STEP)
    assert len(smtp_server.messages(to=user.email,
                                    subject="DOWN: to be muted")) == 1, \
        smtp_server.describe()
    # Muting stops mail, not monitoring.
    assert len(check_rows(db, pid)) >= 3
    assert len(incident_rows(db, pid)) == 2
