"""Malformed request bodies.  Each is wrong in one way and must get a 400
JSON error (never a 5xx, a crash, or a silently accepted request); bodies
over 64 KiB get nginx's 413, as JSON too."""

import uuid

import pytest

from helpers.http import expect_error, expect_json, post_raw
from helpers.users import login_token, random_password


def fields(email=None, password=None, extra=b""):
    """The raw JSON members of an otherwise valid register/login body."""
    email = email if email is not None else \
        f'"u-{uuid.uuid4().hex}@example.test"'.encode()
    password = password if password is not None else b'"long-enough-password"'
    return b'"email":' + email + b',"password":' + password + extra


def body(**kwargs):
    return b"{" + fields(**kwargs) + b"}"


BAD_BODIES = {
    "empty": lambda: b"",
    "whitespace": lambda: b"  \n ",
    "truncated": lambda: body()[:-1],
    "trailing-garbage": lambda: body() + b" x",
    "two-objects": lambda: body() + body(),
    "single-quotes": lambda: b"{'email': 'a@example.test', 'password': 'x'}",
    "comment": lambda: b"{/* hi */" + fields() + b"}",
    "trailing-comma": lambda: b"{" + fields() + b",}",
    "nan": lambda: body(extra=b',"x":NaN'),
    "array": lambda: b"[" + body() + b"]",
    "empty-array": lambda: b"[]",
    "string": lambda: b'"email"',
    "number": lambda: b"42",
    "null": lambda: b"null",
    "true": lambda: b"true",
    "invalid-utf8-ff": lambda: body(password=b'"pass\xffword-123"'),
    "overlong-slash": lambda: body(password=b'"pass\xc0\xafword-123"'),
    "utf8-surrogate": lambda: body(password=b'"pass\xed\xa0\x80word-123"'),
    "beyond-U+10FFFF": lambda: body(password=b'"pass\xf4\x90\x80\x80word"'),
    "truncated-sequence": lambda: body(password=b'"password-123\xc3"'),
    "invalid-utf8-in-ignored-field": lambda: body(extra=b',"x":"\xff"'),
    "invalid-utf8-in-key": lambda: body(extra=b',"\xff":1'),
    "nul-escape-password": lambda: body(password=b'"pass\\u0000word-123"'),
    "nul-escape-email": lambda: body(
        email=b'"a\\u0000@example.test"'),
    "raw-nul": lambda: body(password=b'"pass\x00word-123"'),
    "lone-surrogate-escape": lambda: body(password=b'"pass\\ud800word-123"'),
    "raw-control-char": lambda: body(password=b'"pass\x01word-123"'),
    "nested-1000": lambda: body(extra=b',"x":' + b"[" * 1000 + b"]" * 1000),
    "nested-30000": lambda: body(extra=b',"x":' + b"[" * 30000 + b"]" * 30000),
    "nested-objects": lambda: body(
        extra=b',"x":' + b'{"a":' * 1000 + b"1" + b"}" * 1000),
    "duplicate-email": lambda: b'{"email":"a-' + uuid.uuid4().hex.encode() +
        b'@example.test","email":"b@example.test",'
        b'"password":"long-enough-password"}',
    "duplicate-password": lambda: body(
        extra=b',"password":"another-long-password"'),
}


@pytest.mark.parametrize("path", ["/user/register", "/user/login"])
@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_body_is_400(case, path):
    r = post_raw(path, BAD_BODIES[case]())
    expect_error(r, 400)


def test_duplicate_keys_cannot_sneak_a_password_past_delete(new_user):
    """With last-wins or first-wins parsing, one of these would pass."""
    password = new_user.password.encode()
    for raw in (b'{"password":"wrong-password","password":"' + password + b'"}',
                b'{"password":"' + password + b'","password":"wrong-password"}',
                b'{"password":"' + password + b'","password":"' + password +
                b'"}'):
        r = post_raw("/user", raw, method="DELETE", token=new_user.token)
        expect_error(r, 400)
    expect_json(new_user.me(), 200)


@pytest.mark.parametrize("case", [
    "truncated", "array", "invalid-utf8-ff", "nul-escape-password",
    "nested-1000", "empty",
])
def test_bad_body_on_authenticated_routes_is_400(new_user, case):
    raw = BAD_BODIES[case]()
    for method, path in (("PUT", "/user/password"), ("DELETE", "/user")):
        r = post_raw(path, raw, method=method, token=new_user.token)
        assert r.status_code == 400, f"{method} {path}: {r.status_code}"
        expect_error(r, 400)
    expect_json(new_user.me(), 200)
    login_token(new_user.email, new_user.password)


# --- size caps -------------------------------------------------------------

def padded(total):
    """A register body of exactly total bytes: valid JSON whose password
    is too short, so a body the API does read gets a cheap 400."""
    head = b'{"email":"u-' + uuid.uuid4().hex.encode() + \
        b'@example.test","password":"short","pad":"'
    tail = b'"}'
    raw = head + b"x" * (total - len(head) - len(tail)) + tail
    assert len(raw) == total
    return raw


def test_body_of_exactly_64_kib_is_read():
    r = post_raw("/user/register", padded(64 * 1024))
    assert "password" in expect_error(r, 400)


@pytest.mark.parametrize("size", [64 * 1024 + 1, 1024 * 1024],
                         ids=["64KiB+1", "1MiB"])
def test_body_over_64_kib_is_413(size):
    expect_error(post_raw("/user/register", padded(size)), 413)


def test_password_change_body_over_64_kib_is_413(new_user):
    raw = b'{"current_password":"' + new_user.password.encode() + \
        b'","new_password":"' + random_password().encode() + b'","pad":"' + \
        b"x" * (64 * 1024) + b'"}'
    r = post_raw("/user/password", raw, method="PUT", token=new_user.token)
    expect_error(r, 413)
    login_token(new_user.email, new_user.password)
