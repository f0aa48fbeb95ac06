"""Token variations beyond test_tokens.py (which covers alg none, HS512,
lowercase alg, crit, padding, the standard base64 alphabet, wrong iss,
missing or expired exp, future nbf/iat, sub and ver mismatches, deleted
users; test_account.py covers logout and password change).  Each case here
differs from a valid token in one way.

What the verifier decides, from DESIGN §3 and common/jwt.c:
- only `alg: "HS256"`, spelled exactly; a header or payload that names a
  member twice is refused (parsers disagree on which one wins);
- `typ`, when present, is "JWT" in any case; other header members (`kid`,
  `jku`, `jwk`, `x5u`) are ignored: the key is never chosen by the token,
  both configured keys are simply tried;
- `exp`, `nbf`, `iat`, `ver` are JSON numbers with an integral value that
  fits int64 (3600.0 is 3600); `sub` a decimal string without sign, spaces
  or leading zeros; `iss` exactly "trackly";
- the signature proves the claims: a token for another user is refused
  unless it was signed with the server's key.

Every refusal is a 401 JSON answer with a Bearer challenge, and the real
token still works afterwards.
"""

import base64
import hashlib
import hmac
import json
import time

import pytest

from helpers.http import call, expect_json, expect_unauthorized
from helpers.jwt import b64url, claims_for, jwt_encode
from helpers.stack import env
from helpers.users import make_user

pytestmark = pytest.mark.usefixtures("stack_healthy")


def now():
    return int(time.time())


def version(db, user_id):
    return db.value("SELECT token_version FROM users WHERE id = %s",
                    (user_id,))


def sign_raw(header, payload, key=None):
    """A token from raw header and payload bytes (not re-serialised, so
    duplicate members and odd spacing survive), signed HS256 with key
    (default: the server's)."""
    key = (key if key is not None else env("TRACKLY_JWT_SECRET"))
    key = key.encode() if isinstance(key, str) else key
    signing_input = b64url(header) + "." + b64url(payload)
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


def claims_json(u, v, **overrides):
    return json.dumps(claims_for(u, v, **overrides)).encode()


HS256 = b'{"alg":"HS256","typ":"JWT"}'


def std_alphabet_payload(u, v):
    """A valid token whose payload segment holds '-' or '_', with those
    rewritten to the standard base64 '+' and '/' (and re-signed, so only
    the alphabet is wrong)."""
    for pad in range(300):
        token = jwt_encode(claims_for(u, v, pad="?>" * pad))
        head, payload, _ = token.split(".")
        if "-" in payload or "_" in payload:
            payload = payload.translate(str.maketrans("-_", "+/"))
            signing_input = f"{head}.{payload}"
            sig = hmac.new(env("TRACKLY_JWT_SECRET").encode(),
                           signing_input.encode(), hashlib.sha256).digest()
            return signing_input + "." + b64url(sig)
    raise AssertionError("no payload with '-' or '_' in 300 tries")


