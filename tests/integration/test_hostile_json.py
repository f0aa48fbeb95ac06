"""Hostile request bodies on the project routes (test_bad_input.py covers
the account routes): sizes around and far past the 64 KiB cap, nesting at
and past the depth limit, duplicate keys, numbers out of range, NUL bytes
and malformed UTF-8 in every string field, and bodies small enough to pass
the byte cap but with too many values to parse.

Every refusal is a 4xx JSON error, changes nothing in the database
(`no_writes`), and leaves the stack healthy (`stack_healthy`: same API
workers, /healthcheck 200).

The duplicate-key rule: a body whose top-level object names a member twice
is a 400 on every route, whichever of the values would be valid.  Nested
objects are never read by Trackly (no field is an object or an array), so a
duplicate inside one is ignored along with the rest of that unknown field.
"""

import json
import uuid

import pytest

from helpers.db import no_writes
from helpers.http import expect_error, expect_json, post_raw
from helpers.projects import create_project, get_project, project_body
from helpers.raw import expect_raw_error, raw_request
from helpers.users import make_user

pytestmark = pytest.mark.usefixtures("stack_healthy")

KIB = 1024
BODY_MAX = 64 * KIB
# JSON_MAX_DEPTH in common/json.h: the top-level object counts as one.
MAX_DEPTH = 32

STRING_FIELDS = ("name", "description", "link", "keyword", "expected_status")
INT_FIELDS = ("interval_seconds", "timeout_ms", "failure_threshold",
              "recovery_threshold")


def create_raw(user, raw):
    return post_raw("/project", raw, token=user.token)


def update_raw(user, project_id, raw):
    return post_raw(f"/project/{project_id}", raw, method="PUT",
                    token=user.token)


def valid_members(**fields):
    """The members of a valid POST /project body, as raw JSON text without
    the braces (fields replaces or adds members, given as raw JSON)."""
    members = {"name": json.dumps("site " + uuid.uuid4().hex[:8]),
               "link": json.dumps("https://example.com/")}
    members.update(fields)
    return b",".join(b'"' + k.encode() + b'":' +
                     (v if isinstance(v, bytes) else v.encode())
                     for k, v in members.items())


def body_of(**fields):
    return b"{" + valid_members(**fields) + b"}"


def padded_project(total):
    """A valid POST /project body of exactly total bytes, padded with an
    unknown field (unknown fields are ignored)."""
    head = b"{" + valid_members() + b',"pad":"'
    tail = b'"}'
    raw = head + b"x" * (total - len(head) - len(tail)) + tail
    assert len(raw) == total
    return raw


@pytest.fixture(scope="module")
def shared_user():
    """One account for the cases that must be refused (saves hundreds of
    Argon2 registrations); each of them checks it changed nothing."""
    return make_user()


@pytest.fixture(scope="module")
def project(shared_user):
    """(user, project): shared_user's one project, which the refused
    updates below must leave as it is."""
    return shared_user, create_project(shared_user)


# --- sizes -----------------------------------------------------------------

@pytest.mark.parametrize("size", [BODY_MAX - 1, BODY_MAX],
                         ids=["64KiB-1", "64KiB"])
def test_body_up_to_64_kib_is_read(new_user, size):
    created = expect_json(create_raw(new_user, padded_project(size)), 201)
    assert "pad" not in created


@pytest.mark.parametrize("size", [BODY_MAX + 1, 2 * BODY_MAX, 4 * KIB * KIB],
                         ids=["64KiB+1", "128KiB", "4MiB"])
def test_body_over_64_kib_is_413_and_creates_nothing(shared_user, db, size):
    with no_writes(db):
        expect_error(create_raw(shared_user, padded_project(size)), 413)


def test_update_body_over_64_kib_is_413(project, db):
    user, proj = project
    raw = b'{"name":"changed","pad":"' + b"x" * BODY_MAX + b'"}'
    with no_writes(db):
        expect_error(update_raw(user, proj["id"], raw), 413)
    assert get_project(user, proj["id"])["name"] == proj["name"]


