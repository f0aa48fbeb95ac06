"""POST /user/register: what is accepted, what is refused, and what lands
in the database.  Malformed bodies (bad JSON, bad UTF-8, oversize) are in
test_bad_input.py; the nginx rate limit is at the end of this file."""

import concurrent.futures
import uuid

import pytest

from helpers.db import verify_row
from helpers.fcgi import fcgi_request
from helpers.http import (
    assert_recent, call, expect_error, expect_json, flood_from_one_address,
)
from helpers.monitor import public_url
from helpers.stack import GOOD_SECRET, api_instance, binary_env, env
from helpers.users import random_email, random_password, register
from helpers.wait import wait_until


def test_register_returns_the_new_user(db):
    email, password = random_email(), random_password()
    body = expect_json(register(email, password), 201)

    assert isinstance(body["message"], str) and body["message"]
    user = body["user"]
    assert isinstance(user["id"], int) and user["id"] > 0
    assert user["email"] == email
    assert_recent(user["created_at"])

    row = db.one("SELECT email, email_verified, password_hash "
                 "FROM users WHERE id = %s", (user["id"],))
    assert row is not None, "no users row for the new id"
    assert row[0] == email
    assert row[1] is False
    assert row[2].startswith("$argon2id$"), "password is not hashed with Argon2id"
    assert password not in row[2]


def test_register_trims_email_and_keeps_its_case(db):
    local = f"Mixed.Case-{uuid.uuid4().hex}"
    given = f"  {local}@Example.TEST   "
    body = expect_json(register(given, random_password()), 201)
    assert body["user"]["email"] == f"{local}@Example.TEST"


def test_register_queues_a_verification_mail(db):
    email = random_email()
    user_id = expect_json(register(email, random_password()), 201)["user"]["id"]

    recipient, payload = verify_row(db, user_id)
    assert recipient == email
    token = payload.get("token")
    assert isinstance(token, str) and len(token) >= 16, \
        f"verification token looks weak: {token!r}"
    assert payload.get("link") == f"{public_url()}/verify?token={token}"
    stored = db.value("SELECT verify_token_hash FROM users WHERE id = %s",
                      (user_id,))
    assert stored is not None, "no verification token hash stored"
    assert bytes(stored) != token.encode(), "verification token stored in clear"


@pytest.mark.parametrize("variant", [
    lambda e: e.upper(),
    lambda e: f"  {e}  ",
    lambda e: " " + e.capitalize(),
], ids=["upper-case", "surrounding-spaces", "capitalized-and-space"])
def test_register_same_email_again_is_409(new_user, variant):
    r = register(variant(new_user.email), random_password())
    assert expect_error(r, 409) == "email already registered"


def test_concurrent_duplicate_registrations_create_one_account(db):
    """Two workers racing on one address: one 201, the others 409 (or
    the API's 429 when the one hashing slot of the test stack's two
    workers was taken: api/pool.h), one row."""
    email = random_email()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(
            lambda i: register(email if i % 2 else email.upper(),
                               random_password()),
            range(4)))
    codes = sorted(r.status_code for r in answers)
    assert codes[0] == 201 and set(codes[1:]) <= {409, 429}, codes
    for r in answers:
        if r.status_code == 429:
            assert "busy checking other passwords" in r.json()["error"]
    assert db.value("SELECT count(*) FROM users WHERE lower(email) = %s",
                    (email.lower(),)) == 1


def test_unknown_fields_are_ignored(db):
    email = random_email()
    r = call("POST", "/user/register", json={
        "email": email, "password": random_password(),
        "email_verified": True, "id": 1, "token_version": 99, "admin": True,
        "extra": {"nested": [1, 2, 3]},
    })
    user = expect_json(r, 201)["user"]
    row = db.one("SELECT email_verified, token_version FROM users "
                 "WHERE id = %s", (user["id"],))
    assert row[0] is False
    assert row[1] != 99


# --- passwords: 8 to 1024 bytes (bytes, not characters) -------------------

@pytest.mark.parametrize("password", [
    "p" * 8,
    "p" * 1024,
    "\u00e9" * 4,             # 4 characters, 8 bytes of UTF-8
], ids=["8-bytes", "1024-bytes", "4-chars-8-bytes"])
def test_password_length_accepted(password):
    expect_json(register(random_email(), password), 201)


@pytest.mark.parametrize("password", [
    "",
    "p" * 7,
    "p" * 1025,
    "\u00e9" * 3,             # 6 bytes
    "\u00e9" * 513,           # 513 characters, 1026 bytes
], ids=["empty", "7-bytes", "1025-bytes", "3-chars-6-bytes",
        "513-chars-1026-bytes"])
def test_password_length_refused(password):
    message = expect_error(register(random_email(), password), 400)
    assert "password" in message.lower()


# --- emails ----------------------------------------------------------------

def long_email(total):
    """A syntactically valid address of exactly total bytes (>= 200):
    a 64-byte local part and a domain of labels of at most 63 bytes."""
    local = uuid.uuid4().hex * 2                     # 64 bytes
    rest = total - len(local) - 1 - len(".test")
    labels = []
    while rest > 0:
        n = min(63, rest)
        if rest - n == 1:                            # avoid an empty label
            n -= 1
        labels.append("d" * n)
        rest -= n + 1
    email = local + "@" + ".".join(labels) + ".test"
    assert len(email) == total, (len(email), total)
    return email


def test_email_of_254_bytes_is_accepted():
    expect_json(register(long_email(254), random_password()), 201)


@pytest.mark.parametrize("email", [
    "",
    "   ",
    "no-at-sign.example.test",
    "two words@example.test",
    "user@exa mple.test",
    "tab\there@example.test",
    "victim@example.test\r\nBcc: x@evil.test",
    "@example.test",
    "user@",
    long_email(255),
], ids=["empty", "blank", "no-at", "space-in-local", "space-in-domain",
        "tab", "crlf-injection", "no-local-part", "no-domain", "255-bytes"])
def test_invalid_email_is_400(email):
    message = expect_error(register(email, random_password()), 400)
    assert "email" in message.lower()


# Issue 12 item 11: addresses at this host or at a bare IP were accepted and
# mailed (the mail server delivers them locally, or wherever the IP is).
LOCAL_DOMAINS = ["b", "localhost", "127.0.0.1", "127.1", "0x7f.1",
                 "2130706433", "[127.0.0.1]"]


@pytest.mark.parametrize("domain", LOCAL_DOMAINS)
@pytest.mark.parametrize("local", ["u", "a%b", "postmaster"])
def test_single_label_and_ip_domains_are_400_and_mail_nothing(db, local,
                                                              domain):
    email = f"{local}-{uuid.uuid4().hex[:8]}@{domain}"
    message = expect_error(register(email, random_password()), 400)
    assert "field 'email'" in message, message
    assert db.value("SELECT count(*) FROM users WHERE lower(email) = %s",
                    (email.lower(),)) == 0
    assert db.value("SELECT count(*) FROM mail_outbox WHERE recipient = %s",
                    (email,)) == 0


@pytest.mark.parametrize("domain", ["127.0.0.1.nip.io", "x.y1", "1e100.net"])
def test_names_that_merely_hold_digits_are_accepted(domain):
    expect_json(register(f"u-{uuid.uuid4().hex}@{domain}",
                         random_password()), 201)


def test_an_operator_may_allow_local_domains(db):
    """EMAIL_ALLOW_LOCAL_DOMAINS=1 (a single-host install mailing its own
    users) lifts the rule; bracketed literals stay refused."""
    with api_instance(binary_env(DB_URL=env("TRACKLY_DB_URL"),
                                 JWT_SECRET=GOOD_SECRET,
                                 EMAIL_ALLOW_LOCAL_DOMAINS="1")) as (proc,
                                                                     sock):
        assert wait_until(sock.exists, timeout=10), proc.err_path.read_text()
        for email, status in [(f"ops-{uuid.uuid4().hex}@localhost", 201),
                              (f"ops-{uuid.uuid4().hex}@127.0.0.1", 201),
                              (f"ops-{uuid.uuid4().hex}@[127.0.0.1]", 400)]:
            body = ('{"email": "%s", "password": "%s"}' %
                    (email, random_password())).encode()
            got = None

            def answered():
                nonlocal got
                try:
                    got = fcgi_request(sock, "POST", "/user/register",
                                       body=body)
                except OSError:
                    return False
                return True
            assert wait_until(answered, timeout=10)
            assert got[0] == status, (email, got)


# --- required fields and types -------------------------------------------

@pytest.mark.parametrize("field", ["email", "password"])
def test_missing_field_is_named(field):
    body = {"email": random_email(), "password": random_password()}
    del body[field]
    r = call("POST", "/user/register", json=body)
    assert expect_error(r, 400) == f"field '{field}' is required"


@pytest.mark.parametrize("field", ["email", "password"])
def test_null_field_counts_as_missing(field):
    body = {"email": random_email(), "password": random_password(), field: None}
    r = call("POST", "/user/register", json=body)
    assert field in expect_error(r, 400)


@pytest.mark.parametrize("field,value", [
    ("email", 12345),
    ("email", True),
    ("email", ["a@example.test"]),
    ("email", {"address": "a@example.test"}),
    ("password", 12345678),
    ("password", ["password1"]),
    ("password", False),
])
def test_wrong_type_names_the_field(field, value):
    body = {"email": random_email(), "password": random_password(), field: value}
    r = call("POST", "/user/register", json=body)
    assert field in expect_error(r, 400)


# --- nginx rate limit -----------------------------------------------------

def test_register_flood_from_one_address_is_rate_limited():
    """nginx allows 1 r/s with a burst of 5 per address; 20 requests at
    once from one address must meet some 429s.  The bodies are invalid so
    the API does no hashing for those that get through."""
    codes = flood_from_one_address(
        "/user/register",
        {"email": "flood@example.test", "password": "short"}, 20)
    assert 400 in codes, "every request was refused, even the first"
