"""Issue 12, items 4 and 7: what alert mail can be made to do to the
address that receives it, and what its mute link can do afterwards.

- A flapping target (down, up, down, up ...) sends its first few mails,
  then one FLAPPING mail, then nothing until it has been stable for
  ALERT_FLAP_QUIET_MINUTES; then one mail with its state.  Its incidents
  are still recorded.
- Many projects of one recipient going down at once: at most
  ALERT_MAIL_PER_HOUR mails in the hour, the rest held back and sent later
  in one digest that lists every one of them.
- The mute link in a mail is a fresh 256-bit token per mail, the database
  keeps only its SHA-256, and unmuting the project makes every link mailed
  before stop working.

An hour cannot pass in a test, so where the rule is about an hour the test
moves the stored times back (status_changed_at, counted_at), which is what
the monitor reads; every wait has a deadline."""

import base64
import hashlib
import re

from helpers.db import incident_rows, outbox_rows, project_row
from helpers.http import call, expect_error, expect_json
from helpers.monitor import public_url
from helpers.projects import insert_project
from helpers.users import make_verified_user
from helpers.wait import eventually, wait_until

STEP = 15
TOKEN_RE = r"/mute\?token=([A-Za-z0-9_-]+)"


def alerts(smtp_server, user):
    """The mail user received but for the verification mail of
    registration (make_verified_user registers, which queues one)."""
    return smtp_server.messages(
        to=user.email,
        predicate=lambda m: not m.subject.startswith("Confirm your email"))


def alert_kinds(db, project_id):
    return [r["kind"] for r in outbox_rows(db, project_id=project_id)]


def toggle(db, target, path, pid, status):
    """Sets the target so the project becomes status, and waits for it."""
    target.set(path, "ok" if status == "UP" else "fail")
    eventually(lambda: project_row(db, pid)["status"] == status, STEP,
               f"never {status}")


# --- flapping ------------------------------------------------------------------

def test_flapping_project_sends_one_flapping_mail_then_its_final_state(
        db, monitor, smtp_server, target):
    user = make_verified_user()
    name = "flappy " + user.email[:8]
    link = target.set("/flap", "ok")
    pid = insert_project(db, user, link, name=name)
    monitor(users=[user], ALERT_FLAP_TRANSITIONS="3")
    eventually(lambda: project_row(db, pid)["status"] == "UP", STEP,
               "never UP")

    # Six outages in a row, each a DOWN and an UP: on the old code, twelve
    # mails.  Now: down, recovered, down, recovered, then the third DOWN
    # within the hour is one FLAPPING mail, and nothing after it.
    for _ in range(6):
        toggle(db, target, "/flap", pid, "DOWN")
        toggle(db, target, "/flap", pid, "UP")
    assert len(incident_rows(db, pid)) == 6, "incidents are still recorded"
    assert alert_kinds(db, pid) == ["down", "recovered", "down", "recovered",
                                    "flapping"]
    assert project_row(db, pid)["flapping_since"] is not None
    flapping = smtp_server.only(to=user.email, subject="FLAPPING:",
                                timeout=STEP)
    assert flapping.subject == f"FLAPPING: {name}"
    assert "3 times within an hour" in flapping.text, flapping.text
    assert re.search(re.escape(public_url()) + TOKEN_RE, flapping.text), \
        "a flapping mail carries a mute link"
    wait_until(lambda: len(alerts(smtp_server, user)) > 5, 3)
    assert len(alerts(smtp_server, user)) == 5, \
        smtp_server.describe()

    # It goes down once more and stays down; once it has been stable for
    # ALERT_FLAP_QUIET_MINUTES (the stored time of its last change moved
    # back by that), one mail says it stopped flapping and is DOWN.
    toggle(db, target, "/flap", pid, "DOWN")
    assert alert_kinds(db, pid)[-1] == "flapping"
    db.run("UPDATE projects SET status_changed_at = status_changed_at"
           " - interval '31 minutes' WHERE id = %s", (pid,))
    stable = smtp_server.only(to=user.email, subject="Stable, DOWN:",
                              timeout=STEP)
    assert stable.subject == f"Stable, DOWN: {name}"
    assert "status 503" in stable.text
    assert project_row(db, pid)["flapping_since"] is None
    assert alert_kinds(db, pid) == ["down", "recovered", "down", "recovered",
                                    "flapping", "flapping"]

    # From then on it is an ordinary project again: it recovers, one mail.
    toggle(db, target, "/flap", pid, "UP")
    ups = smtp_server.wait_for(to=user.email, subject="UP again:", count=3,
                               timeout=STEP)
    assert len(ups) == 3, smtp_server.describe()
    assert len(alerts(smtp_server, user)) == 7


