"""The monitor's guard against private targets (DESIGN §4): with
TRACKLY_ALLOW_PRIVATE_TARGETS=0, links that lead to loopback, private,
link-local (cloud metadata) addresses, in whatever spelling, end DOWN with
`blocked address` and no connection ever reaches the address; so does a
redirect from an allowed host into a private one.  TRACKLY_ALLOWED_NETWORKS
lets through exactly the networks it names.

A link whose host is a name gets one reason whether the name does not
resolve or resolves to a refused address, `unknown or blocked host`
(issue 12 item 12): otherwise a tenant could ask the operator's resolver
which internal names exist (split-horizon DNS) and learn they are private.
A link to an address literal says `blocked address`: it reveals nothing
the tenant did not type.

Target servers listen on specific loopback addresses and count accepted
connections, so "blocked" means "never connected", not "connected and then
gave up"."""

from helpers.db import check_rows, dict_rows, project_row
from helpers.projects import insert_project
from helpers.users import make_verified_user
from helpers.wait import eventually

STEP = 15
GUARD_ON = {"TRACKLY_ALLOW_PRIVATE_TARGETS": "0"}
BY_NAME = "unknown or blocked host"


def checked(db, ids):
    rows = dict_rows(db, "SELECT id, status, last_error, last_checked_at "
                         "FROM projects WHERE id = ANY(%s)", (ids,))
    return rows if all(r["last_checked_at"] for r in rows) else None


def describe(db, ids):
    return dict_rows(db, "SELECT id, link, status, last_error, "
                         "last_checked_at FROM projects WHERE id = ANY(%s)",
                     (ids,))


def test_private_addresses_are_blocked_before_connecting(db, monitor,
                                                         make_target):
    v4 = make_target("127.0.0.1")
    v6 = make_target("::1")
    p, p6 = v4.port, v6.port
    for server in (v4, v6):
        server.set("/", "ok")
    must_block = {
        f"http://127.0.0.1:{p}/": v4,
        "http://10.0.0.1/": None,
        "http://169.254.169.254/latest/meta-data/": None,
        f"http://[::1]:{p6}/": v6,
        f"http://[::ffff:127.0.0.1]:{p}/": v4,
        f"http://0.0.0.0:{p}/": v4,             # "this host": reaches loopback
        f"http://127.1:{p}/": v4,               # short IPv4 forms
        f"http://2130706433:{p}/": v4,          # 127.0.0.1 as one number
        f"http://0x7f000001:{p}/": v4,
        "http://100.64.0.1/": None,             # carrier-grade NAT
        "http://192.168.0.1/": None,
        "http://172.16.0.1/": None,
        "http://[fe80::1]/": None,
        "http://[fd00::1]/": None,
    }
    user = make_verified_user()
    ids = {insert_project(db, user, link, interval=60): link
           for link in must_block}
    monitor(users=[user], **GUARD_ON)

    rows = eventually(lambda: checked(db, list(ids)), STEP,
                      lambda: f"not every project was checked: "
                              f"{describe(db, list(ids))}")
    problems = [(ids[r["id"]], r["status"], r["last_error"]) for r in rows
                if r["status"] != "DOWN" or r["last_error"] != "blocked address"]
    assert problems == [], f"not blocked: {problems}"
    for pid in ids:
        [check] = check_rows(db, pid)
        assert check["ok"] is False and check["error"] == "blocked address"
        assert check["status_code"] is None
    assert v4.connections == 0, f"{v4.connections} connections to 127.0.0.1"
    assert v6.connections == 0, f"{v6.connections} connections to ::1"


def test_redirect_into_a_private_address_is_blocked(db, monitor, make_target):
    inside = make_target("127.0.0.1")
    inside.set("/secret", "ok")
    allowed = make_target("127.0.0.2")
    allowed.set("/fine", "ok")
    allowed.set("/hop", "redirect", location=inside.url("/secret"))
    allowed.set("/hop-by-name", "redirect",
                location=f"http://localhost:{inside.port}/secret")
    user = make_verified_user()
    fine = insert_project(db, user, allowed.url("/fine"), interval=60,
                          keyword=allowed.keyword)
    hop = insert_project(db, user, allowed.url("/hop"), interval=60)
    hop_by_name = insert_project(db, user, allowed.url("/hop-by-name"),
                                 interval=60)
    direct = insert_project(db, user, inside.url("/secret"), interval=60)
    ids = [fine, hop, hop_by_name, direct]
    monitor(users=[user], TRACKLY_ALLOWED_NETWORKS="127.0.0.2/32", **GUARD_ON)

    eventually(lambda: checked(db, ids), STEP,
               lambda: f"not every project was checked: {describe(db, ids)}")
    # The allowed network is reachable ...
    assert project_row(db, fine)["status"] == "UP", describe(db, ids)
    # ... but nothing gets from it into 127.0.0.1, nor straight there.
    for pid, reason in ((hop, "blocked address"), (hop_by_name, BY_NAME),
                        (direct, "blocked address")):
        row = project_row(db, pid)
        assert (row["status"], row["last_error"]) == ("DOWN", reason), row
    assert allowed.requests("/hop") == 1
    assert allowed.requests("/hop-by-name") == 1
    assert inside.connections == 0, \
        f"{inside.connections} connections reached 127.0.0.1"



def test_a_name_that_is_blocked_reads_as_one_that_does_not_resolve(
        db, monitor, make_target):
    """Blocked after resolving, or not resolving at all: the same reason,
    in the check and the project, so the answer tells a tenant nothing
    about the operator's DNS.  The target is never reached."""
    inside = make_target("127.0.0.1")
    inside.set("/", "ok")
    links = {
        f"http://localhost:{inside.port}/": BY_NAME,     # resolves, refused
        "http://no-such-host.invalid/": BY_NAME,          # does not resolve
        f"http://127.0.0.1:{inside.port}/": "blocked address",   # a literal
        f"http://[::ffff:127.0.0.1]:{inside.port}/": "blocked address",
    }
    user = make_verified_user()
    ids = {insert_project(db, user, link, interval=60): link for link in links}
    monitor(users=[user], **GUARD_ON)
    rows = eventually(lambda: checked(db, list(ids)), STEP,
                      lambda: f"not every project was checked: "
                              f"{describe(db, list(ids))}")
    got = {ids[r["id"]]: (r["status"], r["last_error"]) for r in rows}
    assert got == {link: ("DOWN", reason) for link, reason in links.items()}
    for pid, link in ids.items():
        [check] = check_rows(db, pid)
        assert check["error"] == links[link]
    assert inside.connections == 0


def test_without_the_guard_a_name_that_does_not_resolve_says_so(db, monitor):
    """Single-tenant installs (nothing is refused, nothing to hide) keep
    the plainer reason."""
    user = make_verified_user()
    pid = insert_project(db, user, "http://no-such-host.invalid/",
                         interval=60)
    monitor(users=[user], TRACKLY_ALLOW_PRIVATE_TARGETS="1")
    eventually(lambda: check_rows(db, pid), STEP, "never checked")
    assert check_rows(db, pid)[0]["error"] == "could not resolve host"
