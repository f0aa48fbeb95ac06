"""The mailer when the mail server is away (issue 5, fault scenario 3):
an unusable server is the server's trouble, not each message's, so the
mailer holds the mail and probes the server instead of giving every row an
exponential backoff of its own, and the backlog goes out as soon as the
server answers again, each message exactly once.  A message the server
refuses keeps its own backoff and holds nothing else up, and a message the
server accepted is never sent again because the connection broke after
that.

Projects are inserted in SQL with 1 s intervals; every wait has a
deadline (no timing is asserted beyond "within a deadline")."""

import socket
import threading
import time

from aiosmtpd.controller import Controller

from helpers.db import outbox_rows
from helpers.projects import insert_project
from helpers.users import make_verified_user
from helpers.wait import eventually, wait_until
from helpers.smtp import SmtpSink, free_port

STEP = 15


def down_rows(db, ids):
    return [r for pid in ids for r in outbox_rows(db, project_id=pid,
                                                  kind="down")]


def test_backlog_goes_out_at_once_when_the_server_returns(
        db, monitor, smtp_server, target):
    user = make_verified_user()
    smtp_server.stop()                       # the port now refuses
    ids = [insert_project(db, user, target.set(f"/away{i}", "fail"),
                          name=f"away {i}") for i in range(5)]
    mon = monitor(users=[user])
    eventually(lambda: len(down_rows(db, ids)) == 5 and
               any(r["last_error"] for r in down_rows(db, ids)), STEP,
               lambda: f"down mails not queued and tried: "
                       f"{down_rows(db, ids)}")

    # While it is away: the mailer probes the server, it does not try
    # (and charge) every row, and it gives no row a backoff of its own.
    time.sleep(4)
    rows = down_rows(db, ids)
    assert all(r["sent_at"] is None for r in rows)
    assert sum(r["attempts"] for r in rows) <= 2, \
        f"rows tried one by one against a dead server: {rows}"
    late = db.all("SELECT id, next_attempt_at - now() FROM mail_outbox "
                  "WHERE project_id = ANY(%s) AND next_attempt_at > "
                  "now() + interval '31 seconds'", (ids,))
    assert late == [], f"rows pushed into a backoff of their own: {late}"
    assert "holding mail" in mon.log(), mon.log_tail()

    # Back on the same port: everything goes out, nothing touched by hand.
    smtp_server.start()
    returned = time.monotonic()
    got = smtp_server.wait_for(to=user.email, subject="DOWN: away", count=5,
                               timeout=STEP + 30)
    assert len(got) == 5, smtp_server.describe()
    print(f"backlog delivered {time.monotonic() - returned:.1f} s after "
          f"the server returned")
    eventually(lambda: all(r["sent_at"] for r in down_rows(db, ids)), 5,
               lambda: f"sent_at missing: {down_rows(db, ids)}")
    wait_until(lambda: len(smtp_server.messages(to=user.email)) > 5, 3)
    subjects = sorted(m.subject for m in smtp_server.messages(
        to=user.email, subject="DOWN:"))
    assert subjects == [f"DOWN: away {i}" for i in range(5)], subjects
    assert "mail server back" in mon.log(), mon.log_tail()


def test_rows_in_a_backoff_are_made_due_when_the_server_returns(
        db, monitor, smtp_server, target):
    """Rows an earlier outage pushed into a backoff (an older monitor, a
    refusal) go out as soon as a message goes through again, not when their
    backoff ends; rows set aside for longer (given up) stay put."""
    user = make_verified_user()
    smtp_server.stop()
    pid = insert_project(db, user, target.set("/pull", "fail"),
                         name="pulled forward")
    mon = monitor(users=[user])
    [row] = eventually(lambda: [r for r in down_rows(db, [pid])
                                if r["attempts"]], STEP,
                       lambda: f"no attempt: {down_rows(db, [pid])}")
    # As the old per-row backoff left it after a few attempts.
    db.run("UPDATE mail_outbox SET next_attempt_at = now() + "
           "interval '40 minutes', attempts = 4 WHERE id = %s", (row["id"],))
    given_up = db.value(
        "INSERT INTO mail_outbox (user_id, project_id, kind, recipient, "
        "payload, attempts, next_attempt_at, last_error) "
        "SELECT user_id, project_id, kind, recipient, payload, 9, "
        "'infinity', 'given up' FROM mail_outbox WHERE id = %s "
        "RETURNING id", (row["id"],))
    # A mail that triggers the first delivery once the server is back.
    other = insert_project(db, user, target.set("/pull2", "fail"),
                           name="trigger")
    eventually(lambda: down_rows(db, [other]), STEP, "no second down mail")
    smtp_server.start()
    got = smtp_server.wait_for(to=user.email, subject="DOWN: pulled forward",
                               timeout=STEP + 30)
    assert len(got) == 1, smtp_server.describe()
    assert db.value("SELECT next_attempt_at = 'infinity' AND sent_at IS NULL"
                    " FROM mail_outbox WHERE id = %s", (given_up,))
    assert "mail server back" in mon.log(), mon.log_tail()


