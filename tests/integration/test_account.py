"""The signed-in account: GET /user/me, POST /user/logout, PUT
/user/password, DELETE /user, and that one user's token never reaches
another user's account.  (Confirming the address: test_verify.py; the
browser's cookie session: test_sessions.py.)"""

import pytest

from helpers.http import (
    ERROR_LOGIN, assert_recent, call, expect_error, expect_json,
    expect_unauthorized,
)
from helpers.projects import max_projects, min_interval
from helpers.users import login, login_token, random_password, register


def change_password(user, current, new, token=None):
    return call("PUT", "/user/password", token=token or user.token,
                json={"current_password": current, "new_password": new})


def delete_account(user, password, token=None):
    return call("DELETE", "/user", token=token or user.token,
                json={"password": password})


# --- GET /user/me ----------------------------------------------------------

def test_me_shows_the_account(new_user):
    body = expect_json(new_user.me(), 200)
    assert body["id"] == new_user.id
    assert body["email"] == new_user.email
    assert body["email_verified"] is False
    assert body["created_at"] == new_user.created_at
    assert_recent(body["created_at"])
    assert "password_hash" not in body and "token_version" not in body


def test_me_gives_the_limits_the_create_form_checks(new_user):
    body = expect_json(new_user.me(), 200)
    assert body["limits"] == {"min_interval_seconds": min_interval(),
                              "max_projects": max_projects()}
    for value in body["limits"].values():
        assert isinstance(value, int) and not isinstance(value, bool)


# --- POST /user/logout -----------------------------------------------------

def test_logout_revokes_every_token(new_user, db):
    second = login_token(new_user.email, new_user.password)
    before = db.value("SELECT token_version FROM users WHERE id = %s",
                      (new_user.id,))

    r = call("POST", "/user/logout", token=new_user.token)
    assert r.status_code == 204, r.text
    assert r.content == b""

    expect_unauthorized(new_user.me())
    expect_unauthorized(new_user.me(second))
    expect_unauthorized(call("POST", "/user/logout", token=new_user.token))
    assert db.value("SELECT token_version FROM users WHERE id = %s",
                    (new_user.id,)) != before

    fresh = login_token(new_user.email, new_user.password)
    assert expect_json(new_user.me(fresh), 200)["id"] == new_user.id


def test_logout_needs_a_token():
    expect_unauthorized(call("POST", "/user/logout"))


def test_logout_leaves_other_users_alone(new_user, other_user):
    assert call("POST", "/user/logout", token=new_user.token).status_code == 204
    expect_json(other_user.me(), 200)


# --- PUT /user/password ----------------------------------------------------

def test_password_change_replaces_tokens_and_password(new_user, db):
    second = login_token(new_user.email, new_user.password)
    old_hash = db.value("SELECT password_hash FROM users WHERE id = %s",
                        (new_user.id,))
    new_password = random_password()

    body = expect_json(change_password(new_user, new_user.password,
                                       new_password), 200)
    assert isinstance(body["token"], str)
    assert_recent(body["expires_at"], offset=86400)

    assert expect_json(new_user.me(body["token"]), 200)["id"] == new_user.id
    expect_unauthorized(new_user.me())
    expect_unauthorized(new_user.me(second))

    assert expect_json(login(new_user.email, new_user.password), 401) == \
        ERROR_LOGIN
    login_token(new_user.email, new_password)
    new_hash = db.value("SELECT password_hash FROM users WHERE id = %s",
                        (new_user.id,))
    assert new_hash != old_hash and new_password not in new_hash


def test_password_change_with_wrong_current_password_is_403(new_user):
    expect_error(change_password(new_user, "not-my-password",
                                 random_password()), 403)
    expect_json(new_user.me(), 200)                  # nothing was revoked
    login_token(new_user.email, new_user.password)   # nothing was changed


@pytest.mark.parametrize("new_password", ["short", "p" * 1025])
def test_password_change_to_a_bad_password_is_400(new_user, new_password):
    r = change_password(new_user, new_user.password, new_password)
    assert "password" in expect_error(r, 400)
    expect_json(new_user.me(), 200)


@pytest.mark.parametrize("missing", ["current_password", "new_password"])
def test_password_change_missing_field_is_400(new_user, missing):
    body = {"current_password": new_user.password,
            "new_password": random_password()}
    del body[missing]
    r = call("PUT", "/user/password", token=new_user.token, json=body)
    assert missing in expect_error(r, 400)
    expect_json(new_user.me(), 200)


def test_password_change_needs_a_token(new_user):
    expect_unauthorized(call("PUT", "/user/password", json={
        "current_password": new_user.password,
        "new_password": random_password()}))


# --- DELETE /user ----------------------------------------------------------

def test_delete_account(new_user, db):
    second = login_token(new_user.email, new_user.password)

    r = delete_account(new_user, new_user.password)
    assert r.status_code == 204, r.text
    assert r.content == b""

    expect_unauthorized(new_user.me())
    expect_unauthorized(new_user.me(second))
    assert expect_json(login(new_user.email, new_user.password), 401) == \
        ERROR_LOGIN
    assert db.value("SELECT count(*) FROM users WHERE id = %s",
                    (new_user.id,)) == 0

    again = expect_json(register(new_user.email, random_password()), 201)
    assert again["user"]["id"] != new_user.id


def test_delete_with_wrong_password_is_403(new_user, db):
    expect_error(delete_account(new_user, "not-my-password"), 403)
    expect_json(new_user.me(), 200)
    assert db.value("SELECT count(*) FROM users WHERE id = %s",
                    (new_user.id,)) == 1


def test_delete_without_password_is_400(new_user):
    # A missing field is bad input (400), not a wrong password (403).
    r = call("DELETE", "/user", token=new_user.token, json={})
    assert "password" in expect_error(r, 400)
    expect_json(new_user.me(), 200)


def test_delete_needs_a_token(new_user):
    expect_unauthorized(call("DELETE", "/user",
                             json={"password": new_user.password}))


# --- isolation -------------------------------------------------------------

def test_each_token_sees_only_its_own_account(new_user, other_user):
    mine = expect_json(new_user.me(), 200)
    theirs = expect_json(other_user.me(), 200)
    assert (mine["id"], mine["email"]) == (new_user.id, new_user.email)
    assert (theirs["id"], theirs["email"]) == (other_user.id, other_user.email)


def test_cannot_delete_or_change_another_account(new_user, other_user, db):
    # new_user's token with other_user's password acts on new_user only,
    # whose password it is not.
    expect_error(delete_account(new_user, other_user.password), 403)
    expect_error(change_password(new_user, other_user.password,
                                 random_password()), 403)
    assert db.value("SELECT count(*) FROM users WHERE id IN (%s, %s)",
                    (new_user.id, other_user.id)) == 2
    login_token(other_user.email, other_user.password)
    login_token(new_user.email, new_user.password)
    expect_json(other_user.me(), 200)


def test_deleting_one_account_leaves_the_other(new_user, other_user):
    assert delete_account(new_user, new_user.password).status_code == 204
    assert expect_json(other_user.me(), 200)["id"] == other_user.id
    login_token(other_user.email, other_user.password)
