"""POST /user/login: tokens, uniform failures, timing, and the per-account
throttle kept in Postgres (login_throttle)."""

import statistics
import time

import pytest

from helpers.db import verify_row
from helpers.http import (
    ERROR_LOGIN, assert_recent, call, expect_error, expect_json,
    flood_from_one_address, parse_time,
)
from helpers.jwt import ISSUER, jwt_decode, jwt_signature_ok
from helpers.stack import log_files
from helpers.users import login, random_email, random_password

THROTTLE_LIMIT = 10          # failures per account per window
THROTTLE_WINDOW = 15 * 60    # seconds


def test_login_returns_a_signed_token(new_user):
    r = login(new_user.email, new_user.password)
    body = expect_json(r, 200)
    token = body["token"]
    assert isinstance(token, str) and token.count(".") == 2
    assert_recent(body["expires_at"], offset=86400)

    header, claims, _ = jwt_decode(token)
    assert header["alg"] == "HS256"
    assert claims["sub"] == str(new_user.id)
    assert claims["iss"] == ISSUER
    assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int)
    assert abs(claims["exp"] - (time.time() + 86400)) < 120
    assert abs(claims["iat"] - time.time()) < 120
    assert isinstance(claims.get("ver"), int)
    assert claims["exp"] == int(parse_time(body["expires_at"]).timestamp())
    assert jwt_signature_ok(token), "token is not HS256 under JWT_SECRET"


def test_login_token_works(new_user):
    token = expect_json(login(new_user.email, new_user.password), 200)["token"]
    assert expect_json(new_user.me(token), 200)["id"] == new_user.id


def test_login_email_is_trimmed_and_case_insensitive(new_user):
    r = login(f"  {new_user.email.upper()} ", new_user.password)
    token = expect_json(r, 200)["token"]
    assert jwt_decode(token)[1]["sub"] == str(new_user.id)


def test_wrong_password_and_unknown_email_look_the_same(new_user):
    wrong = login(new_user.email, new_user.password + "x")
    unknown = login(random_email(), new_user.password)
    assert expect_json(wrong, 401) == ERROR_LOGIN
    assert expect_json(unknown, 401) == ERROR_LOGIN
    assert wrong.content == unknown.content


def test_password_is_case_sensitive(new_user):
    r = login(new_user.email, new_user.password.upper())
    assert expect_json(r, 401) == ERROR_LOGIN


def test_unknown_email_takes_as_long_as_wrong_password(new_user):
    """The server must burn a hash for unknown addresses too; we only want
    to catch 'unknown email answers instantly', hence the loose bounds."""
    unknown_email = random_email()

    def timed(email):
        start = time.perf_counter()
        r = login(email, "not-the-password")
        elapsed = time.perf_counter() - start
        assert r.status_code == 401, r.text
        return elapsed

    timed(new_user.email)                    # warm both paths up
    timed(unknown_email)
    wrong, unknown = [], []
    for _ in range(5):                       # interleaved: same conditions
        wrong.append(timed(new_user.email))
        unknown.append(timed(unknown_email))
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.3 <= ratio <= 3, \
        f"unknown {statistics.median(unknown) * 1000:.0f} ms vs " \
        f"wrong password {statistics.median(wrong) * 1000:.0f} ms"


@pytest.mark.parametrize("body,field", [
    ({"password": "whatever-123"}, "email"),
    ({"email": "a@example.test"}, "password"),
    ({"email": 1, "password": "whatever-123"}, "email"),
    ({"email": "a@example.test", "password": ["x"]}, "password"),
])
def test_bad_login_body_is_400(body, field):
    assert field in expect_error(call("POST", "/user/login", json=body), 400)


# --- per-account throttle --------------------------------------------------

def fail_logins(email, count):
    """count wrong-password logins, each from its own address, all 401."""
    for i in range(count):
        r = login(email, f"wrong-password-{i}")
        assert r.status_code == 401, f"failure {i + 1}: {r.status_code} {r.text}"