class _Refusing:
    """An aiosmtpd handler that refuses one recipient (550) and keeps the
    mail of every other."""

    def __init__(self, refused):
        self.refused = refused.lower()
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if address.lower() == self.refused:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(list(envelope.rcpt_tos))
        return "250 OK"


def test_a_refused_message_backs_off_alone(db, monitor, target):
    refused, fine = make_verified_user(), make_verified_user()
    handler = _Refusing(refused.email)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sink = SmtpSink(port=port, start=False)      # host and port only
        bad = insert_project(db, refused, target.set("/refused", "fail"))
        mon = monitor(users=[refused, fine], sink=sink)
        [row] = eventually(lambda: [r for r in down_rows(db, [bad])
                                    if r["last_error"]], STEP,
                           lambda: f"never tried: {down_rows(db, [bad])}")
        assert "550" in row["last_error"], row
        wait = db.value("SELECT extract(epoch FROM next_attempt_at - now())"
                        " FROM mail_outbox WHERE id = %s", (row["id"],))
        assert wait >= 15, f"a refused message retried in {wait:.1f} s"
        # The server is fine: the next mail goes straight out.
        good = insert_project(db, fine, target.set("/fine", "fail"))
        eventually(lambda: [r for r in down_rows(db, [good])
                            if r["sent_at"]], STEP,
                   lambda: f"held up behind a refused message: "
                           f"{down_rows(db, [good])}")
        assert [fine.email.lower()] in [[a.lower() for a in m]
                                        for m in handler.messages]
        assert "holding mail" not in mon.log(), mon.log_tail()
    finally:
        controller.stop()


class _DropAfterAccept:
    """A minimal SMTP server that accepts each message (250 after DATA)
    and then hangs up on QUIT without answering (after hold_quit seconds,
    or when closed): the message was taken."""

    def __init__(self, hold_quit=0):
        self.hold_quit = hold_quit
        self._closing = threading.Event()
        self.host = "127.0.0.1"
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((self.host, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                try:
                    self._session(conn)
                except OSError:
                    pass

    def _session(self, conn):
        f = conn.makefile("rb")
        conn.sendall(b"220 drop.test ESMTP\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250 drop.test\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go on\r\n")
                body = []
                while True:
                    data = f.readline()
                    if not data or data == b".\r\n":
                        break
                    body.append(data)
                self.accepted.append(b"".join(body))
                conn.sendall(b"250 2.0.0 taken\r\n")
            elif verb == b"QUIT":
                self._closing.wait(self.hold_quit)
                return                       # hang up, no 221
            else:
                conn.sendall(b"250 OK\r\n")

    def close(self):
        self._stop = True
        self._closing.set()
        self.sock.close()
        self._thread.join(timeout=2)


def test_a_message_taken_before_the_connection_broke_is_not_sent_again(
        db, monitor, target):
    server = _DropAfterAccept()
    try:
        user = make_verified_user()
        pid = insert_project(db, user, target.set("/dropped", "fail"),
                             name="dropped after accept")
        monitor(users=[user], sink=server)
        [row] = eventually(lambda: [r for r in down_rows(db, [pid])
                                    if r["sent_at"] or r["last_error"]],
                           STEP, lambda: f"never tried: "
                                         f"{down_rows(db, [pid])}")
        assert row["sent_at"] is not None, \
            f"a message the server took was recorded as failed: {row}"
        time.sleep(3)                        # a few more mailer passes
        downs = [m for m in server.accepted
                 if b"Subject: DOWN: dropped after accept" in m]
        assert len(downs) == 1, \
            f"the server got the message {len(downs)} times"
    finally:
        server.close()


def test_a_message_is_marked_sent_as_soon_as_the_server_takes_it(
        db, monitor, target):
    """The row is marked sent when the server says 250 to the message, not
    after QUIT: a monitor killed while the server has not yet answered
    QUIT (or is slow to) must not leave a row that goes out again."""
    server = _DropAfterAccept(hold_quit=30)
    try:
        user = make_verified_user()
        db.run("DELETE FROM mail_outbox WHERE user_id = %s", (user.id,))
        pid = insert_project(db, user, target.set("/held", "fail"),
                             name="held quit")
        first = monitor(users=[user], sink=server, MONITOR_ID="held")
        eventually(lambda: server.accepted, STEP,
                   "the server never got the message")
        # The server holds its answer to QUIT: the row is sent already.
        [row] = eventually(lambda: [r for r in down_rows(db, [pid])
                                    if r["sent_at"]], 5,
                           lambda: f"not marked sent while QUIT waits: "
                                   f"{down_rows(db, [pid])}")
        first.kill()
        second = monitor(users=[user], sink=server, MONITOR_ID="held")
        assert second.wait_ready(10), second.log_tail()
        time.sleep(3)
        assert len(server.accepted) == 1, \
            f"the server got the message {len(server.accepted)} times"
        assert down_rows(db, [pid])[0]["sent_at"] == row["sent_at"]
    finally:
        server.close()
