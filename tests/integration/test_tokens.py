"""Bearer tokens on an authenticated route (GET /user/me): what the
verifier must accept and everything it must refuse, each refusal a 401 JSON
answer with a WWW-Authenticate: Bearer challenge.

Tokens are forged with the API's real key (TRACKLY_JWT_SECRET), so each
refusal is about the one thing the case changes; the first tests prove a
forged token with the right claims is accepted."""

import hashlib
import json
import time

import pytest

from helpers.http import call, expect_json, expect_unauthorized
from helpers.jwt import b64url, claims_for, jwt_encode
from helpers.users import make_user

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def token_version(db, user):
    return db.value("SELECT token_version FROM users WHERE id = %s", (user.id,))


def me_with_header(value):
    return call("GET", "/user/me", headers={"Authorization": value})


# --- tokens that must work -------------------------------------------------

def test_forged_token_with_the_right_claims_is_accepted(new_user, db):
    token = jwt_encode(claims_for(new_user.id, token_version(db, new_user)))
    assert expect_json(new_user.me(token), 200)["id"] == new_user.id


def test_header_without_typ_is_accepted(new_user, db):
    token = jwt_encode(claims_for(new_user.id, token_version(db, new_user)),
                       header={"alg": "HS256"})
    expect_json(new_user.me(token), 200)


@pytest.mark.parametrize("claim,delta", [("exp", -5), ("nbf", 5), ("iat", 5)])
def test_times_within_the_leeway_are_accepted(new_user, db, claim, delta):
    claims = claims_for(new_user.id, token_version(db, new_user),
                        **{claim: int(time.time()) + delta})
    expect_json(new_user.me(jwt_encode(claims)), 200)


def test_lowercase_bearer_scheme_is_accepted(new_user):
    # RFC 7235: the scheme is case-insensitive; api/auth.c compares it so.
    r = me_with_header(f"bearer {new_user.token}")
    assert expect_json(r, 200)["id"] == new_user.id


# --- headers that carry no usable token ------------------------------------

def test_missing_authorization_is_401():
    expect_unauthorized(call("GET", "/user/me"))


@pytest.mark.parametrize("value", [
    "Bearer",
    "Bearer    ",
    "Basic dXNlcjpwYXNzd29yZA==",
    "Token abc.def.ghi",
    "abc.def.ghi",
], ids=["bearer-no-token", "bearer-blank", "basic", "other-scheme",
        "no-scheme"])
def test_unusable_authorization_header_is_401(value):
    expect_unauthorized(me_with_header(value))


# --- tokens that must be refused -------------------------------------------

def with_std_alphabet(user_id, ver):
    """A valid token whose signature uses '-' or '_', rewritten with the
    standard base64 '+' or '/': equal bytes to a lenient decoder."""
    now = int(time.time())
    for shift in range(200):
        token = jwt_encode(claims_for(user_id, ver, iat=now - shift))
        sig = token.rsplit(".", 1)[1]
        if "-" in sig or "_" in sig:
            return token.translate(str.maketrans("-_", "+/"))
    raise AssertionError("no signature with '-' or '_' in 200 tries")


def flip_unused_bits(token):
    """The same signature bytes with a non-zero unused low bit in the last
    base64url character (43 characters carry 258 bits for 256)."""
    last = token[-1]
    return token[:-1] + B64URL[B64URL.index(last) ^ 1]


def swap_payload(token, payload):
    head, _, sig = token.split(".")
    return f"{head}.{b64url(payload)}.{sig}"


def now():
    return int(time.time())