# Each builds a token from (user id, token version).
BAD_TOKENS = {
    # header
    "alg-RS256": lambda u, v: jwt_encode(claims_for(u, v),
                                         header={"alg": "RS256"}),
    "alg-ES256": lambda u, v: jwt_encode(claims_for(u, v),
                                         header={"alg": "ES256"}),
    "alg-trailing-space": lambda u, v: jwt_encode(claims_for(u, v),
                                                  header={"alg": "HS256 "}),
    "alg-mixed-case": lambda u, v: jwt_encode(claims_for(u, v),
                                              header={"alg": "Hs256"}),
    "alg-empty": lambda u, v: jwt_encode(claims_for(u, v),
                                         header={"alg": ""}),
    "alg-null": lambda u, v: jwt_encode(claims_for(u, v),
                                        header={"alg": None}),
    "alg-array": lambda u, v: jwt_encode(claims_for(u, v),
                                         header={"alg": ["HS256"]}),
    "alg-nul-suffix": lambda u, v: sign_raw(b'{"alg":"HS256\\u0000x"}',
                                            claims_json(u, v)),
    "alg-twice-none-last": lambda u, v: sign_raw(
        b'{"alg":"HS256","alg":"none"}', claims_json(u, v)),
    "alg-twice-none-first": lambda u, v: sign_raw(
        b'{"alg":"none","alg":"HS256"}', claims_json(u, v)),
    "typ-other": lambda u, v: jwt_encode(
        claims_for(u, v), header={"alg": "HS256", "typ": "at+jwt"}),
    "typ-number": lambda u, v: jwt_encode(
        claims_for(u, v), header={"alg": "HS256", "typ": 1}),
    "crit-empty": lambda u, v: jwt_encode(
        claims_for(u, v), header={"alg": "HS256", "crit": []}),
    "header-trailing-garbage": lambda u, v: sign_raw(HS256 + b"x",
                                                     claims_json(u, v)),
    "header-empty-object": lambda u, v: sign_raw(b"{}", claims_json(u, v)),
    "header-not-utf8": lambda u, v: sign_raw(b'{"alg":"HS256","x":"\xff"}',
                                             claims_json(u, v)),
    # keys the attacker chose
    "empty-key-with-kid": lambda u, v: jwt_encode(
        claims_for(u, v), key=b"",
        header={"alg": "HS256", "kid": "../../../../dev/null"}),
    "own-key-in-jwk": lambda u, v: jwt_encode(
        claims_for(u, v), key="attacker-key-" + "k" * 32,
        header={"alg": "HS256", "jwk": {
            "kty": "oct", "k": b64url(b"attacker-key-" + b"k" * 32)}}),
    "key-prefix": lambda u, v: jwt_encode(
        claims_for(u, v), key=env("TRACKLY_JWT_SECRET")[:-1]),
    "key-plus-one": lambda u, v: jwt_encode(
        claims_for(u, v), key=env("TRACKLY_JWT_SECRET") + "x"),
    "key-hex-decoded": lambda u, v: jwt_encode(
        claims_for(u, v), key=bytes.fromhex(env("TRACKLY_JWT_SECRET"))),
    # shape
    "leading-dot": lambda u, v: "." + jwt_encode(claims_for(u, v)),
    "trailing-dot": lambda u, v: jwt_encode(claims_for(u, v)) + ".",
    "double-dot": lambda u, v: jwt_encode(claims_for(u, v)).replace(
        ".", "..", 1),
    "only-dots": lambda u, v: "..",
    "segments-swapped": lambda u, v: ".".join(
        [jwt_encode(claims_for(u, v)).split(".")[i] for i in (1, 0, 2)]),
    "signature-of-another-token": lambda u, v: ".".join(
        jwt_encode(claims_for(u, v)).split(".")[:2] +
        [jwt_encode(claims_for(u, v, iat=now() - 1)).split(".")[2]]),
    "signature-hex": lambda u, v: ".".join(
        jwt_encode(claims_for(u, v)).split(".")[:2] + [hmac.new(
            env("TRACKLY_JWT_SECRET").encode(),
            ".".join(jwt_encode(claims_for(u, v)).split(".")[:2]).encode(),
            hashlib.sha256).hexdigest()]),
    "signature-truncated": lambda u, v: jwt_encode(claims_for(u, v))[:-2],
    "signature-doubled": lambda u, v: jwt_encode(claims_for(u, v)) +
        jwt_encode(claims_for(u, v)).rsplit(".", 1)[1],
    "base64-with-padding-inside": lambda u, v: sign_raw(HS256,
                                                        claims_json(u, v))
        .replace(".", "==.", 1),
    "base64-standard-payload": lambda u, v: std_alphabet_payload(u, v),
    "whitespace-inside": lambda u, v: jwt_encode(claims_for(u, v)).replace(
        ".", ". ", 1),
    # claims: duplicates and types
    "sub-twice": lambda u, v: sign_raw(
        HS256, b'{"sub":"%d","sub":"%d","iat":%d,"exp":%d,"iss":"trackly",'
        b'"ver":%d}' % (u + 1, u, now(), now() + 3600, v)),
    "exp-twice": lambda u, v: sign_raw(
        HS256, b'{"sub":"%d","exp":%d,"exp":%d,"iat":%d,"iss":"trackly",'
        b'"ver":%d}' % (u, now() - 3600, now() + 3600, now(), v)),
    "ver-twice": lambda u, v: sign_raw(
        HS256, b'{"sub":"%d","exp":%d,"iat":%d,"iss":"trackly","ver":%d,'
        b'"ver":%d}' % (u, now() + 3600, now(), v + 1, v)),
    "payload-trailing-garbage": lambda u, v: sign_raw(
        HS256, claims_json(u, v) + b"]"),
    "payload-array": lambda u, v: sign_raw(
        HS256, b"[" + claims_json(u, v) + b"]"),
    "payload-not-utf8": lambda u, v: sign_raw(
        HS256, claims_json(u, v)[:-1] + b',"x":"\xc0\x80"}'),
    "payload-nul": lambda u, v: sign_raw(
        HS256, claims_json(u, v)[:-1] + b',"x":"\x00"}'),
    "exp-fraction": lambda u, v: jwt_encode(
        claims_for(u, v, exp=now() + 3600.5)),
    "exp-1e300": lambda u, v: jwt_encode(claims_for(u, v, exp=1e300)),
    "exp-2^63": lambda u, v: sign_raw(
        HS256, claims_json(u, v, exp=None)[:-1] +
        b',"exp":9223372036854775808}'),
    "exp-negative": lambda u, v: jwt_encode(claims_for(u, v, exp=-1)),
    "exp-huge-negative": lambda u, v: jwt_encode(
        claims_for(u, v, exp=-2**63)),
    "exp-bool": lambda u, v: jwt_encode(claims_for(u, v, exp=True)),
    "exp-null": lambda u, v: sign_raw(
        HS256, claims_json(u, v, exp=None)[:-1] + b',"exp":null}'),
    "exp-object": lambda u, v: jwt_encode(claims_for(u, v,
                                                     exp={"v": now()})),
    "nbf-string": lambda u, v: jwt_encode(claims_for(u, v, nbf=str(now()))),
    "nbf-huge": lambda u, v: jwt_encode(claims_for(u, v, nbf=2**62)),
    "iat-string": lambda u, v: jwt_encode(claims_for(u, v, iat=str(now()))),
    "iat-fraction": lambda u, v: jwt_encode(claims_for(u, v,
                                                       iat=now() + 0.5)),
    "ver-string": lambda u, v: jwt_encode(claims_for(u, v, ver=str(v))),
    "ver-fraction": lambda u, v: jwt_encode(claims_for(u, v, ver=v + 0.5)),
    "ver-huge": lambda u, v: jwt_encode(claims_for(u, v, ver=2**40 + v)),
    "ver-negative": lambda u, v: jwt_encode(claims_for(u, v, ver=-1)),
    "ver-null": lambda u, v: sign_raw(
        HS256, claims_json(u, v, ver=None)[:-1] + b',"ver":null}'),
    "iss-case": lambda u, v: jwt_encode(claims_for(u, v, iss="Trackly")),
    "iss-nul-suffix": lambda u, v: sign_raw(
        HS256, claims_json(u, v, iss=None)[:-1] +
        b',"iss":"trackly\\u0000x"}'),
    "iss-array": lambda u, v: jwt_encode(claims_for(u, v, iss=["trackly"])),
    "iss-empty": lambda u, v: jwt_encode(claims_for(u, v, iss="")),
    # sub spellings of the right id
    "sub-negative": lambda u, v: jwt_encode(claims_for(u, v, sub=f"-{u}")),
    "sub-plus": lambda u, v: jwt_encode(claims_for(u, v, sub=f"+{u}")),
    "sub-leading-zero": lambda u, v: jwt_encode(claims_for(u, v,
                                                           sub=f"0{u}")),
    "sub-leading-space": lambda u, v: jwt_encode(claims_for(u, v,
                                                            sub=f" {u}")),
    "sub-trailing-space": lambda u, v: jwt_encode(claims_for(u, v,
                                                             sub=f"{u} ")),
    "sub-decimal-point": lambda u, v: jwt_encode(claims_for(u, v,
                                                            sub=f"{u}.0")),
    "sub-exponent": lambda u, v: jwt_encode(claims_for(u, v, sub=f"{u}e0")),
    "sub-hex": lambda u, v: jwt_encode(claims_for(u, v, sub=hex(u))),
    "sub-nul-suffix": lambda u, v: sign_raw(
        HS256, claims_json(u, v, sub=None)[:-1] +
        b',"sub":"%d\\u0000"}' % u),
    "sub-zero": lambda u, v: jwt_encode(claims_for(0, v)),
    "sub-empty": lambda u, v: jwt_encode(claims_for(u, v, sub="")),
    "sub-overflow": lambda u, v: jwt_encode(
        claims_for(u, v, sub="99999999999999999999")),
    "sub-int64-max": lambda u, v: jwt_encode(
        claims_for(u, v, sub=str(2**63 - 1))),
    "sub-sql": lambda u, v: jwt_encode(claims_for(u, v,
                                                  sub=f"{u} OR 1=1")),
    "sub-array": lambda u, v: jwt_encode(claims_for(u, v, sub=[str(u)])),
}


