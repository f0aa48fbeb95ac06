"""The mute link of alert mail: /project/mute?token=... and alerts_muted.

Opening the link (GET) must change nothing, because mail scanners open the
links in mail; POST (the page's button, or RFC 8058 one-click
List-Unsubscribe) mutes.  PUT /project/{id} can unmute.
"""

from conftest import (call, create_project, expect_error, expect_json,
                      get_project, url, client)


def mute_token(db, project_id):
    return db.value("SELECT mute_token FROM projects WHERE id = %s",
                    (project_id,))


def muted(db, project_id):
    return db.value("SELECT alerts_muted FROM projects WHERE id = %s",
                    (project_id,))


def test_new_projects_are_not_muted_and_have_a_long_token(new_user, db):
    p = create_project(new_user)
    assert p["alerts_muted"] is False
    token = mute_token(db, p["id"])
    assert len(token) == 64 and all(c in "0123456789abcdef" for c in token)
    other = create_project(new_user)
    assert mute_token(db, other["id"]) != token


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
