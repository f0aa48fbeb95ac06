"""
The web client's account pages in a real browser (issue 11): sign up, the
verification mail and the verify page, sign in and out, a session that
expires or is revoked in the middle of work, the password change, signing
out everywhere, deleting the account. Against the real stack: nginx, the
API, PostgreSQL, and where mail matters a real trackly-monitor delivering
to the SMTP sink.
"""

import re

from browser import assert_accessible, assert_clean, shoot
from helpers.http import call, expect_json
from helpers.users import make_user, random_email, random_password
from webclient import (COOKIE, expired_token, link_to, sign_in, wait_mail)

BANNER = "Alerts are not sent until you confirm your address"


def user_id(db, email):
    return db.value("SELECT id FROM users WHERE lower(email) = lower(%s)",
                    (email,))


def test_sign_up_confirm_the_address_and_the_banner_goes(page, db, monitor,
                                                         smtp_server):
    email, password = random_email("web"), random_password()
    page.goto("/register")
    assert page.title() == "Create an account – Trackly"
    shoot(page, "register")
    assert_accessible(page)

    # The form's own check first: nothing is sent.
    page.get_by_role("button", name="Create account").click()
    page.locator(".error-summary").wait_text("There is a problem")
    assert page.evaluate("document.activeElement.classList"
                         ".contains('error-summary')"), \
        "the error summary takes the focus"
    assert page.locator("#f-email-error").inner_text() == \
        "Enter your email address"
    shoot(page, "register-errors")
    assert_accessible(page)

    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r"/dashboard"))
    page.locator("#banner").wait_text(BANNER)
    page.locator("main").wait_text("You are not watching any site yet")
    shoot(page, "dashboard-empty")
    assert_accessible(page)

    uid = user_id(db, email)
    monitor(users=[uid])
    mail = wait_mail(smtp_server, email, "Confirm your email address")
    link = link_to(mail, "/verify?token=")

    # Opening the link changes nothing (mail scanners open links)...
    page.goto(link)
    page.get_by_role("button", name="Confirm my email address").wait_for()
    assert db.value("SELECT email_verified FROM users WHERE id = %s",
                    (uid,)) is False
    shoot(page, "verify")
    assert_accessible(page)
    # ... the button does, and the banner goes.
    page.get_by_role("button", name="Confirm my email address").click()
    page.locator("main").wait_text("Your email address is confirmed")
    assert db.value("SELECT email_verified FROM users WHERE id = %s",
                    (uid,)) is True
    assert page.locator("#banner").inner_text().strip() == ""
    shoot(page, "verify-done")
    page.get_by_role("link", name="Go to your dashboard").click()
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert BANNER not in page.locator("body").inner_text()

    # The link works once.
    page.goto(link)
    page.get_by_role("button", name="Confirm my email address").click()
    page.locator("main").wait_text("This link does not work")
    assert_clean(page, expected=[(400, "/user/verify")])


def test_the_old_verification_link_of_the_api_leads_to_the_verify_page(page,
                                                                       db):
    """Mail sent before the web client links to /user/verify?token=…: the
    API redirects that to the client's page, which verifies only on the
    button."""
    user = make_user()
    token = "x" * 43
    page.goto(f"/user/verify?token={token}")
    page.wait_for_url(re.compile(r"/verify\?token=x{43}$"))
    page.get_by_role("button", name="Confirm my email address").wait_for()
    assert db.value("SELECT email_verified FROM users WHERE id = %s",
                    (user.id,)) is False


def test_resend_the_verification_mail_from_the_banner(page, db):
    user = make_user()
    sign_in(page, user)
    page.goto("/dashboard")
    # Registration sent the first mail just now: a second within the
    # minute is refused, and the banner says when to try again.
    page.get_by_role("button", name="Send the link again").click()
    page.locator("#banner .banner-note").wait_text("try again in")
    assert_clean(page, expected=[(429, "/user/verify/resend")])
    db.run("UPDATE users SET verify_sent_at = now() - interval '2 minutes' "
           "WHERE id = %s", (user.id,))
    page.get_by_role("button", name="Send the link again").click()
    page.locator("#banner").wait_text("Sent. Check your inbox")
    shoot(page, "banner-resent")


