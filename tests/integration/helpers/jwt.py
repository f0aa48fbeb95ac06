"""HS256 JSON Web Tokens built and read by hand, for the token tests: the
same encoding, claims and secret as the API (DESIGN §3)."""

import base64
import hashlib
import hmac
import json as jsonlib
import time

from helpers.stack import env


ISSUER = "trackly"
JWT_LEEWAY = 30


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_encode(payload, *, key=None, header=None, digest=hashlib.sha256):
    """Signs payload (a dict, or bytes used verbatim) with key (default: the
    API's secret).  header defaults to {"alg":"HS256","typ":"JWT"}; pass
    digest=None for an empty signature."""
    header = {"alg": "HS256", "typ": "JWT"} if header is None else header
    if key is None:
        key = env("TRACKLY_JWT_SECRET")
    if isinstance(key, str):
        key = key.encode()

    def part(obj):
        raw = obj if isinstance(obj, bytes) else \
            jsonlib.dumps(obj, separators=(",", ":")).encode()
        return b64url(raw)

    signing_input = part(header) + "." + part(payload)
    signature = "" if digest is None else b64url(
        hmac.new(key, signing_input.encode("ascii"), digest).digest())
    return signing_input + "." + signature


def jwt_decode(token):
    """Splits a token without verifying it: (header, payload, signature)."""
    head, payload, signature = token.split(".")
    return (jsonlib.loads(b64url_decode(head)),
            jsonlib.loads(b64url_decode(payload)), signature)


def jwt_signature_ok(token, key=None):
    """True when token's signature is HMAC-SHA256 of its first two parts
    under key (default: the API's secret)."""
    key = (key or env("TRACKLY_JWT_SECRET")).encode()
    head, payload, signature = token.split(".")
    want = b64url(hmac.new(key, f"{head}.{payload}".encode(),
                           hashlib.sha256).digest())
    return hmac.compare_digest(want, signature)


def claims_for(user_id, version, **overrides):
    """Claims the API itself would issue for user_id with token version
    version, valid for an hour; an override of None removes that claim
    (ver=None drops the version)."""
    now = int(time.time())
    claims = {"sub": str(user_id), "iat": now, "exp": now + 3600,
              "iss": ISSUER, "ver": version}
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims
