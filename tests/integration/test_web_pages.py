"""
The web client's lists and its behaviour as an application, in a real
browser (issue 11): the projects list with 1,000 projects seeded in SQL
(search, status filter, sort, all in the URL), the dashboard and the status
page over seeded data, deep links and back/forward, the original client's
routes, pages that do not exist, and what people see when the API or its
database is away: a clear message, never a blank page.
"""

import re

from browser import assert_accessible, assert_clean, shoot
from helpers.users import make_verified_user
from helpers.wait import wait_until
from webclient import SITES, seed_projects, sign_in

DATABASE_DOWN = {"status": 503, "content_type": "application/json",
                 "body": '{"error":"database unavailable"}'}


def rows_shown(page):
    return page.evaluate(
        "() => [...document.querySelectorAll('tbody tr')]"
        ".filter((r) => !r.hidden).map((r) => r.querySelector('.row-name')"
        ".textContent)")


def test_a_thousand_projects_search_filter_and_sort(page, db):
    user = make_verified_user()
    seed_projects(db, user, 1000)
    sign_in(page, user)
    page.goto("/projects")
    page.locator(".list-count").wait_text("1,000 projects", timeout=20)
    # The first fifty rows are in the page; more come as the end of the
    # table comes near, or with the button.
    assert page.locator("tbody tr").count() == 50
    more = page.get_by_role("button", name=re.compile(r"^Show 50 more"))
    assert "950 not shown" in more.inner_text()
    shown = rows_shown(page)
    assert shown[:3] == ["seeded 0001", "seeded 0002", "seeded 0003"]
    # (Bringing the button into view for the click may already add rows.)
    more.click()
    assert page.locator("tbody tr").count() >= 100
    focused = page.focused()
    assert focused["tag"] == "a" and focused["text"].startswith("seeded "), \
        "the focus moves to the first new row"
    assert int(focused["text"].split()[1]) > 50
    # Scrolling to the end, again and again, brings the rest.
    rows = page.locator("tbody tr").count()
    for _ in range(40):
        page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
        wait_until(lambda: page.locator("tbody tr").count() > rows, 5)
        rows = page.locator("tbody tr").count()
        if rows == 1000:
            break
    assert rows == 1000
    assert not page.get_by_role("button",
                                name=re.compile(r"^Show")).is_visible()
    # Every row has its strip of checks; a bar's tooltip is its check.
    first = page.locator("tbody tr").first
    assert first.locator(".bar.up").count() + \
        first.locator(".bar.down").count() == 30
    bar = first.locator(".bar").last
    bar.hover()
    title = bar.get_attribute("title")
    assert re.search(r"(up|down) · HTTP \d{3} · \d+ ms", title), title
    # (Screenshots of a list are in the next test: a full-page picture of
    # a thousand rows is 60,000 pixels tall.)
    assert_accessible(page)

    # Search by name or link; the URL keeps it.
    page.get_by_label("Search by name or link").fill("seeded 012")
    page.locator(".list-count").wait_text("Showing 10 of 1,000 projects")
    shoot(page, "projects-search")
    assert rows_shown(page)[0] == "seeded 0120"
    assert page.path == "/projects?q=seeded+012"
    page.get_by_label("Search by name or link").fill("shop-998.")
    page.locator(".list-count").wait_text("Showing 1 of 1,000 projects")
    assert rows_shown(page) == ["seeded 0998"]

    # Filter by status: every 7th is down unless it is one of the paused
    # (every 11th) or never-checked (every 13th) ones: 120 of them.
    page.get_by_label("Search by name or link").fill("")
    page.get_by_label("Status").select_option("down")
    page.locator(".list-count").wait_text("Showing 120 of 1,000 projects")
    assert all(int(n.split()[1]) % 7 == 0 for n in rows_shown(page))
    assert page.path == "/projects?status=down"

    # Sort: status puts DOWN first, then PENDING, UP, PAUSED.
    page.get_by_label("Status").select_option("")
    page.get_by_label("Sort by").select_option("status")
    statuses = page.evaluate(
        "() => [...document.querySelectorAll('tbody tr')]"
        ".map((r) => r.dataset.status)")
    order = ["down", "pending", "up", "paused"]
    assert statuses == sorted(statuses, key=order.index)
    page.get_by_label("Sort by").select_option("uptime")
    page.locator("tbody tr").first.locator(".pill").wait_text("DOWN")

    # A deep link restores the filters; back and forward move between them.
    page.goto("/projects?status=paused&sort=name")
    page.locator(".list-count").wait_text("Showing 90 of 1,000 projects")
    assert page.get_by_label("Status").input_value() == "paused"
    page.get_by_role("link", name="seeded 0011").click()
    page.locator("h1").wait_text("seeded 0011")
    page.go_back()
    page.locator(".list-count").wait_text("Showing 90 of 1,000 projects")
    page.go_forward()
    page.locator("h1").wait_text("seeded 0011")


