"""Raw HTTP to nginx for the hostile-input tests: bytes sent verbatim,
responses parsed by hand."""

import json as jsonlib
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from helpers.http import JSON_TYPE, next_source_ip
from helpers.stack import BASE_URL


@dataclass
class RawResponse:
    status: int
    headers: dict           # lower-cased names; a repeated name keeps the last
    body: bytes

    def json(self):
        return jsonlib.loads(self.body)


def _complete(raw, count):
    """True when raw holds count whole responses framed by Content-Length."""
    for _ in range(count):
        head, sep, rest = raw.partition(b"\r\n\r\n")
        match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if not sep or not match or len(rest) < int(match.group(1)):
            return False
        raw = rest[int(match.group(1)):]
    return True


def raw_exchange(data, *, ip=None, timeout=5, half_close=False,
                 responses=None):
    """Sends bytes verbatim to nginx from source address ip (a fresh one
    when None) and reads until the server closes or timeout seconds pass
    without data.  Returns everything read; a reset counts as a close.
    Requests should say "Connection: close".  half_close shuts our sending
    side after the data, which nginx takes for a client that went away
    (it then drops the request unanswered, status 499).  With responses=n,
    stops as soon as n whole responses have arrived (nginx may keep the
    connection open a while after an early error, to read what the client
    still sends)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.bind((ip or next_source_ip(), 0))
        parts = urlsplit(BASE_URL)
        sock.connect((parts.hostname, parts.port or 80))
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
            if responses and _complete(out, responses):
                break
        return out
    finally:
        sock.close()


def parse_responses(raw):
    """Splits what raw_exchange read into RawResponses (bodies framed by
    Content-Length, as nginx frames every error it sends)."""
    responses = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, f"incomplete response head: {raw[:200]!r}"
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", len(rest)))
        responses.append(RawResponse(status, headers, rest[:length]))
        raw = rest[length:]
    return responses


def raw_request(data, **kwargs):
    """One raw request; returns its (first) RawResponse."""
    kwargs.setdefault("responses", 1)
    out = raw_exchange(data, **kwargs)
    assert out, "the server closed the connection without an answer"
    return parse_responses(out)[0]


def expect_raw_error(response, status):
    """expect_error for a RawResponse."""
    assert response.status == status, \
        f"expected {status}, got {response.status}: {response.body[:300]!r}"
    ctype = response.headers.get("content-type", "")
    assert ctype.replace(" ", "").lower() == JSON_TYPE.replace(" ", ""), \
        f"Content-Type is {ctype!r}"
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) \
        and body["error"], f"not an error object: {body!r}"
    return body["error"]
