"""
The web client's project pages in a real browser (issue 11): a site added
through the form goes UP with a latency, goes DOWN when its target fails
(seen on the list, the dashboard and the project's page without a reload),
the DOWN mail's link opens that page, it recovers and the incident shows
with its duration; every field edited; pause and resume, mute and unmute
(and the mail's mute link), check now, delete; the form's own checks and
the server's refusals.

A real trackly-monitor probes a real HTTP target on loopback and mails the
SMTP sink. The stack's minimum interval is 60 s, so the tests move time
along with the page's own "Check now" button rather than waiting for the
schedule.
"""

import re

from browser import assert_accessible, assert_clean, shoot
from helpers.http import call, expect_json
from helpers.projects import create_project, max_projects, min_interval
from helpers.users import make_verified_user
from webclient import link_to, sign_in, wait_mail

# Seconds for a page's own refresh (10 s) to show a change, with room.
REFRESH = 25


def add_project_through_the_form(page, name, link):
    page.goto("/projects/new")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Link").fill(link)
    page.get_by_label("Timeout (ms)").fill("2000")
    page.get_by_label("Down after this many failed checks in a row").fill("1")
    page.get_by_role("button", name="Add project").click()
    page.wait_for_url(re.compile(r"/projects/\d+$"))
    return int(page.path.rsplit("/", 1)[1])


def check_now(page, expect):
    page.get_by_role("button", name="Check now").click()
    page.locator(".action-status").wait_text(
        re.compile(r"Checked .*Status: " + expect), timeout=30)


def test_a_site_goes_up_down_and_up_again(page, open_page, db, monitor,
                                          smtp_server, target):
    user = make_verified_user()
    sign_in(page, user)
    link = target.set("/site", "ok")
    monitor(users=[user])

    pid = add_project_through_the_form(page, "Web shop", link)
    page.locator(".flash").wait_text("Added")
    # Adding asks for a check at once; the page looks every 2 s until the
    # first result is in.
    page.locator("h1 .pill").wait_text("UP", timeout=30)
    page.locator(".since").wait_text("Up since")
    row = db.one("SELECT last_latency_ms FROM projects WHERE id = %s", (pid,))
    assert row[0] is not None

    # The list and the dashboard, open in their own tabs.
    listing = page.context.new_page()
    listing.goto("/projects")
    lrow = listing.locator(f"tr[data-id='{pid}']")
    lrow.locator(".pill").wait_text("UP")
    assert re.search(r"\d+ ms", lrow.inner_text())
    dash = page.context.new_page()
    dash.goto("/dashboard")
    dash.locator("[data-count=up]").wait_text("1")

    # The target fails; "Check now" on the project's page sees it.
    target.set("/site", "fail")
    check_now(page, "DOWN")
    page.locator("h1 .pill").wait_text("DOWN")
    page.locator(".callout-down").wait_text("status 503")
    # The other pages see it by themselves, without a reload.
    lrow.locator(".pill").wait_text("DOWN", timeout=REFRESH)
    dash.locator("[data-count=down]").wait_text("1", timeout=REFRESH)
    dash.locator(".down-list").wait_text("Web shop", timeout=REFRESH)
    dash.locator(".down-list").wait_text("status 503")
    shoot(dash, "dashboard-down")
    assert_accessible(dash)
    shoot(listing, "projects-down")
    assert_accessible(listing)

    # The DOWN mail links to this page.
    mail = wait_mail(smtp_server, user.email, "DOWN: Web shop")
    other = open_page()
    sign_in(other, user)
    other.goto(link_to(mail, f"/projects/{pid}"))
    other.locator("h1").wait_text("Web shop")
    other.locator("h1 .pill").wait_text("DOWN")
    shoot(other, "project-down")
    assert_accessible(other)

    # Recovery: the incident closes with its duration.
    target.set("/site", "ok")
    check_now(page, "UP")
    page.locator("h1 .pill").wait_text("UP")
    incidents = page.locator("section[aria-labelledby=h-incidents] tbody tr")
    incidents.first.wait_text(re.compile(r"\d+ s|\d+ min"))
    assert "ongoing" not in incidents.first.inner_text()
    assert "status 503" in incidents.first.inner_text()
    wait_mail(smtp_server, user.email, "UP again: Web shop")
    page.locator(".chart svg").wait_for()
    shoot(page, "project")
    shoot(page, "project", color_scheme="dark")
    assert_accessible(page)
    for p in (listing, dash):
        assert_clean(p)


