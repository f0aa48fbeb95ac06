"""
HTTP target servers for the monitor tests: small threaded web servers on a
loopback address whose answer per path the test decides, and that count
what reaches them.

    t = TargetServer()                 # 127.0.0.1, a random port
    t.set("/site", "ok")               # 200, body contains t.keyword
    link = t.url("/site")
    ...
    t.set("/site", "fail")             # now 503
    t.requests("/site")                # how many requests that path got
    t.connections                      # TCP connections accepted, any path

Modes (TargetServer.set(path, mode, **options)):

    ok          200, an HTML body that contains the keyword
    nokeyword   200, a body without the keyword
    fail        503 (status=N for another code)
    status      status=N (say 404), a body with the keyword
    slow        waits delay seconds (default 3), then answers like ok
    redirect    302 with Location: location (absolute or a path)
    big         200 with a body of size bytes whose keyword starts at
                offset keyword_at (None: no keyword)

`fail_next(path, n)` makes the next n requests of path answer 503 whatever
its mode, for a blip of an exact length.  A path nobody set answers 404.

Counting happens at two levels, because the SSRF tests must show that no
connection reached a target at all, not merely that no request was parsed:
`connections` counts accept()s (in get_request, before a byte is read) and
`requests(path)` counts parsed requests per path.

`closed_port()` gives a port on which nothing listens.

`Tarpit()` is a listener that accepts every connection and never sends a
byte, so each check of it lasts its whole timeout (the fairness tests).
"""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

DEFAULT_KEYWORD = "trackly-target-ok"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, handler, family, target):
        self.address_family = family
        self.target = target
        super().__init__(address, handler)

    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            # Only ::1 itself; an IPv4-mapped connection must not land here.
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()

    def get_request(self):
        conn, addr = super().get_request()
        self.target._count_connection(addr)
        return conn, addr

    def handle_error(self, request, client_address):
        # A prober that gives up (timeout, 64 KiB read) closes the socket
        # under a handler that is still writing: that is expected here.
        pass


class _Handler(BaseHTTPRequestHandler):
    server_version = "trackly-target/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):   # keep the test output clean
        pass

    def do_GET(self):
        self.server.target._serve(self)

    def do_HEAD(self):
        self.server.target._serve(self, head=True)

    def do_POST(self):
        self.server.target._serve(self)


class TargetServer:
    """A web server on host (default 127.0.0.1; "::1" for IPv6) and port
    (0: any free one) with per-path behaviour; see the module docstring."""

    def __init__(self, host="127.0.0.1", port=0, keyword=DEFAULT_KEYWORD):
        self.host = host
        self.keyword = keyword
        self._lock = threading.Lock()
        self._paths = {}            # path -> (mode, options)
        self._fail_next = {}        # path -> remaining forced failures
        self._requests = {}         # path -> count
        self._connections = 0
        self._peers = []
        self.request_log = []       # (time, method, path, headers dict)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._server = _Server((host, port), _Handler, family, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"target-{host}-{self.port}", daemon=True)
        self._thread.start()

    # --- what the test sets -------------------------------------------------

    def set(self, path, mode, **options):
        """Sets (or changes, while running) how path answers."""
        if mode not in ("ok", "nokeyword", "fail", "status", "slow",
                        "redirect", "big"):
            raise ValueError(f"unknown target mode {mode!r}")
        with self._lock:
            self._paths[path] = (mode, options)
        return self.url(path)

    def fail_next(self, path, n):
        """The next n requests of path get 503, then its mode applies again."""
        with self._lock:
            self._fail_next[path] = n

    def chain(self, prefix, hops, final):
        """A chain of hops redirects: prefix/hops -> prefix/hops-1 -> ...
        -> prefix/1 -> final (a path).  Returns the URL of the first hop."""
        for i in range(hops, 0, -1):
            nxt = f"{prefix}/{i - 1}" if i > 1 else final
            self.set(f"{prefix}/{i}", "redirect", location=nxt)
        return self.url(f"{prefix}/{hops}")

    # --- what the test reads ------------------------------------------------

    def url(self, path="/"):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def requests(self, path=None):
        """Requests parsed for path (all paths when None)."""
        with self._lock:
            if path is None:
                return sum(self._requests.values())
            return self._requests.get(path, 0)

    @property
    def connections(self):
        """TCP connections accepted so far, whatever came over them."""
        with self._lock:
            return self._connections

    def wait_requests(self, path, count, timeout):
        """Waits until path has had at least count requests; returns the
        count reached."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.requests(path)
            if got >= count or time.monotonic() >= deadline:
                return got
            time.sleep(0.05)

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- the server side ----------------------------------------------------

    def _count_connection(self, addr):
        with self._lock:
            self._connections += 1
            self._peers.append(addr)

    def _serve(self, h, head=False):
        path = urlsplit(h.path).path
        with self._lock:
            self._requests[path] = self._requests.get(path, 0) + 1
            self.request_log.append((time.time(), h.command, path,
                                     dict(h.headers)))
            mode, options = self._paths.get(path, ("status", {"status": 404}))
            forced = self._fail_next.get(path, 0)
            if forced:
                self._fail_next[path] = forced - 1
                mode, options = "fail", {}

        page = (f"<html><body><h1>{self.keyword}</h1>"
                f"<p>target {path}</p></body></html>\n").encode()
        status, headers, body = 200, {"Content-Type": "text/html"}, page
        if mode == "nokeyword":
            body = b"<html><body>nothing to see</body></html>\n"
        elif mode == "fail":
            status = options.get("status", 503)
            body = b"unavailable\n"
        elif mode == "status":
            status = options["status"]
        elif mode == "slow":
            time.sleep(options.get("delay", 3))
        elif mode == "redirect":
            status = options.get("status", 302)
            headers["Location"] = options["location"]
            body = b"moved\n"
        elif mode == "big":
            size, at = options["size"], options.get("keyword_at")
            filler = bytearray(b"x" * size)
            if at is not None:
                kw = self.keyword.encode()
                filler[at:at + len(kw)] = kw
            body = bytes(filler[:size])

        try:
            h.send_response(status)
            for name, value in headers.items():
                h.send_header(name, value)
            h.send_header("Content-Length", str(len(body)))
            h.send_header("Connection", "close")
            h.end_headers()
            if not head:
                h.wfile.write(body)
            h.wfile.flush()
        except OSError:
            pass                     # the prober hung up first
        h.close_connection = True


class Tarpit:
    """A loopback TCP listener that accepts connections and never answers:
    every check of it holds a monitor slot for its whole timeout.  It keeps
    the sockets open until close(), and counts them (`connections`)."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self._sock.listen(1024)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._held = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self, path="/"):
        return f"http://{self.host}:{self.port}{path}"

    @property
    def connections(self):
        return len(self._held)

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self._held.append(conn)

    def close(self):
        self._stop.set()
        self._thread.join()
        self._sock.close()
        for conn in self._held:
            conn.close()


def closed_port(host="127.0.0.1"):
    """A TCP port on host where nothing listens (bound, read, closed)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