def head(method, path, token, length, chunked=False):
    framing = b"Transfer-Encoding: chunked\r\n" if chunked else \
        b"Content-Length: %d\r\n" % length
    return (f"{method} {path} HTTP/1.1\r\nHost: trackly.test\r\n"
            f"Authorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nConnection: close\r\n"
            ).encode() + framing + b"\r\n"


def test_multi_mib_content_length_is_refused_before_the_body(shared_user, db):
    """nginx answers from the head alone: the 50 MiB are never sent."""
    with no_writes(db):
        r = raw_request(head("POST", "/project", shared_user.token,
                             50 * KIB * KIB))
    expect_raw_error(r, 413)


def test_multi_mib_chunked_body_is_413(shared_user, db):
    """A chunked body has no length up front; nginx counts as it reads and
    stops at the cap.  (Only the first 256 KiB are sent: nginx has answered
    long before.)"""
    chunk = b"x" * (16 * KIB)
    body = b'{"name":"n","link":"https://example.com/","pad":"'
    data = head("POST", "/project", shared_user.token, 0, chunked=True)
    data += b"%x\r\n%s\r\n" % (len(body), body)
    data += b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(16))
    with no_writes(db):
        r = raw_request(data)
    expect_raw_error(r, 413)


def test_small_chunked_body_is_read(new_user):
    body = body_of()
    data = head("POST", "/project", new_user.token, 0, chunked=True)
    half = len(body) // 2
    for piece in (body[:half], body[half:]):
        data += b"%x\r\n%s\r\n" % (len(piece), piece)
    data += b"0\r\n\r\n"
    r = raw_request(data)
    assert r.status == 201, r.body
    assert r.json()["user_id"] == new_user.id


@pytest.mark.parametrize("count", [30000, 21000], ids=["numbers", "objects"])
def test_too_many_values_is_413_even_under_64_kib(shared_user, db, count):
    """About 60 KiB of tiny values would take several MiB as a parse tree;
    the API caps a body's tree at 1 MiB (JSON_PARSE_MEMORY_MAX) and refuses
    the rest as too large."""
    value = b"0" if count == 30000 else b"{}"
    raw = body_of(x=b"[" + b",".join([value] * count) + b"]")
    assert len(raw) < BODY_MAX
    with no_writes(db):
        message = expect_error(create_raw(shared_user, raw), 413)
    assert "too many values" in message


def test_a_few_thousand_values_are_fine(new_user):
    raw = body_of(x=b"[" + b",".join([b"0"] * 3000) + b"]")
    expect_json(create_raw(new_user, raw), 201)


# --- nesting ---------------------------------------------------------------

def nested(kind, levels):
    """levels of nested arrays or objects around a 1."""
    if kind == "array":
        return b"[" * levels + b"1" + b"]" * levels
    return b'{"a":' * levels + b"1" + b"}" * levels


@pytest.mark.parametrize("kind", ["array", "object"])
def test_nesting_up_to_the_limit_is_accepted(new_user, kind):
    # The body's own object is level one.
    raw = body_of(x=nested(kind, MAX_DEPTH - 1))
    expect_json(create_raw(new_user, raw), 201)


@pytest.mark.parametrize("levels", [MAX_DEPTH, 1000, 10000])
@pytest.mark.parametrize("kind", ["array", "object"])
def test_nesting_past_the_limit_is_400(shared_user, db, kind, levels):
    raw = body_of(x=nested(kind, levels))
    assert len(raw) <= BODY_MAX
    with no_writes(db):
        message = expect_error(create_raw(shared_user, raw), 400)
    assert "nested too deeply" in message


@pytest.mark.parametrize("kind", ["array", "object"])
def test_deep_nesting_in_an_update_changes_nothing(project, db, kind):
    user, proj = project
    raw = b'{"name":"changed","x":' + nested(kind, 5000) + b"}"
    with no_writes(db):
        expect_error(update_raw(user, proj["id"], raw), 400)