# Each case builds, from (user id, token version), a token wrong in exactly
# one way.
BAD_TOKENS = {
    "garbage": lambda u, v: "not-a-token",
    "three-garbage-parts": lambda u, v: "abc.def.ghi",
    "two-parts": lambda u, v: jwt_encode(claims_for(u, v)).rsplit(".", 1)[0],
    "four-parts": lambda u, v: jwt_encode(claims_for(u, v)) + ".abc",
    "empty-signature": lambda u, v:
        jwt_encode(claims_for(u, v)).rsplit(".", 1)[0] + ".",
    "bad-signature": lambda u, v:
        jwt_encode(claims_for(u, v), key="another-key-" + "k" * 32),
    "tampered-sub": lambda u, v: swap_payload(
        jwt_encode(claims_for(u + 1, v)),
        json.dumps(claims_for(u, v)).encode()),
    "padded-base64": lambda u, v: jwt_encode(claims_for(u, v)) + "=",
    "standard-base64-alphabet": with_std_alphabet,
    "nonzero-trailing-bits": lambda u, v:
        flip_unused_bits(jwt_encode(claims_for(u, v))),
    "alg-none": lambda u, v: jwt_encode(
        claims_for(u, v), header={"alg": "none", "typ": "JWT"}, digest=None),
    "alg-none-signed": lambda u, v:
        jwt_encode(claims_for(u, v), header={"alg": "none"}),
    "alg-lowercase": lambda u, v:
        jwt_encode(claims_for(u, v), header={"alg": "hs256"}),
    "alg-HS512": lambda u, v: jwt_encode(
        claims_for(u, v), header={"alg": "HS512", "typ": "JWT"},
        digest=hashlib.sha512),
    "alg-HS512-signed-HS256": lambda u, v:
        jwt_encode(claims_for(u, v), header={"alg": "HS512"}),
    "no-alg": lambda u, v: jwt_encode(claims_for(u, v), header={"typ": "JWT"}),
    "crit-header": lambda u, v: jwt_encode(
        claims_for(u, v), header={"alg": "HS256", "crit": ["exp"]}),
    "header-not-object": lambda u, v:
        jwt_encode(claims_for(u, v), header=["HS256"]),
    "payload-not-json": lambda u, v: jwt_encode(b"not json"),
    "expired": lambda u, v:
        jwt_encode(claims_for(u, v, exp=now() - 120, iat=now() - 3600)),
    "no-exp": lambda u, v: jwt_encode(claims_for(u, v, exp=None)),
    "exp-as-string": lambda u, v:
        jwt_encode(claims_for(u, v, exp=str(now() + 3600))),
    "wrong-iss": lambda u, v:
        jwt_encode(claims_for(u, v, iss="someone-else")),
    "no-iss": lambda u, v: jwt_encode(claims_for(u, v, iss=None)),
    "future-nbf": lambda u, v: jwt_encode(claims_for(u, v, nbf=now() + 300)),
    "future-iat": lambda u, v: jwt_encode(claims_for(u, v, iat=now() + 300)),
    "no-sub": lambda u, v: jwt_encode(claims_for(u, v, sub=None)),
    "sub-as-number": lambda u, v: jwt_encode(claims_for(u, v, sub=u)),
    "sub-not-decimal": lambda u, v:
        jwt_encode(claims_for(u, v, sub=f"{u}abc")),
    "sub-unknown-user": lambda u, v: jwt_encode(claims_for(2**62, v)),
    "ver-newer": lambda u, v: jwt_encode(claims_for(u, v + 1)),
    "ver-older": lambda u, v: jwt_encode(claims_for(u, v - 1)),
    "no-ver": lambda u, v: jwt_encode(claims_for(u, v, ver=None)),
    "too-long": lambda u, v: jwt_encode(claims_for(u, v, pad="x" * 5000)),
}


@pytest.fixture(scope="module")
def shared_user():
    """One account for the read-only refusal cases (saves 30-odd Argon2
    registrations); nothing below changes it."""
    return make_user()


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_bad_token_is_401(shared_user, db, case):
    token = BAD_TOKENS[case](shared_user.id, token_version(db, shared_user))
    expect_unauthorized(shared_user.me(token))
    expect_json(shared_user.me(), 200)       # the real token still works


def test_token_of_a_deleted_user_is_401(new_user, db):
    ver = token_version(db, new_user)
    db.run("DELETE FROM users WHERE id = %s", (new_user.id,))
    expect_unauthorized(new_user.me())
    expect_unauthorized(new_user.me(jwt_encode(claims_for(new_user.id, ver))))


def test_bumping_token_version_revokes_at_once(new_user, db):
    """Revocation is read from the database on each request, not cached."""
    expect_json(new_user.me(), 200)
    db.run("UPDATE users SET token_version = token_version + 1 WHERE id = %s",
           (new_user.id,))
    for _ in range(4):                       # whichever worker answers
        expect_unauthorized(new_user.me())
