"""Test users: fresh addresses and passwords, registering and logging in
over HTTP, and the `User` a test works as."""

import uuid
from dataclasses import dataclass

from helpers.db import db_connect
from helpers.http import call, expect_json


def random_email(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex}@example.test"


# Every password random_password made and every token login_token got in
# this run; test_logs.py checks at the end that no log holds any of them.
SECRETS_USED = set()


def random_password():
    password = "pw-" + uuid.uuid4().hex
    SECRETS_USED.add(password)
    return password


def register(email, password, **kwargs):
    return call("POST", "/user/register",
                json={"email": email, "password": password}, **kwargs)


def login(email, password, **kwargs):
    return call("POST", "/user/login",
                json={"email": email, "password": password}, **kwargs)


def login_token(email, password):
    """Logs in and returns the token, failing the test on anything but 200."""
    body = expect_json(login(email, password), 200)
    SECRETS_USED.add(body["token"])
    return body["token"]


@dataclass
class User:
    id: int
    email: str
    password: str
    token: str
    created_at: str

    def me(self, token=None):
        return call("GET", "/user/me", token=token or self.token)


def make_user():
    """Registers a fresh random account and logs it in."""
    email, password = random_email(), random_password()
    body = expect_json(register(email, password), 201)
    user = body["user"]
    return User(id=user["id"], email=email, password=password,
                token=login_token(email, password),
                created_at=user["created_at"])


def make_verified_user():
    """A fresh user (make_user) whose address counts as verified, so alert
    mail is queued for it."""
    user = make_user()
    conn = db_connect()
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE users SET email_verified = true "
                        "WHERE id = %s", (user.id,))
    finally:
        conn.close()
    return user