def expect_throttled(r):
    expect_error(r, 429)
    retry = r.headers.get("Retry-After", "")
    assert retry.isdigit(), f"Retry-After is {retry!r}"
    assert 0 < int(retry) <= THROTTLE_WINDOW
    return int(retry)


def test_ten_failures_lock_the_account(new_user, other_user, db):
    # Spelled differently each time: the throttle key is the normalized email.
    variants = [new_user.email, new_user.email.upper(), f" {new_user.email} "]
    for i in range(THROTTLE_LIMIT):
        r = login(variants[i % 3], f"wrong-password-{i}")
        assert expect_json(r, 401) == ERROR_LOGIN, f"failure {i + 1}"

    expect_throttled(login(new_user.email, new_user.password))
    expect_throttled(login(new_user.email.upper(), "wrong-again"))

    failures = db.value("SELECT failures FROM login_throttle WHERE email = %s",
                        (new_user.email.lower(),))
    assert failures is not None and failures >= THROTTLE_LIMIT

    # Other accounts are not affected.
    expect_json(login(other_user.email, other_user.password), 200)

    # Once the window has passed, the right password works again.
    db.run("UPDATE login_throttle "
           "SET window_start = now() - interval '16 minutes' WHERE email = %s",
           (new_user.email.lower(),))
    expect_json(login(new_user.email, new_user.password), 200)


def test_successful_login_resets_the_count(new_user, db):
    fail_logins(new_user.email, THROTTLE_LIMIT - 1)
    expect_json(login(new_user.email, new_user.password), 200)
    left = db.value("SELECT failures FROM login_throttle WHERE email = %s",
                    (new_user.email.lower(),))
    assert not left, f"failures still {left} after a good login"

    fail_logins(new_user.email, THROTTLE_LIMIT - 1)
    expect_json(login(new_user.email, new_user.password), 200)


def test_unknown_email_is_throttled_too():
    """Otherwise the 429 itself would tell which addresses have accounts."""
    email = random_email()
    fail_logins(email, THROTTLE_LIMIT)
    expect_throttled(login(email, "anything-at-all"))


# --- nginx rate limit -----------------------------------------------------

def test_login_flood_from_one_address_is_rate_limited():
    """nginx allows 5 r/s with a burst of 10 per address.  Empty objects
    are refused by the API before any hashing or throttle bookkeeping."""
    flood_from_one_address("/user/login", {}, 30)


# --- secrets stay out of logs ----------------------------------------------

def nginx_logs():
    """nginx's error log and its siblings (the access log) in the log dir."""
    error_log = log_files("TRACKLY_NGINX_LOG")
    siblings = [p for f in error_log for p in f.parent.glob("nginx*.log")]
    return sorted(set(error_log + siblings))


def test_passwords_and_tokens_stay_out_of_logs(new_user, db):
    wrong_password = "wrong-" + random_password()
    login(new_user.email, wrong_password)
    expect_json(new_user.me(), 200)
    verify_token = verify_row(db, new_user.id)[1]["token"]
    expect_json(call("POST", "/user/verify", json={"token": verify_token}),
                200)
    time.sleep(0.5)                         # let the servers write their logs

    secrets = {"password": new_user.password, "wrong password": wrong_password,
               "token": new_user.token,
               "token signature": new_user.token.rsplit(".", 1)[1]}
    # nginx's access log records request lines, query strings included, so
    # the verification token is only required to stay out of the API's log.
    checks = [(path, secrets) for path in nginx_logs()] + \
        [(path, dict(secrets, **{"verification token": verify_token}))
         for path in log_files("TRACKLY_API_LOG")]
    assert checks, "no log files found"
    for path, wanted in checks:
        text = path.read_bytes().decode("utf-8", "replace")
        for what, secret in wanted.items():
            assert secret not in text, f"{what} found in {path}"
