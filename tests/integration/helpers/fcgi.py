"""A minimal FastCGI client, for talking to a private trackly-api
instance without nginx."""

import socket
import struct

from helpers.stack import TIMEOUT


def fcgi_request(sock_path, method, path, query="", body=b"", headers=None,
                 timeout=TIMEOUT, params=None):
    """A minimal FastCGI responder client (one request, no keep-alive), for
    talking to a private API instance without nginx.  Sends the parameters
    nginx's fastcgi_params would, plus params (REQUEST_ID, ...); returns
    (status, headers dict, body)."""
    extra_params = params or {}
    def record(rtype, content):
        return struct.pack("!BBHHBx", 1, rtype, 1, len(content), 0) + content

    def pair(name, value):
        out = b""
        for item in (name, value):
            n = len(item)
            out += bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)
        return out + name + value

    uri = path + ("?" + query if query else "")
    params = {
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
        params["HTTP_" + name.upper().replace("-", "_")] = value
    params.update(extra_params)
    encoded = b"".join(pair(k.encode(), v.encode()) for k, v in params.items())

    message = record(1, struct.pack("!HB5x", 1, 0))        # BEGIN, responder
    message += record(4, encoded) + record(4, b"")         # PARAMS
    if body:
        message += record(5, body)
    message += record(5, b"")                              # STDIN

    stdout = b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        s.sendall(message)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        pos = 0
        while pos + 8 <= len(buf):
            _, rtype, _, clen, plen = struct.unpack("!BBHHBx", buf[pos:pos + 8])
            content = buf[pos + 8:pos + 8 + clen]
            pos += 8 + clen + plen
            if rtype == 6:
                stdout += content
            elif rtype == 3:
                break
    head, _, payload = stdout.partition(b"\r\n\r\n")
    if not _:
        head, _, payload = stdout.partition(b"\n\n")
    out_headers = {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        out_headers[name.strip().lower()] = value.strip()
    status = int(out_headers.get("status", "200").split()[0])
    return status, out_headers, payload