# --- the per-recipient cap and its digest -----------------------------------------

def test_alert_mail_per_recipient_is_capped_and_the_rest_comes_in_a_digest(
        db, monitor, smtp_server, target):
    user = make_verified_user()
    pids = [insert_project(db, user, target.set(f"/cap{i}", "fail"),
                           name=f"capped {i}")
            for i in range(6)]
    monitor(users=[user], ALERT_MAIL_PER_HOUR="3")

    # Six projects go down: three mails, three held back, one digest due
    # when the first of the three places frees, an hour after it was taken.
    eventually(lambda: all(project_row(db, p)["status"] == "DOWN"
                           for p in pids), STEP, "not all DOWN")
    eventually(lambda: len([r for r in outbox_rows(db, user_id=user.id)
                            if r["held_at"] or r["sent_at"]]) >= 6, STEP,
               lambda: f"not all decided: {outbox_rows(db, user_id=user.id)}")
    downs = smtp_server.wait_for(to=user.email, subject="DOWN:", count=3,
                                 timeout=STEP)
    wait_until(lambda: len(alerts(smtp_server, user)) > 3, 3)
    assert len(alerts(smtp_server, user)) == 3, \
        smtp_server.describe()
    assert len(downs) == 3
    rows = [r for r in outbox_rows(db, user_id=user.id) if r["kind"] == "down"]
    held = [r for r in rows if r["held_at"]]
    counted = [r for r in rows if r["counted_at"]]
    assert len(held) == 3 and len(counted) == 3, rows
    [digest] = outbox_rows(db, user_id=user.id, kind="digest")
    assert digest["sent_at"] is None
    first = min(r["counted_at"] for r in counted)
    assert abs((digest["next_attempt_at"] - first).total_seconds()
               - 3600) < 5, (digest["next_attempt_at"], first)

    # The hour passes (the places' times moved back, the digest due): one
    # digest mail lists the three held back, and they count as sent.
    db.run("UPDATE mail_outbox SET counted_at = counted_at"
           " - interval '1 hour' WHERE user_id = %s AND counted_at IS NOT NULL",
           (user.id,))
    db.run("UPDATE mail_outbox SET next_attempt_at = now() WHERE id = %s",
           (digest["id"],))
    mail = smtp_server.only(to=user.email, subject="Trackly: 3 alerts",
                            timeout=STEP)
    assert mail.subject == "Trackly: 3 alerts held back"
    held_names = {r["payload"]["project_name"] for r in held}
    mailed_names = {m.subject[len("DOWN: "):] for m in downs}
    assert held_names | mailed_names == {f"capped {i}" for i in range(6)}
    for name in held_names:
        assert f"DOWN: {name} (status 503)" in mail.text, mail.text
    for name in mailed_names:
        assert f"DOWN: {name}" not in mail.text
    eventually(lambda: all(r["sent_at"] for r in
                           outbox_rows(db, user_id=user.id)), 5,
               "held alerts not marked sent with their digest")
    assert len(alerts(smtp_server, user)) == 4


def test_the_cap_holds_across_two_monitors(db, monitor, smtp_server, target):
    """Two monitors share the database: the recipient's lock makes them
    count alike, so the cap is not doubled."""
    user = make_verified_user()
    pids = [insert_project(db, user, target.set(f"/two{i}", "fail"),
                           name=f"two {i}")
            for i in range(8)]
    monitor(users=[user], ALERT_MAIL_PER_HOUR="2")
    monitor(users=[user], ALERT_MAIL_PER_HOUR="2")
    eventually(lambda: all(project_row(db, p)["status"] == "DOWN"
                           for p in pids), STEP, "not all DOWN")
    eventually(lambda: len([r for r in outbox_rows(db, user_id=user.id)
                            if r["kind"] == "down" and
                            (r["held_at"] or r["sent_at"])]) == 8, STEP,
               lambda: f"not all decided: {outbox_rows(db, user_id=user.id)}")
    wait_until(lambda: len(alerts(smtp_server, user)) > 2, 3)
    assert len(alerts(smtp_server, user)) == 2, \
        smtp_server.describe()
    assert len(outbox_rows(db, user_id=user.id, kind="digest")) == 1


