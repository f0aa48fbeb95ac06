"""
Helpers shared by the web client's browser tests (test_web_*.py): signing a
browser in without its form, seeding many projects in SQL, waiting for a
mail and reading its links.

Most tests sign in by handing the browser the session cookie of an account
made through the API (make_user, each from its own loopback address), not
through the sign-in form: nginx limits /user/login and /user/register per
client address, and every browser test's requests come from 127.0.0.1.
The form itself is tested where it is the point (test_web_account.py).
"""

import re
import time

from browser import base_url
from helpers.jwt import claims_for, jwt_encode
from helpers.wait import eventually

COOKIE = "trackly_session"
# The client's own note that this browser was signed in (web/src/session.js).
MARKER = "trackly_signed_in"
LINK = re.compile(r"https?://[^\s<>\"')]+")


def session_cookie(token):
    """The cookie /user/login sets, for the stack's URL."""
    return {"name": COOKIE, "value": token, "url": base_url(),
            "httpOnly": True, "sameSite": "Strict"}


def sign_in(page, user, token=None):
    """Gives page's context user's session (or the given token), and the
    client's note that this browser is signed in, as the sign-in page
    would leave them."""
    page.context.add_cookies([
        session_cookie(token or user.token),
        {"name": MARKER, "value": "1", "url": base_url(),
         "sameSite": "Strict"}])


def expired_token(user, version=0):
    """A token of user's, signed with the stack's key, that expired a
    minute ago."""
    now = int(time.time())
    return jwt_encode(claims_for(user.id, version, iat=now - 7200,
                                 exp=now - 60))


# Names and links that read like someone's real sites, for the pages whose
# screenshots go into the README (seed_projects(..., names=SITES)).
SITES = [
    ("Blog", "https://blog.example.com/"),
    ("Shop", "https://shop.example.com/"),
    ("Shop API", "https://api.shop.example.com/health"),
    ("Docs", "https://docs.example.com/"),
    ("Status page", "https://status.example.com/"),
    ("Marketing site", "https://www.example.com/"),
    ("Payments webhook", "https://pay.example.com/hooks/ping"),
    ("Search", "https://search.example.com/healthz"),
    ("CDN origin", "https://origin.example.net/ok.txt"),
    ("Mail relay web UI", "https://mail.example.org/"),
    ("Staging", "https://staging.example.com/"),
    ("Wiki", "https://wiki.example.org/"),
    ("Image resizer", "https://img.example.net/health"),
    ("Auth service", "https://auth.example.com/.well-known/openid-configuration"),
    ("Grafana", "https://grafana.example.org/api/health"),
    ("Forum", "https://forum.example.org/"),
    ("Newsletter signup", "https://news.example.com/subscribe"),
    ("Careers page", "https://jobs.example.com/"),
    ("Mobile API", "https://m-api.example.com/v2/ping"),
    ("Partner portal", "https://partners.example.com/"),
    ("Analytics", "https://stats.example.net/"),
    ("Support desk", "https://help.example.com/"),
    ("Backups dashboard", "https://backup.example.org/"),
    ("Landing page", "https://launch.example.com/"),
]