def test_unbalanced_deep_nesting_is_400(shared_user, db):
    with no_writes(db):
        expect_error(create_raw(shared_user, b'{"x":' + b"[" * 30000), 400)


# --- duplicate keys --------------------------------------------------------

@pytest.mark.parametrize("field,first,second", [
    ("name", '"a"', '"b"'),
    ("link", '"https://example.com/"', '"https://example.org/"'),
    ("interval_seconds", "300", "600"),
    ("paused", "false", "true"),
    ("keyword", "null", '"x"'),
])
def test_duplicate_key_in_create_is_400(shared_user, db, field, first, second):
    if field in ("name", "link"):     # already in valid_members once
        extra = f',"{field}":{second}'
    else:
        extra = f',"{field}":{first},"{field}":{second}'
    raw = b"{" + valid_members() + extra.encode() + b"}"
    with no_writes(db):
        message = expect_error(create_raw(shared_user, raw), 400)
    assert "duplicate" in message


@pytest.mark.parametrize("raw", [
    b'{"name":"a","name":"b"}',
    b'{"paused":true,"paused":true}',
    b'{"name":"a","\\u006eame":"b"}',       # the same name, escaped
    b'{"alerts_muted":false,"description":"","alerts_muted":true}',
], ids=["name", "same-value", "escaped-name", "apart"])
def test_duplicate_key_in_update_is_400_and_changes_nothing(project, db, raw):
    user, proj = project
    with no_writes(db):
        expect_error(update_raw(user, proj["id"], raw), 400)
    assert get_project(user, proj["id"]) == proj


def test_duplicate_inside_an_ignored_nested_object_is_ignored(new_user):
    raw = body_of(x=b'{"name":"a","name":"b"}', y=b'[{"k":1,"k":2}]')
    created = expect_json(create_raw(new_user, raw), 201)
    assert created["name"].startswith("site ")


def test_case_differs_is_not_a_duplicate(new_user):
    """Names are case-sensitive: "Name" is an unknown field, not "name"."""
    created = expect_json(create_raw(new_user, body_of(Name='"other"')), 201)
    assert created["name"].startswith("site ")


# --- numbers ---------------------------------------------------------------

# Each is refused as a value of any integer field: out of range, not an
# integer, or not JSON at all.
BAD_NUMBERS = [
    "1e400", "-1e400", "1E+999999999999999999", "1e-400", "-0", "-0.0",
    "0.5", "1.0000001", "-1", "1e19", "9223372036854775808",
    "-9223372036854775809", "1" + "0" * 400, "0." + "0" * 400 + "1",
    "NaN", "Infinity", "-Infinity", "0x10", "+1", ".5", "1.", "01", "1e",
    "--1", "1_000", '"60"', "true", "[60]", '{"v":60}',
]


@pytest.mark.parametrize("value", BAD_NUMBERS)
@pytest.mark.parametrize("field", INT_FIELDS)
def test_bad_number_is_400_and_creates_nothing(shared_user, db, field, value):
    with no_writes(db):
        expect_error(create_raw(shared_user, body_of(**{field: value})), 400)


@pytest.mark.parametrize("value", ["1e400", "-0", "9223372036854775808",
                                   "NaN", '"3"', "3.5"])
def test_bad_number_in_update_changes_nothing(project, db, value):
    user, proj = project
    with no_writes(db):
        expect_error(update_raw(user, proj["id"],
                                b'{"failure_threshold":' + value.encode() +
                                b"}"), 400)
    assert get_project(user, proj["id"]) == proj


@pytest.mark.parametrize("value", ["3", "3.0", "3e0", "30e-1", "0.3e1",
                                   "3.000000000000000000001"])
