"""Confirming an email address: POST /user/verify {token} confirms;
GET /user/verify?token=... (the link in mail before the web client had a
verify page) only redirects to that page, since mail scanners open links;
POST /user/verify/resend queues a new mail, throttled per account."""

import re
import threading

import pytest

from helpers.db import no_writes, outbox_rows, verify_row
from helpers.http import call, expect_error, expect_json, expect_unauthorized
from helpers.monitor import public_url
from helpers.users import make_user

INVALID_LINK = "invalid or expired verification link"
REDIRECT_MESSAGE = "open the web client's verify page to confirm your address"
RESENT_MESSAGE = ("verification mail sent; links in earlier mails no longer "
                  "work")


def verify(token):
    return call("POST", "/user/verify", json={"token": token})


def redirect(query):
    return call("GET", "/user/verify" + query, allow_redirects=False)


def resend(user, **kwargs):
    return call("POST", "/user/verify/resend", token=user.token, **kwargs)


def is_verified(db, user):
    return db.value("SELECT email_verified FROM users WHERE id = %s",
                    (user.id,))


def verify_payloads(db, user):
    """The payloads of every verification mail queued for user, oldest
    first."""
    return [row["payload"] for row in outbox_rows(db, user_id=user.id,
                                                  kind="verify")]


def allow_resend_now(db, user):
    """Moves the account's last send out of the 60 s throttle."""
    db.run("UPDATE users SET verify_sent_at = now() - interval '61 seconds' "
           "WHERE id = %s", (user.id,))


# --- the link in the mail ---------------------------------------------------