def seed_projects(db, user, count, *, checks=30, prefix="seeded",
                  names=None):
    """count projects for user straight into SQL (the API's per-user cap
    does not apply), a spread of statuses and latencies, each with `checks`
    one-minute checks, their hourly totals, and an open incident for each
    DOWN one. Nothing is due for a day, so no monitor touches them. Names
    are "<prefix> NNNN" (zero-padded, so they sort as numbers do), or the
    (name, link) pairs of names; every 7th is DOWN, every 11th paused,
    every 13th still PENDING. Returns the ids in order."""
    ids = [row[0] for row in db.all(
        """
        INSERT INTO projects (user_id, name, link, interval_seconds,
            timeout_ms, status, paused, last_status_code, last_latency_ms,
            last_checked_at, last_error, failing_since, status_changed_at,
            next_check_at)
        SELECT %(uid)s, %(prefix)s || ' ' || lpad(g::text, 4, '0'),
               'https://' || CASE WHEN mod(g, 2) = 0 THEN 'shop' ELSE 'blog' END
                   || '-' || g || '.example.com/',
               60, 10000,
               CASE WHEN mod(g, 13) = 0 THEN 'PENDING'
                    WHEN mod(g, 7) = 0 THEN 'DOWN' ELSE 'UP' END,
               mod(g, 11) = 0,
               CASE WHEN mod(g, 13) = 0 THEN NULL
                    WHEN mod(g, 7) = 0 THEN 503 ELSE 200 END,
               CASE WHEN mod(g, 13) = 0 THEN NULL ELSE 20 + mod(g * 37, 900) END,
               CASE WHEN mod(g, 13) = 0 THEN NULL
                    ELSE now() - interval '30 seconds' END,
               CASE WHEN mod(g, 7) = 0 AND mod(g, 13) <> 0 THEN 'status 503' END,
               CASE WHEN mod(g, 7) = 0 AND mod(g, 13) <> 0
                    THEN now() - interval '40 minutes' END,
               now() - interval '5 hours', now() + interval '1 day'
        FROM generate_series(1, %(n)s) g
        ORDER BY g
        RETURNING id
        """, {"uid": user.id, "n": count, "prefix": prefix})]
    for pid, (name, link) in zip(ids, names or []):
        db.run("UPDATE projects SET name = %s, link = %s WHERE id = %s",
               (name, link, pid))
    if checks:
        db.run(
            """
            INSERT INTO checks (project_id, scheduled_at, checked_at, ok,
                                status_code, latency_ms, error)
            SELECT p.id, now() - k * interval '1 minute',
                   now() - k * interval '1 minute',
                   p.status <> 'DOWN' OR k > 20,
                   CASE WHEN p.status <> 'DOWN' OR k > 20 THEN 200 ELSE 503 END,
                   20 + mod(p.id * k, 400),
                   CASE WHEN p.status <> 'DOWN' OR k > 20 THEN NULL
                        ELSE 'status 503' END
            FROM projects p, generate_series(1, %(checks)s) k
            WHERE p.user_id = %(uid)s AND p.status <> 'PENDING'
            """, {"uid": user.id, "checks": checks})
        db.run(
            """
            INSERT INTO check_hours (project_id, hour, checks, up,
                                     latency_sum, latency_max)
            SELECT project_id, date_trunc('hour', checked_at), count(*),
                   count(*) FILTER (WHERE ok), sum(latency_ms),
                   max(latency_ms)
            FROM checks
            WHERE project_id IN (SELECT id FROM projects
                                 WHERE user_id = %(uid)s)
            GROUP BY 1, 2
            """, {"uid": user.id})
    db.run(
        """
        INSERT INTO incidents (project_id, started_at, reason)
        SELECT id, failing_since, 'status 503' FROM projects
        WHERE user_id = %(uid)s AND status = 'DOWN' AND NOT paused
        """, {"uid": user.id})
    return ids


def wait_mail(sink, to, subject, timeout=30):
    """The first message to `to` whose subject starts with subject,
    waiting up to timeout seconds for the monitor's mailer."""
    found = eventually(lambda: sink.messages(to=to, subject=subject),
                       timeout, lambda: f"no mail to {to} with subject "
                       f"{subject!r}; got {[m.subject for m in sink.messages()]}")
    return found[0]


def links(message):
    """Every http(s) URL in a message's plain-text part."""
    return LINK.findall(message.text)


def link_to(message, path_prefix):
    """The one URL of the message whose path starts with path_prefix,
    made relative to the stack (the browser's base URL)."""
    base = base_url()
    found = [u for u in links(message)
             if u.startswith(base + path_prefix)]
    assert found, f"no link to {path_prefix} in {links(message)}"
    return found[0][len(base):]