@pytest.fixture(scope="module")
def shared_user():
    """One account for the read-only refusal cases."""
    return make_user()


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_bad_token_is_401(shared_user, db, case):
    token = BAD_TOKENS[case](shared_user.id, version(db, shared_user.id))
    expect_unauthorized(shared_user.me(token))
    expect_json(shared_user.me(), 200)


# --- what the verifier accepts, so the refusals above mean something ------

@pytest.mark.parametrize("header", [
    {"alg": "HS256", "typ": "jwt"},
    {"alg": "HS256", "kid": "../../../../dev/null"},
    {"alg": "HS256", "jku": "http://127.0.0.1:1/keys"},
    {"alg": "HS256", "x5u": "http://127.0.0.1:1/cert", "cty": "JWT"},
], ids=["typ-lowercase", "kid-ignored", "jku-ignored", "x5u-ignored"])
def test_unused_header_members_are_ignored(shared_user, db, header):
    token = jwt_encode(claims_for(shared_user.id,
                                  version(db, shared_user.id)),
                       header=header)
    assert expect_json(shared_user.me(token), 200)["id"] == shared_user.id


@pytest.mark.parametrize("claims", [
    {"exp": float(now() + 3600)},
    {"exp": 2**62},
    {"iat": 0},
    {"nbf": now() - 10**6},
    {"extra": {"nested": [1, 2, {"a": None}]}, "aud": "anyone"},
], ids=["exp-integral-float", "exp-far-future", "iat-epoch", "nbf-past",
        "unknown-claims"])