def test_a_digest_whose_alerts_went_with_their_project_is_not_sent(
        db, monitor, smtp_server, target):
    user = make_verified_user()
    first = insert_project(db, user, target.set("/gone0", "fail"),
                           name="stays")
    monitor(users=[user], ALERT_MAIL_PER_HOUR="1")
    smtp_server.wait_for(to=user.email, subject="DOWN: stays", timeout=STEP)
    second = insert_project(db, user, target.set("/gone1", "fail"),
                            name="goes")
    [digest] = eventually(
        lambda: outbox_rows(db, user_id=user.id, kind="digest"), STEP,
        lambda: f"no digest queued: {outbox_rows(db, user_id=user.id)}")
    assert [r["held_at"] is not None for r in
            outbox_rows(db, project_id=second)] == [True]
    call("DELETE", f"/project/{second}", token=user.token)
    db.run("UPDATE mail_outbox SET counted_at = counted_at"
           " - interval '1 hour' WHERE user_id = %s"
           " AND counted_at IS NOT NULL", (user.id,))
    db.run("UPDATE mail_outbox SET next_attempt_at = now() WHERE id = %s",
           (digest["id"],))
    [row] = eventually(
        lambda: [r for r in outbox_rows(db, user_id=user.id, kind="digest")
                 if r["last_error"]], STEP, "the empty digest was not settled")
    assert "nothing to send" in row["last_error"]
    assert row["sent_at"] is None and row["counted_at"] is None
    assert [m.subject for m in alerts(smtp_server, user)] == ["DOWN: stays"]
    assert project_row(db, first)["status"] == "DOWN"


# --- the mute link ---------------------------------------------------------------

def test_mute_link_is_a_fresh_256_bit_token_stored_as_a_digest_and_rotated(
        db, monitor, smtp_server, target):
    user = make_verified_user()
    pid = insert_project(db, user, target.set("/mute7", "fail"),
                         name="mute seven")
    monitor(users=[user])
    mail = smtp_server.only(to=user.email, subject="DOWN: mute seven",
                            timeout=STEP)
    token = re.search(re.escape(public_url()) + TOKEN_RE, mail.text).group(1)
    # 256 bits: 43 base64url characters, 32 bytes.
    assert len(token) == 43
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    assert token in str(mail.message["List-Unsubscribe"])

    # The database holds its SHA-256 only: no clear copy anywhere.
    digest = hashlib.sha256(token.encode()).digest()
    assert db.value("SELECT count(*) FROM mute_tokens WHERE token_hash = %s"
                    " AND project_id = %s", (digest, pid)) == 1
    assert db.value("SELECT count(*) FROM information_schema.columns"
                    " WHERE table_name = 'projects'"
                    "   AND column_name = 'mute_token'") == 0
    dump = db.value("SELECT string_agg(t::text, ' ') FROM ("
                    " SELECT payload::text AS t FROM mail_outbox"
                    " UNION ALL SELECT p::text FROM projects p"
                    " UNION ALL SELECT m::text FROM mute_tokens m) x")
    assert token not in dump

    # It mutes; the owner unmutes; the same link no longer mutes.
    path = f"/project/mute?token={token}"
    assert expect_json(call("POST", path), 200)["alerts_muted"] is True
    r = call("PUT", f"/project/{pid}", token=user.token,
             json={"alerts_muted": False})
    assert expect_json(r, 200)["alerts_muted"] is False
    expect_error(call("POST", path), 400)
    expect_error(call("GET", path), 400)
    assert project_row(db, pid)["alerts_muted"] is False
    assert db.value("SELECT count(*) FROM mute_tokens WHERE project_id = %s",
                    (pid,)) == 0, "the old digests stay after unmuting"

    # The next mail brings a new link, which works.
    target.set("/mute7", "ok")
    up = smtp_server.only(to=user.email, subject="UP again: mute seven",
                          timeout=STEP)
    fresh = re.search(re.escape(public_url()) + TOKEN_RE, up.text).group(1)
    assert fresh != token
    assert expect_json(call("POST", f"/project/mute?token={fresh}"),
                       200)["alerts_muted"] is True