def test_sign_in_errors_then_sign_in_and_out(page):
    user = make_user()
    page.goto("/login")
    shoot(page, "login")
    assert_accessible(page)
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.locator("#f-email-error").wait_text(
        "The email address or password is not right")
    shoot(page, "login-error")
    assert_accessible(page)
    assert_clean(page, expected=[(401, "/user/login")])

    # Keyboard only: the password field, Enter submits.
    page.get_by_label("Password").fill(user.password)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert page.locator("#banner").inner_text().strip().startswith(BANNER)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))
    page.locator("main").wait_text("You have signed out.")
    assert COOKIE not in [c["name"] for c in page.context.cookies()]
    # The dashboard is behind the sign-in page again.
    page.goto("/dashboard")
    page.wait_for_url(re.compile(r"/login\?next=%2Fdashboard$"))
    assert_clean(page, expected=[(401, "/user/me")])


def test_a_session_that_expires_mid_work_comes_back_to_the_same_page(page, db):
    user = make_user()
    sign_in(page, user)
    page.goto("/projects")
    page.locator("h1").wait_text("Projects")
    # The token expires while the page is open; the next request finds out.
    sign_in(page, user, token=expired_token(user))
    page.locator("#nav").get_by_role("link", name="Status").click()
    page.wait_for_url(re.compile(r"/login\?next=%2Fstatus$"))
    page.locator(".flash").wait_text("Your session has ended")
    shoot(page, "login-session-ended")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/status$"))
    page.locator("h1").wait_text("Status")
    assert_clean(page, expected=[(401, "/project/status")])


def test_password_change_sign_out_everywhere_and_delete(page, open_page, db):
    user = make_user()
    sign_in(page, user)
    other = open_page(width=375, height=812)      # a second device
    sign_in(other, user)
    other.goto("/dashboard")
    other.locator("h1").wait_text("Dashboard")

    page.goto("/account")
    page.locator("main").wait_text(user.email)
    shoot(page, "account")
    assert_accessible(page)

    # A wrong current password is an error next to that field.
    page.get_by_label("Current password").fill("wrong password")
    page.get_by_label("New password").fill("a new password 1")
    page.get_by_role("button", name="Change password").click()
    page.locator("#f-current_password-error").wait_text(
        "Your current password is not right")
    assert_clean(page, expected=[(403, "/user/password")])

    new_password = random_password()
    page.get_by_label("Current password").fill(user.password)
    page.get_by_label("New password").fill(new_password)
    page.get_by_role("button", name="Change password").click()
    page.locator(".action-status").wait_text("Password changed")
    # This device stays signed in (the answer renewed its cookie)...
    page.locator("#nav").get_by_role("link", name="Projects").click()
    page.locator("h1").wait_text("Projects")
    # ... the other one is signed out on its next request.
    other.locator("#nav").get_by_role("link", name="Projects").click()
    other.wait_for_url(re.compile(r"/login\?next=%2Fprojects$"))
    other.locator(".flash").wait_text("Your session has ended")
    assert_clean(other, expected=[(401, "/project/status")])
    sign_in(other, user, token=expect_json(call(
        "POST", "/user/login", json={"email": user.email,
                                     "password": new_password}), 200)["token"])
    other.goto("/dashboard")
    other.locator("h1").wait_text("Dashboard")

    # Sign out everywhere: both devices.
    page.goto("/account")
    page.get_by_role("button", name="Sign out everywhere").click()
    page.wait_for_url(re.compile(r"/login$"))
    page.locator(".flash").wait_text("signed out on every device")
    other.locator("#nav").get_by_role("link", name="Status").click()
    other.wait_for_url(re.compile(r"/login\?next=%2Fstatus$"))
    assert_clean(other, expected=[(401, "/project/status")])

    # Delete the account: the password is asked for.
    token = expect_json(call("POST", "/user/login", json={
        "email": user.email, "password": new_password}), 200)["token"]
    sign_in(page, user, token=token)
    page.goto("/account")
    page.get_by_role("button", name="Delete my account").click()
    page.locator("#f-password-error").wait_text("Enter your password")
    page.get_by_label("Your password", exact=True).fill(new_password)
    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_url(re.compile(r"/login$"))
    page.locator(".flash").wait_text("deleted")
    assert db.value("SELECT count(*) FROM users WHERE id = %s",
                    (user.id,)) == 0