def test_integral_spellings_are_the_same_number(new_user, value):
    """JSON has one number type: 3.0 and 30e-1 are the integer 3.  A
    fraction below double precision (3.000...1) is 3 as well, since cJSON
    reads numbers as doubles."""
    raw = body_of(failure_threshold=value)
    created = expect_json(create_raw(new_user, raw), 201)
    assert created["failure_threshold"] == 3


# --- NUL bytes and malformed UTF-8 in every string field ------------------

BAD_STRINGS = {
    "nul-escape": b"a\\u0000b",
    "raw-nul": b"a\x00b",
    "overlong-nul": b"a\xc0\x80b",
    "overlong-slash": b"a\xc0\xafb",
    "overlong-3-byte": b"a\xe0\x80\xafb",
    "surrogate": b"a\xed\xa0\x80b",
    "surrogate-pair": b"a\xed\xa0\xbd\xed\xb8\x80b",
    "beyond-U+10FFFF": b"a\xf4\x90\x80\x80b",
    "F5-lead": b"a\xf5\x80\x80\x80b",
    "FF": b"a\xffb",
    "lone-continuation": b"a\x80b",
    "truncated-2": b"a\xc3",
    "truncated-3": b"a\xe2\x82",
    "truncated-4": b"a\xf0\x9f\x98",
    "raw-control": b"a\x01b",
    "lone-surrogate-escape": b"a\\ud800b",
    "bad-escape": b"a\\uZZZZb",
}


def quoted(raw):
    return b'"' + raw + b'"'


@pytest.mark.parametrize("case", list(BAD_STRINGS))
@pytest.mark.parametrize("field", STRING_FIELDS)
def test_bad_string_in_create_is_400(shared_user, db, field, case):
    value = BAD_STRINGS[case]
    if field == "link":
        value = b"https://example.com/" + value
    with no_writes(db):
        expect_error(create_raw(shared_user, body_of(**{field: quoted(value)})),
                     400)


@pytest.mark.parametrize("case", ["nul-escape", "raw-nul", "overlong-nul",
                                  "surrogate", "F5-lead", "truncated-3"])
@pytest.mark.parametrize("field", STRING_FIELDS)
def test_bad_string_in_update_changes_nothing(project, db, field, case):
    user, proj = project
    raw = b'{"' + field.encode() + b'":' + quoted(BAD_STRINGS[case]) + b"}"
    with no_writes(db):
        expect_error(update_raw(user, proj["id"], raw), 400)
    assert get_project(user, proj["id"]) == proj


@pytest.mark.parametrize("case", ["raw-nul", "overlong-nul", "surrogate",
                                  "FF", "nul-escape"])
def test_bad_string_in_a_key_is_400(shared_user, db, case):
    raw = b"{" + valid_members() + b"," + quoted(BAD_STRINGS[case]) + b":1}"
    with no_writes(db):
        expect_error(create_raw(shared_user, raw), 400)


def test_nul_between_members_is_400(shared_user, db):
    raw = b"{" + valid_members() + b"\x00}"
    with no_writes(db):
        expect_error(create_raw(shared_user, raw), 400)


def test_valid_astral_and_escaped_text_is_stored_as_sent(new_user):
    """The refusals above are about broken text, not unusual text."""
    name = "caf\u00e9 \U0001F600 \u2028 \\ \"q\" \t"
    raw = body_of(name=json.dumps(name).encode(),
                  description=b'"\\ud83d\\ude00 escaped pair"')
    created = expect_json(create_raw(new_user, raw), 201)
    assert created["name"] == name
    assert created["description"] == "\U0001F600 escaped pair"
    assert get_project(new_user, created["id"])["name"] == name


def test_bom_before_the_body_is_ignored(new_user):
    """RFC 8259 lets a parser ignore a byte order mark; cJSON does."""
    expect_json(create_raw(new_user, b"\xef\xbb\xbf" + body_of()), 201)


def test_utf16_body_is_400(shared_user, db):
    raw = json.dumps(project_body()).encode("utf-16")
    with no_writes(db):
        expect_error(create_raw(shared_user, raw), 400)