def test_dashboard_and_status_over_seeded_projects(page, db):
    user = make_verified_user()
    seed_projects(db, user, 24, names=SITES)
    sign_in(page, user)
    page.goto("/dashboard")
    page.locator("[data-count=down]").wait_text("3")
    # 24 projects: the 7th, 14th and 21st down, the 11th and 22nd paused,
    # the 13th pending.
    assert page.locator("[data-count=up]").inner_text() == "18"
    assert page.locator("[data-count=pending]").inner_text() == "1"
    assert page.locator("[data-count=paused]").inner_text() == "2"
    down = page.locator(".down-list").inner_text()
    assert all(SITES[n - 1][0] in down for n in (7, 14, 21))
    assert "status 503" in down and "Down since" in down
    page.locator("section[aria-labelledby=h-incidents]").wait_text(
        SITES[6][0])
    shoot(page, "dashboard")
    shoot(page, "dashboard", color_scheme="dark")
    assert_accessible(page)

    page.locator("#nav").get_by_role("link", name="Projects").click()
    page.locator(".list-count").wait_text("24 projects")
    # Natural order by name: "Analytics" first, "Wiki" last.
    assert rows_shown(page)[0] == "Analytics"
    shoot(page, "projects")
    shoot(page, "projects", color_scheme="dark")
    assert_accessible(page)

    page.locator("#nav").get_by_role("link", name="Status").click()
    page.locator("h1").wait_text("Status")
    table = page.locator("table")
    table.wait_text("Landing page")
    assert table.locator("tbody tr").count() == 24
    assert "Last updated" in table.locator("thead").inner_text()
    shoot(page, "status")
    assert_accessible(page)

    # A project of its own, with its chart over a day of hourly history.
    shop = db.value("SELECT id FROM projects WHERE user_id = %s AND "
                    "name = 'Shop'", (user.id,))
    # A day of checks every 5 minutes, busier (slower) in the afternoon,
    # down for 25 minutes six hours ago.
    db.run("""
        INSERT INTO checks (project_id, scheduled_at, checked_at, ok,
                            status_code, latency_ms, error)
        SELECT %(id)s, t, t, NOT down, CASE WHEN down THEN 502 ELSE 200 END,
               (120 + 60 * sin(extract(epoch FROM t) / 9000)
                    + mod(extract(epoch FROM t)::bigint / 300, 7) * 9)::int,
               CASE WHEN down THEN 'status 502' END
        FROM (SELECT t, t BETWEEN now() - interval '6 hours 25 minutes'
                              AND now() - interval '6 hours' AS down
              FROM generate_series(now() - interval '24 hours',
                                   now() - interval '31 minutes',
                                   interval '5 minutes') t) s
        """, {"id": shop})
    db.run("DELETE FROM check_hours WHERE project_id = %s", (shop,))
    db.run("""
        INSERT INTO check_hours (project_id, hour, checks, up, latency_sum,
                                 latency_max)
        SELECT project_id, date_trunc('hour', checked_at), count(*),
               count(*) FILTER (WHERE ok), sum(latency_ms), max(latency_ms)
        FROM checks WHERE project_id = %s GROUP BY 1, 2
        """, (shop,))
    db.run("INSERT INTO incidents (project_id, started_at, resolved_at, "
           "reason) VALUES (%s, now() - interval '6 hours 25 minutes', "
           "now() - interval '6 hours', 'status 502')", (shop,))
    page.goto(f"/projects/{shop}")
    page.locator(".chart svg").wait_for()
    page.locator("section[aria-labelledby=h-incidents]").wait_text(
        "status 502")
    shoot(page, "project-history")
    assert_accessible(page)


