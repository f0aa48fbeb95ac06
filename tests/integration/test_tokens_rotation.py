"""Key rotation end to end, with each worker's keys prepared once
(jwt_key_init in api/worker.c): a private trackly-api with two workers is
given a new JWT_SECRET and the old one as JWT_SECRET_PREVIOUS.  Tokens of
either key are accepted by every worker, request after request; a token
of an unrelated key is refused; login signs with the new key; and once the
previous key is dropped its tokens stop working."""

import json
import secrets

from helpers.fcgi import fcgi_request
from helpers.jwt import claims_for, jwt_encode, jwt_signature_ok
from helpers.stack import api_instance, binary_env, env
from helpers.wait import wait_until

# Requests per case: each is a new FastCGI connection that either worker
# may accept, so both workers answer some of them.
ROUNDS = 12


def token_version(db, user):
    return db.value("SELECT token_version FROM users WHERE id = %s",
                    (user.id,))


def rotated_api(current, previous=None, workers=2):
    return api_instance(binary_env(DB_URL=env("TRACKLY_DB_URL"),
                                   JWT_SECRET=current,
                                   JWT_SECRET_PREVIOUS=previous),
                        workers=workers)


def answers(sock):
    try:
        return fcgi_request(sock, "GET", "/healthcheck", timeout=2)[0] == 200
    except OSError:
        return False


def started(proc, sock):
    assert wait_until(sock.exists, timeout=10), proc.err_path.read_text()
    assert wait_until(lambda: answers(sock), timeout=10), \
        proc.err_path.read_text()


def me(sock, token):
    status, _, body = fcgi_request(
        sock, "GET", "/user/me",
        headers={"Authorization": f"Bearer {token}"})
    return status, body


def statuses(sock, token):
    return {me(sock, token)[0] for _ in range(ROUNDS)}


def test_both_keys_work_and_no_other_during_a_rotation(new_user, db):
    current, previous = secrets.token_hex(32), secrets.token_hex(32)
    unrelated = secrets.token_hex(32)
    claims = claims_for(new_user.id, token_version(db, new_user))
    with rotated_api(current, previous) as (proc, sock):
        started(proc, sock)
        for key in (previous, current, previous):
            status, body = me(sock, jwt_encode(claims, key=key))
            assert status == 200, body
            assert json.loads(body)["id"] == new_user.id
            assert statuses(sock, jwt_encode(claims, key=key)) == {200}
        for key in (unrelated, env("TRACKLY_JWT_SECRET"), current[:-1]):
            assert statuses(sock, jwt_encode(claims, key=key)) == {401}
        # The tokens it issues are signed with the current key.
        body = json.dumps({"email": new_user.email,
                           "password": new_user.password}).encode()
        status, _, payload = fcgi_request(sock, "POST", "/user/login",
                                          body=body)
        assert status == 200, payload
        token = json.loads(payload)["token"]
        assert jwt_signature_ok(token, key=current)
        assert not jwt_signature_ok(token, key=previous)
        assert statuses(sock, token) == {200}
        log = proc.err_path.read_text()
    assert "cannot prepare" not in log, log


def test_the_previous_key_stops_working_when_it_is_dropped(new_user, db):
    current, previous = secrets.token_hex(32), secrets.token_hex(32)
    claims = claims_for(new_user.id, token_version(db, new_user))
    with rotated_api(current) as (proc, sock):
        started(proc, sock)
        assert statuses(sock, jwt_encode(claims, key=current)) == {200}
        assert statuses(sock, jwt_encode(claims, key=previous)) == {401}