def test_unusual_but_valid_claims_are_accepted(shared_user, db, claims):
    token = jwt_encode(claims_for(shared_user.id,
                                  version(db, shared_user.id), **claims))
    assert expect_json(shared_user.me(token), 200)["id"] == shared_user.id


def test_another_users_id_needs_the_servers_key(db):
    """A token naming someone else is exactly as good as its signature."""
    me, other = make_user(), make_user()
    ver = version(db, other.id)
    forged = jwt_encode(claims_for(other.id, ver),
                        key="guessed-key-" + "g" * 32)
    expect_unauthorized(me.me(forged))
    tampered = me.token.split(".")
    tampered[1] = b64url(json.dumps(claims_for(other.id, ver)).encode())
    expect_unauthorized(me.me(".".join(tampered)))
    signed = jwt_encode(claims_for(other.id, ver))
    assert expect_json(me.me(signed), 200)["id"] == other.id


def test_token_of_a_deleted_account_stays_dead_after_reregistering(db):
    """DELETE /user, then the same address registers again: the old
    token (and a forged one for the old id) reach nothing, and the new
    account gets a new id."""
    user = make_user()
    ver = version(db, user.id)
    r = call("DELETE", "/user", token=user.token,
             json={"password": user.password})
    assert r.status_code == 204, r.text
    expect_unauthorized(user.me())
    expect_unauthorized(user.me(jwt_encode(claims_for(user.id, ver))))
    expect_unauthorized(user.me(jwt_encode(claims_for(user.id, ver + 1))))

    r = call("POST", "/user/register",
             json={"email": user.email, "password": user.password})
    again = expect_json(r, 201)["user"]
    assert again["id"] != user.id
    expect_unauthorized(user.me())


def test_token_in_the_query_string_is_not_read(shared_user):
    """Only the Authorization header carries tokens (a query string ends up
    in access logs)."""
    r = call("GET", f"/user/me?access_token={shared_user.token}")
    expect_unauthorized(r)


def test_base64_of_the_secret_is_not_the_key(shared_user, db):
    secret = env("TRACKLY_JWT_SECRET").encode()
    for key in (base64.b64encode(secret), base64.urlsafe_b64encode(secret),
                hashlib.sha256(secret).digest()):
        token = jwt_encode(claims_for(shared_user.id,
                                      version(db, shared_user.id)), key=key)
        expect_unauthorized(shared_user.me(token))
