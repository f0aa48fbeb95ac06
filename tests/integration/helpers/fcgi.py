"""A minimal FastCGI client, for talking to a private trackly-api
instance without nginx: one request per connection (fcgi_request), or
several on one kept connection (KeptConnection, as nginx's
fastcgi_keep_conn does)."""

import socket
import struct

from helpers.stack import TIMEOUT

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6
RESPONDER, KEEP_CONN = 1, 1


def _record(rtype, content):
    return struct.pack("!BBHHBx", 1, rtype, 1, len(content), 0) + content


def _pair(name, value):
    out = b""
    for item in (name, value):
        n = len(item)
        out += bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)
    return out + name + value


def _message(method, path, query, body, headers, params, keep):
    """The records of one request: the parameters nginx's fastcgi_params
    would send, plus headers (as HTTP_*) and params (REQUEST_ID, ...)."""
    uri = path + ("?" + query if query else "")
    fields = {
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "nginx",
        "REQUEST_METHOD": method, "REQUEST_URI": uri, "DOCUMENT_URI": path,
        "SCRIPT_NAME": path, "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "http",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000",
        "SERVER_ADDR": "127.0.0.1", "SERVER_PORT": "80",
        "SERVER_NAME": "localhost", "DOCUMENT_ROOT": "/nonexistent",
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "CONTENT_TYPE": "application/json" if body else "",
    }
    for name, value in (headers or {}).items():
        fields["HTTP_" + name.upper().replace("-", "_")] = value
    fields.update(params or {})
    encoded = b"".join(_pair(k.encode(), v.encode()) for k, v in fields.items())

    flags = KEEP_CONN if keep else 0
    message = _record(BEGIN_REQUEST, struct.pack("!HB5x", RESPONDER, flags))
    message += _record(PARAMS, encoded) + _record(PARAMS, b"")
    if body:
        message += _record(STDIN, body)
    return message + _record(STDIN, b"")


def _answer(stdout):
    """(status, headers dict, body) from a response's STDOUT stream."""
    head, _, payload = stdout.partition(b"\r\n\r\n")
    if not _:
        head, _, payload = stdout.partition(b"\n\n")
    out_headers = {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        out_headers[name.strip().lower()] = value.strip()
    status = int(out_headers.get("status", "200").split()[0])
    return status, out_headers, payload


def _read_response(s, buf=b""):
    """Reads records from s until END_REQUEST; returns (stdout, rest of
    the buffer, ended).  ended is False when the peer closed first."""
    stdout = b""
    while True:
        while len(buf) >= 8:
            _, rtype, _, clen, plen = struct.unpack("!BBHHBx", buf[:8])
            if len(buf) < 8 + clen + plen:
                break
            content = buf[8:8 + clen]
            buf = buf[8 + clen + plen:]
            if rtype == STDOUT:
                stdout += content
            elif rtype == END_REQUEST:
                return stdout, buf, True
        chunk = s.recv(65536)
        if not chunk:
            return stdout, buf, False
        buf += chunk


def fcgi_request(sock_path, method, path, query="", body=b"", headers=None,
                 timeout=TIMEOUT, params=None):
    """A minimal FastCGI responder client (one request, no keep-alive), for
    talking to a private API instance without nginx.  Sends the parameters
    nginx's fastcgi_params would, plus params (REQUEST_ID, ...); returns
    (status, headers dict, body)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        s.sendall(_message(method, path, query, body, headers, params, False))
        stdout, _, _ = _read_response(s)
    return _answer(stdout)


class KeptConnection:
    """One FastCGI connection on which every request asks the server to
    keep it open (FCGI_KEEP_CONN), as nginx does with fastcgi_keep_conn.
    request() returns (status, headers, body), or None when the server
    closed the connection before answering; closed() tells, without
    blocking, whether the server has closed it since."""

    def __init__(self, sock_path, timeout=TIMEOUT):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(sock_path))
        self.buf = b""

    def request(self, method, path, query="", body=b"", headers=None,
                params=None):
        try:
            self.sock.sendall(_message(method, path, query, body, headers,
                                       params, True))
        except (BrokenPipeError, ConnectionResetError):
            return None
        stdout, self.buf, ended = _read_response(self.sock, self.buf)
        return _answer(stdout) if ended else None

    def closed(self):
        timeout = self.sock.gettimeout()
        self.sock.settimeout(0.0)       # with a timeout, recv would wait
        try:
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(timeout)

    def close(self):
        self.sock.close()