def test_edit_every_field_pause_mute_check_and_delete(page, db, monitor,
                                                      smtp_server, target):
    user = make_verified_user()
    sign_in(page, user)
    project = create_project(user, name="Blog", link=target.set("/", "ok"))
    pid = project["id"]
    monitor(users=[user])

    page.goto(f"/projects/{pid}/edit")
    page.locator("h1").wait_text("Edit Blog")
    fields = {
        "Name": "Blog (main)",
        "Link": target.set("/home", "ok"),
        "Description (optional)": "The company blog",
        "Check every (seconds)": str(min_interval() * 2),
        "Timeout (ms)": "3000",
        "Expected HTTP status": "200, 301-302",
        "Keyword (optional)": "trackly-target-ok",
        "Down after this many failed checks in a row": "3",
        "Up again after this many good checks in a row": "2",
    }
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Mute alert mail").check()
    page.get_by_label("Paused").check()
    shoot(page, "project-edit")
    assert_accessible(page)
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(re.compile(rf"/projects/{pid}$"))
    page.locator(".flash").wait_text("Saved.")
    saved = expect_json(call("GET", f"/project/{pid}", token=user.token), 200)
    assert saved["name"] == "Blog (main)"
    assert saved["link"] == fields["Link"]
    assert saved["description"] == "The company blog"
    assert saved["interval_seconds"] == min_interval() * 2
    assert saved["timeout_ms"] == 3000
    assert saved["expected_status"] == "200,301-302"
    assert saved["keyword"] == "trackly-target-ok"
    assert saved["failure_threshold"] == 3
    assert saved["recovery_threshold"] == 2
    assert saved["alerts_muted"] is True and saved["paused"] is True
    page.locator("h1 .pill").wait_text("PAUSED")
    assert page.get_by_role("button", name="Check now").is_disabled()
    page.locator(".settings").wait_text("200,301-302")

    # Resume, unmute, check now.
    page.get_by_role("button", name="Resume").click()
    page.locator(".action-status").wait_text("Resumed")
    page.get_by_role("button", name="Unmute alerts").click()
    page.locator(".action-status").wait_text("Alert mail is on again")
    saved = expect_json(call("GET", f"/project/{pid}", token=user.token), 200)
    assert saved["paused"] is False and saved["alerts_muted"] is False
    page.get_by_role("button", name="Check now").click()
    page.locator(".action-status").wait_text(re.compile(r"Checked "),
                                             timeout=30)
    page.get_by_role("button", name="Mute alerts").click()
    page.locator(".action-status").wait_text("muted")
    page.get_by_role("button", name="Pause").click()
    page.locator(".action-status").wait_text("Paused")

    # Delete, after a confirmation that Cancel backs out of.
    page.get_by_role("button", name="Delete").click()
    dialog = page.locator("dialog[open]")
    dialog.wait_text("Delete this project?")
    shoot(page, "project-delete")
    assert_accessible(page)
    dialog.get_by_role("button", name="Cancel").click()
    assert db.value("SELECT count(*) FROM projects WHERE id = %s", (pid,)) == 1
    page.get_by_role("button", name="Delete").click()
    page.locator("dialog[open]").get_by_role("button",
                                             name="Delete project").click()
    page.wait_for_url(re.compile(r"/projects$"))
    page.locator(".flash").wait_text("Deleted")
    assert db.value("SELECT count(*) FROM projects WHERE id = %s", (pid,)) == 0


def test_the_mute_link_of_alert_mail(page, db, monitor, smtp_server, target):
    user = make_verified_user()
    link = target.set("/m", "fail")
    project = create_project(user, name="Muted site", link=link,
                             failure_threshold=1)
    monitor(users=[user])
    call("POST", f"/project/{project['id']}/check", token=user.token)
    mail = wait_mail(smtp_server, user.email, "DOWN: Muted site")
    mute = link_to(mail, "/mute?token=")

    # Opening the link (as a scanner would) mutes nothing.
    page.goto(mute)
    page.locator("main").wait_text("Stop alert mail for")
    assert db.value("SELECT alerts_muted FROM projects WHERE id = %s",
                    (project["id"],)) is False
    shoot(page, "mute")
    assert_accessible(page)
    page.get_by_role("button", name="Mute alerts for this project").click()
    page.locator("main").wait_text("are muted")
    assert db.value("SELECT alerts_muted FROM projects WHERE id = %s",
                    (project["id"],)) is True
    shoot(page, "mute-done")
    # The old page name from mail sent before the web client works too.
    page.goto(mute.replace("/mute?", "/mute.html?"))
    page.locator("main").wait_text("already muted")
    page.goto("/mute?token=not-a-real-token")
    page.locator("main").wait_text("This mute link is not valid")
    assert_clean(page, expected=[(400, "/project/mute")])


def test_the_form_checks_before_sending_and_shows_the_servers_answer(page):
    user = make_verified_user()
    sign_in(page, user)
    page.goto("/projects/new")
    shoot(page, "project-new")
    assert_accessible(page)
    page.get_by_label("Name").fill("   ")
    page.get_by_label("Link").fill("ftp://example.com/")
    page.get_by_label("Check every (seconds)").fill("10")
    page.get_by_label("Timeout (ms)").fill("abc")
    page.get_by_label("Expected HTTP status").fill("200-100")
    page.get_by_role("button", name="Add project").click()
    summary = page.locator(".error-summary")
    summary.wait_text("There is a problem")
    text = summary.inner_text()
    for message in ("Enter a name", "Link must start with http:// or https://",
                    f"must be from {min_interval()} to 86400",
                    "must be a whole number", "Expected status must be"):
        assert message in text, text
    shoot(page, "project-new-errors")
    assert_accessible(page)
    # A summary link takes the focus to its field.
    summary.get_by_role("link", name="Enter a name").click()
    assert page.focused()["id"] == "f-name"

    # The server still judges: a user at the project limit.
    for n in range(max_projects()):
        create_project(user, name=f"existing {n}")
    page.get_by_label("Name").fill("One too many")
    page.get_by_label("Link").fill("https://example.com/")
    page.get_by_label("Check every (seconds)").fill(str(min_interval()))
    page.get_by_label("Timeout (ms)").fill("5000")
    page.get_by_label("Expected HTTP status").fill("200-399")
    page.get_by_role("button", name="Add project").click()
    page.locator(".error-summary").wait_text(
        f"limit of {max_projects()} projects")
    assert_clean(page, expected=[(403, "/project")])


def test_a_project_that_is_not_yours_is_not_found(page):
    owner, intruder = make_verified_user(), make_verified_user()
    project = create_project(owner, name="Private")
    sign_in(page, intruder)
    page.goto(f"/projects/{project['id']}")
    page.locator("h1").wait_text("Project not found")
    assert "Private" not in page.locator("body").inner_text()
    shoot(page, "project-not-found")
    assert_accessible(page)
    page.goto(f"/projects/{project['id']}/edit")
    page.locator("h1").wait_text("Project not found")
    assert_clean(page, expected=[(404, f"/project/{project['id']}")])