def test_mail_links_to_the_web_clients_verify_page(new_user, db):
    recipient, payload = verify_row(db, new_user.id)
    assert recipient == new_user.email
    token = payload["token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token), token
    assert payload["link"] == f"{public_url()}/verify?token={token}"


def test_registration_counts_as_the_first_send(new_user, db):
    sent_at, sends, window = db.one(
        "SELECT verify_sent_at, verify_sends, verify_window_start FROM users "
        "WHERE id = %s", (new_user.id,))
    assert sends == 1
    assert sent_at is not None and window == sent_at
    created = db.value("SELECT created_at FROM users WHERE id = %s",
                       (new_user.id,))
    assert abs((sent_at - created).total_seconds()) < 5


# --- POST /user/verify ------------------------------------------------------

def test_verify_confirms_the_address_once(new_user, db):
    token = verify_row(db, new_user.id)[1]["token"]

    body = expect_json(verify(token), 200)
    assert body == {"message": "email address verified"}
    assert expect_json(new_user.me(), 200)["email_verified"] is True
    assert is_verified(db, new_user) is True

    assert expect_error(verify(token), 400) == INVALID_LINK   # works once
    assert expect_json(new_user.me(), 200)["email_verified"] is True


def test_verify_needs_no_login_and_ignores_a_token_of_another_user(
        new_user, other_user, db):
    token = verify_row(db, new_user.id)[1]["token"]
    r = call("POST", "/user/verify", token=other_user.token,
             json={"token": token})
    expect_json(r, 200)
    assert is_verified(db, new_user) is True
    assert is_verified(db, other_user) is False


def test_expired_verify_token_is_400(new_user, db):
    token = verify_row(db, new_user.id)[1]["token"]
    db.run("UPDATE users SET verify_expires_at = now() - interval '1 hour' "
           "WHERE id = %s", (new_user.id,))
    assert expect_error(verify(token), 400) == INVALID_LINK
    assert is_verified(db, new_user) is False


@pytest.mark.parametrize("token", [
    "", "garbage", "A" * 43, "x" * 129, "a" * 5000, "a b", "a%2Bb",
    "' OR '1'='1", "\u00e9t\u00e9", "\U0001F600",
], ids=["empty", "garbage", "unknown", "129", "long", "space", "percent",
        "sql", "latin", "emoji"])
def test_unknown_or_malformed_token_is_400(new_user, db, token):
    with no_writes(db):
        assert expect_error(verify(token), 400) == INVALID_LINK
    assert is_verified(db, new_user) is False


@pytest.mark.parametrize("body", [
    {}, {"token": None}, {"other": "x"},
], ids=["empty-object", "null", "other-field"])
def test_verify_without_a_token_is_400_naming_it(db, body):
    with no_writes(db):
        r = call("POST", "/user/verify", json=body)
        assert expect_error(r, 400) == "field 'token' is required"


@pytest.mark.parametrize("value", [42, True, ["t"], {"t": 1}],
                         ids=["number", "bool", "array", "object"])
def test_verify_with_a_token_of_the_wrong_type_is_400_naming_it(db, value):
    with no_writes(db):
        message = expect_error(call("POST", "/user/verify",
                                    json={"token": value}), 400)
    assert "'token'" in message and "string" in message, message


@pytest.mark.parametrize("raw", [
    b"", b"not json", b'["token"]', b'{"token":"a","token":"b"}',
    b'{"token":"\\u0000abc"}', b'{"token":"\xff\xfe"}',
], ids=["no-body", "not-json", "array", "duplicate", "nul", "not-utf8"])
def test_verify_with_a_malformed_body_is_400(db, raw):
    with no_writes(db):
        expect_error(call("POST", "/user/verify", data=raw,
                          headers={"Content-Type": "application/json"}), 400)


# --- GET /user/verify?token=... ---------------------------------------------

def test_get_redirects_to_the_verify_page_and_verifies_nothing(new_user, db):
    token = verify_row(db, new_user.id)[1]["token"]
    with no_writes(db):
        r = redirect(f"?token={token}")
    assert expect_json(r, 303) == {"message": REDIRECT_MESSAGE}
    assert r.headers["Location"] == f"/verify?token={token}"
    assert is_verified(db, new_user) is False
    # The token still works on the page the redirect leads to.
    expect_json(verify(token), 200)


def test_following_the_redirect_reaches_the_web_client():
    r = call("GET", "/user/verify?token=abc-DEF_123")
    assert r.status_code == 200
    assert r.url.endswith("/verify?token=abc-DEF_123"), r.url
    assert r.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("query", [
    "", "?token=", "?other=1", "?token=a%20b", "?token=a%2Bb", "?token=a+b",
    "?token=a.b", "?token=%3Cscript%3E", "?token=a%0D%0ALocation:%20x",
    "?token=" + "A" * 129, "?token=" + "A" * 5000, "?token=%00",
    "?token=%C3%A9",
], ids=["none", "empty", "other-param", "space", "plus-escaped", "plus",
        "dot", "html", "crlf", "129", "long", "nul", "latin"])
def test_get_with_a_token_of_another_shape_is_400_and_echoes_nothing(
        db, query):
    with no_writes(db):
        r = redirect(query)
    # A NUL is refused with every query, before any route runs.
    assert expect_error(r, 400) == ("query string is not valid UTF-8"
                                    if "%00" in query else INVALID_LINK)
    assert "Location" not in r.headers


@pytest.mark.parametrize("token", ["A" * 128, "_", "-", "0"])
def test_get_takes_any_token_of_the_alphabet_up_to_128(token):
    r = redirect(f"?token={token}")
    expect_json(r, 303)
    assert r.headers["Location"] == f"/verify?token={token}"


def test_get_uses_the_first_token_parameter():
    r = redirect("?token=first&token=second")
    expect_json(r, 303)
    assert r.headers["Location"] == "/verify?token=first"


# --- POST /user/verify/resend -----------------------------------------------

def test_resend_queues_a_new_link_and_the_old_one_stops_working(
        new_user, db):
    old = verify_row(db, new_user.id)[1]["token"]
    allow_resend_now(db, new_user)

    r = resend(new_user)
    assert expect_json(r, 202) == {"message": RESENT_MESSAGE}
    first, second = verify_payloads(db, new_user)
    assert first["token"] == old
    new = second["token"]
    assert new != old and re.fullmatch(r"[A-Za-z0-9_-]{43}", new)
    assert second["link"] == f"{public_url()}/verify?token={new}"
    [row] = [r for r in outbox_rows(db, user_id=new_user.id, kind="verify")
             if r["payload"]["token"] == new]
    assert row["recipient"] == new_user.email

    assert expect_error(verify(old), 400) == INVALID_LINK
    expect_json(verify(new), 200)
    assert is_verified(db, new_user) is True


def test_resend_gives_the_link_seven_more_days(new_user, db):
    db.run("UPDATE users SET verify_expires_at = now() + interval '1 hour' "
           "WHERE id = %s", (new_user.id,))
    allow_resend_now(db, new_user)
    expect_json(resend(new_user), 202)
    left = db.value("SELECT extract(epoch FROM verify_expires_at - now()) "
                    "FROM users WHERE id = %s", (new_user.id,))
    assert 7 * 86400 - 120 < float(left) <= 7 * 86400


def test_resend_when_already_verified_is_409(new_user, db):
    token = verify_row(db, new_user.id)[1]["token"]
    expect_json(verify(token), 200)
    allow_resend_now(db, new_user)
    with no_writes(db):
        r = resend(new_user)
        assert expect_error(r, 409) == "email address already verified"


def test_resend_needs_a_login(db):
    with no_writes(db):
        expect_unauthorized(call("POST", "/user/verify/resend"))


def test_resend_within_a_minute_of_registering_is_429(new_user, db):
    with no_writes(db):
        r = resend(new_user)
    message = expect_error(r, 429)
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 60, wait
    assert f"{wait} seconds" in message, message
    assert len(verify_payloads(db, new_user)) == 1


def test_resend_within_a_minute_of_the_last_resend_is_429(new_user, db):
    allow_resend_now(db, new_user)
    expect_json(resend(new_user), 202)
    r = resend(new_user)
    expect_error(r, 429)
    assert 55 <= int(r.headers["Retry-After"]) <= 60
    assert len(verify_payloads(db, new_user)) == 2


def test_at_most_five_sends_a_day(new_user, db):
    # Registration was the first; four resends make five.
    for _ in range(4):
        allow_resend_now(db, new_user)
        expect_json(resend(new_user), 202)
    allow_resend_now(db, new_user)
    r = resend(new_user)
    message = expect_error(r, 429)
    wait = int(r.headers["Retry-After"])
    # The day started at registration, a few seconds ago.
    assert 86400 - 120 <= wait <= 86400, wait
    assert "5" in message and f"{wait} seconds" in message, message
    assert len(verify_payloads(db, new_user)) == 5

    # Once the day is over, the count starts again (for the account and
    # for its address).
    db.run("UPDATE users SET verify_window_start = now() - interval "
           "'24 hours 1 second' WHERE id = %s", (new_user.id,))
    db.run("UPDATE verify_mail_log SET window_start = now() - interval "
           "'24 hours 1 second' WHERE email = lower(%s)", (new_user.email,))
    expect_json(resend(new_user), 202)
    sends, window = db.one("SELECT verify_sends, extract(epoch FROM now() - "
                           "verify_window_start) FROM users WHERE id = %s",
                           (new_user.id,))
    assert sends == 1 and float(window) < 60


def test_an_account_from_before_the_throttle_may_resend_at_once(db):
    user = make_user()
    db.run("UPDATE users SET verify_sent_at = NULL, verify_sends = 0, "
           "verify_window_start = NULL WHERE id = %s", (user.id,))
    expect_json(resend(user), 202)
    assert db.one("SELECT verify_sends, verify_sent_at IS NOT NULL FROM users "
                  "WHERE id = %s", (user.id,)) == (1, True)


def test_concurrent_resends_queue_one_mail(new_user, db):
    """The throttle is one statement in Postgres: of many resends at the
    same moment, through both workers, exactly one passes."""
    allow_resend_now(db, new_user)
    answers = []
    barrier = threading.Barrier(8)

    def one():
        barrier.wait()
        answers.append(resend(new_user).status_code)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [202] + [429] * 7, answers
    assert len(verify_payloads(db, new_user)) == 2


def test_resend_leaves_other_accounts_alone(new_user, other_user, db):
    allow_resend_now(db, new_user)
    before = db.one("SELECT verify_token_hash, verify_sends FROM users "
                    "WHERE id = %s", (other_user.id,))
    expect_json(resend(new_user), 202)
    assert db.one("SELECT verify_token_hash, verify_sends FROM users "
                  "WHERE id = %s", (other_user.id,)) == before