def test_deep_links_back_forward_and_the_original_routes(page, db):
    user = make_verified_user()
    ids = seed_projects(db, user, 3, checks=0)
    sign_in(page, user)
    # The original client's routes lead to the matching page.
    for path, heading in [("/", "Dashboard"), ("/dashboard", "Dashboard"),
                          ("/projects", "Projects"), ("/status", "Status"),
                          ("/account", "Account"),
                          (f"/projects/{ids[0]}", "seeded 0001"),
                          (f"/projects/{ids[0]}/edit", "Edit seeded 0001"),
                          ("/projects/new", "Add a project")]:
        page.goto(path)
        page.locator("h1").wait_text(heading)
    assert page.path == "/projects/new"
    page.go_back()
    page.locator("h1").wait_text("Edit seeded 0001")
    page.go_back()
    page.locator("h1").wait_text("seeded 0001")
    page.go_forward()
    page.locator("h1").wait_text("Edit seeded 0001")

    # In-app links keep one document: a marker survives them.
    page.evaluate("() => { window.__stay = 1; }")
    page.locator("#nav").get_by_role("link", name="Projects").click()
    page.get_by_role("link", name="seeded 0002").click()
    page.locator("h1").wait_text("seeded 0002")
    page.get_by_role("link", name="Change settings").click()
    page.locator("h1").wait_text("Edit seeded 0002")
    assert page.evaluate("() => window.__stay") == 1
    # The heading of the new page has the focus, as after a page load.
    assert page.focused()["tag"] == "h1"

    page.goto("/no/such/page")
    page.locator("h1").wait_text("Page not found")
    shoot(page, "not-found")
    assert_accessible(page)


def test_signed_out_visitors_go_to_sign_in_and_come_back(page):
    user = make_verified_user()
    page.goto("/projects?status=down")
    page.wait_for_url(re.compile(r"/login\?next=%2Fprojects%3Fstatus%3Ddown$"))
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/projects\?status=down$"))
    assert page.get_by_label("Status").input_value() == "down"
    # ?next= never leads off the site.
    page.goto("/login?next=//evil.example/")
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert_clean(page, expected=[(401, "/user/me")])


def test_the_api_or_its_database_away_shows_a_message(page, db):
    user = make_verified_user()
    seed_projects(db, user, 3, checks=0)
    sign_in(page, user)

    # The database is away when the page opens.
    page.context.route("**/project/dashboard", **DATABASE_DOWN)
    page.goto("/dashboard")
    page.locator(".panel-error").wait_text("database is unavailable")
    assert page.get_by_role("button", name="Try again").is_visible()
    shoot(page, "dashboard-unavailable")
    assert_accessible(page)
    # It comes back; "Try again" shows the page.
    page.context.unroute("**/project/dashboard")
    page.get_by_role("button", name="Try again").click()
    page.locator("[data-count=up]").wait_text(re.compile(r"\d"))

    # Nginx answers 503 itself (the API is down) while a list is open: the
    # data already shown stays, with a note saying it could not refresh.
    page.goto("/status")
    page.locator("table").wait_text("seeded 0003")
    page.context.route("**/project/status*", status=503,
                       content_type="application/json",
                       body='{"error":"service unavailable"}')
    page.locator("#stale-note").wait_text("not answering right now",
                                          timeout=25)
    assert page.locator("table").inner_text().count("seeded") == 3
    shoot(page, "status-stale")
    page.context.unroute("**/project/status*")

    # No connection at all.
    page.context.route("**/project/status*", abort="connectionrefused")
    page.goto("/projects")
    page.locator(".panel-error").wait_text("cannot be reached")
    assert_clean(page, expected=[503, "connectionrefused",
                                 "ERR_CONNECTION_REFUSED", "Failed to fetch"])
