"""The mute link of alert mail: /project/mute?token=... and alerts_muted.

Opening the link (GET) must change nothing, because mail scanners open the
links in mail; POST (the page's button, or RFC 8058 one-click
List-Unsubscribe) mutes.  PUT /project/{id} can unmute, and unmuting makes
every link mailed before stop working (issue 12, item 7).  The database
keeps only the SHA-256 of each link's token (mute_tokens); the mailer makes
a fresh one per mail (the mail side is in test_monitor_alert_bounds.py).
"""

import base64
import hashlib
import secrets

from helpers.http import call, expect_error, expect_json, client
from helpers.projects import create_project, get_project
from helpers.stack import url


def mute_token(db, project_id):
    """A mute link's token for the project, made as the mailer makes one:
    32 random bytes in base64url, only its SHA-256 stored, with the
    project's mute generation."""
    token = base64.urlsafe_b64encode(secrets.token_bytes(32)) \
        .rstrip(b"=").decode()
    db.run("INSERT INTO mute_tokens (token_hash, project_id, generation)"
           " SELECT %s, id, mute_generation FROM projects WHERE id = %s",
           (hashlib.sha256(token.encode()).digest(), project_id))
    return token


def muted(db, project_id):
    return db.value("SELECT alerts_muted FROM projects WHERE id = %s",
                    (project_id,))


def test_new_projects_are_not_muted_and_no_clear_token_is_stored(new_user,
                                                                  db):
    p = create_project(new_user)
    assert p["alerts_muted"] is False
    assert db.value("SELECT count(*) FROM information_schema.columns"
                    " WHERE table_name = 'projects'"
                    "   AND column_name LIKE 'mute_token%%'") == 0
    assert db.value("SELECT count(*) FROM mute_tokens WHERE project_id = %s",
                    (p["id"],)) == 0
    mute_token(db, p["id"])
    assert db.value("SELECT octet_length(token_hash) FROM mute_tokens"
                    " WHERE project_id = %s", (p["id"],)) == 32


def test_get_describes_and_changes_nothing(new_user, db):
    p = create_project(new_user, name="Blog")
    token = mute_token(db, p["id"])
    body = expect_json(call("GET", f"/project/mute?token={token}"), 200)
    assert body["project"] == "Blog"
    assert body["alerts_muted"] is False
    assert muted(db, p["id"]) is False


def test_post_mutes_without_login_and_put_unmutes(new_user, db):
    p = create_project(new_user, name="Shop")
    token = mute_token(db, p["id"])
    body = expect_json(call("POST", f"/project/mute?token={token}",
                            data="List-Unsubscribe=One-Click",
                            headers={"Content-Type":
                                     "application/x-www-form-urlencoded"}),
                       200)
    assert body["alerts_muted"] is True and body["project"] == "Shop"
    assert muted(db, p["id"]) is True
    assert get_project(new_user, p["id"])["alerts_muted"] is True
    # Muting twice is harmless.
    expect_json(call("POST", f"/project/mute?token={token}"), 200)

    r = call("PUT", f"/project/{p['id']}", token=new_user.token,
             json={"alerts_muted": False})
    assert expect_json(r, 200)["alerts_muted"] is False
    assert muted(db, p["id"]) is False


def test_unmuting_makes_the_links_mailed_before_stop_working(new_user, db):
    """The attack of issue 12 item 7: someone who saw one alert mail (a
    forwarded mail, a shared mailbox, a mail scanner's log) kept its link
    and muted the project again every time its owner turned alerts back
    on."""
    p = create_project(new_user, name="Rotated")
    old = mute_token(db, p["id"])
    expect_json(call("POST", f"/project/mute?token={old}"), 200)
    expect_json(call("PUT", f"/project/{p['id']}", token=new_user.token,
                     json={"alerts_muted": False}), 200)
    expect_error(call("POST", f"/project/mute?token={old}"), 400)
    expect_error(call("GET", f"/project/mute?token={old}"), 400)
    assert muted(db, p["id"]) is False
    # Other changes (and PUTs that leave it unmuted) keep today's links.
    new = mute_token(db, p["id"])
    expect_json(call("PUT", f"/project/{p['id']}", token=new_user.token,
                     json={"name": "Rotated 2", "alerts_muted": False}), 200)
    assert expect_json(call("GET", f"/project/mute?token={new}"),
                       200)["project"] == "Rotated 2"
    expect_json(call("POST", f"/project/mute?token={new}"), 200)
    assert muted(db, p["id"]) is True


def test_mute_links_expire_after_30_days(new_user, db):
    p = create_project(new_user)
    token = mute_token(db, p["id"])
    db.run("UPDATE mute_tokens SET created_at = now() - interval '31 days'"
           " WHERE project_id = %s", (p["id"],))
    expect_error(call("POST", f"/project/mute?token={token}"), 400)
    assert muted(db, p["id"]) is False


def test_bad_tokens_are_refused(new_user, db):
    p = create_project(new_user)
    for query in ["", "?token=", "?token=nope", "?tok=x",
                  "?token=" + "0" * 64, "?token=%00"]:
        expect_error(call("POST", "/project/mute" + query), 400)
        expect_error(call("GET", "/project/mute" + query), 400)
    assert muted(db, p["id"]) is False


def test_alerts_muted_must_be_a_boolean(new_user):
    p = create_project(new_user)
    r = call("PUT", f"/project/{p['id']}", token=new_user.token,
             json={"alerts_muted": "yes"})
    assert "alerts_muted" in expect_error(r, 400)


def test_the_mute_links_open_the_web_client():
    """The mute link of alert mail (/mute?token=, and /mute.html?token= in
    mail sent before the web client) is a page of the web client: nginx
    answers index.html and the client's router shows the mute page (its
    browser test is in test_web_mute.py)."""
    index = client().get(url("/"), timeout=10)
    for path in ("/mute?token=abc", "/mute.html?token=abc"):
        r = client().get(url(path), timeout=10)
        assert r.status_code == 200, path
        assert "text/html" in r.headers["Content-Type"], path
        assert r.text == index.text, path
