"""
An SMTP sink for the monitor tests: aiosmtpd (Debian's python3-aiosmtpd)
on 127.0.0.1, keeping every message it accepts in memory.

    sink = SmtpSink()                  # a free port, started
    ... EMAIL_HOST=sink.host, EMAIL_PORT=sink.port ...
    got = sink.wait_for(lambda m: m.subject.startswith("DOWN:"), timeout=10)
    sink.stop(); ...; sink.start()     # down, then back on the same port

Each Received message has the envelope (mail_from, rcpt_tos), the raw
bytes as they came over DATA (CRLF line ends kept), the parsed message
(email.policy.default, so headers come back RFC 2047-decoded) and, for
convenience, subject, text and html.
"""

import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list
    raw: bytes
    at: float
    message: email.message.EmailMessage = field(repr=False, default=None)

    def __post_init__(self):
        self.message = email.message_from_bytes(self.raw,
                                                policy=email.policy.default)

    @property
    def subject(self):
        return str(self.message.get("Subject", ""))

    @property
    def to(self):
        return str(self.message.get("To", ""))

    def _part(self, ctype):
        part = self.message.get_body(preferencelist=(ctype.split("/")[1],))
        if part is None or part.get_content_type() != ctype:
            return None
        return part.get_content()

    @property
    def text(self):
        """The text/plain part, decoded ("" when there is none)."""
        return self._part("text/plain") or ""

    @property
    def html(self):
        """The text/html part, decoded ("" when there is none)."""
        return self._part("text/html") or ""

    @property
    def raw_headers(self):
        """The raw header block (bytes, up to the first empty line)."""
        return self.raw.split(b"\r\n\r\n", 1)[0]


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        self.sink._store(Received(mail_from=envelope.mail_from,
                                  rcpt_tos=list(envelope.rcpt_tos),
                                  raw=raw, at=time.time()))
        return "250 OK: queued in the test sink"


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class SmtpSink:
    """An in-memory SMTP server on host:port (port None: a free one, kept
    across stop() and start() so the monitor's EMAIL_PORT stays right)."""

    def __init__(self, host="127.0.0.1", port=None, start=True):
        self.host = host
        self.port = port or free_port(host)
        self._lock = threading.Lock()
        self._messages = []
        self._controller = None
        if start:
            self.start()

    @property
    def running(self):
        return self._controller is not None

    def start(self):
        """Starts listening (again) on the same port.  Retries briefly: the
        port may still be in TIME_WAIT, or taken for a moment."""
        if self._controller is not None:
            return
        deadline = time.monotonic() + 10
        while True:
            controller = Controller(_Handler(self), hostname=self.host,
                                    port=self.port, decode_data=False,
                                    ready_timeout=5)
            try:
                controller.start()
            except Exception:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)
                continue
            self._controller = controller
            return

    def stop(self):
        """Stops listening and drops open sessions: the port refuses
        connections until start()."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _store(self, received):
        with self._lock:
            self._messages.append(received)

    def messages(self, to=None, subject=None, predicate=None):
        """Messages received so far, optionally only those whose envelope
        has recipient to, whose subject starts with subject, or for which
        predicate(message) is true."""
        with self._lock:
            got = list(self._messages)
        if to is not None:
            want = to.lower()
            got = [m for m in got if want in (r.lower() for r in m.rcpt_tos)]
        if subject is not None:
            got = [m for m in got if m.subject.startswith(subject)]
        if predicate is not None:
            got = [m for m in got if predicate(m)]
        return got

    def wait_for(self, predicate=None, timeout=10, count=1, **filters):
        """Waits until at least count messages match (filters as for
        messages()); returns the matches, which may be fewer than count
        when timeout seconds pass first."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.messages(predicate=predicate, **filters)
            if len(got) >= count or time.monotonic() >= deadline:
                return got
            time.sleep(0.1)

    def only(self, predicate=None, timeout=10, **filters):
        """Waits for a message matching (as wait_for) and returns it,
        asserting that it came and that it is the only one."""
        got = self.wait_for(predicate, timeout, **filters)
        assert len(got) == 1, \
            f"{len(got)} messages match {filters}:\n{self.describe()}"
        return got[0]

    def describe(self):
        """One line per message, for assertion messages."""
        return "\n".join(f"  {m.rcpt_tos} {m.subject!r}"
                         for m in self.messages()) or "  (no messages)"
