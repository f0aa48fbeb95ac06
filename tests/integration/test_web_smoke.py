"""
The browser harness itself (browser.py, tests/web/driver.mjs), against what
web/ serves: the pages load in Chromium under the site's real headers, and
the harness sees what it promises to see (a stubbed API answer, a CSP
violation, an unexpected error response). Nothing here depends on the
pages' wording beyond "Trackly" in the title, so it holds for the
placeholder and for the real client alike.
"""

import re

import pytest

from browser import (BrowserError, assert_accessible, assert_clean, problems,
                     screenshot_dir, shoot)


@pytest.mark.parametrize("path", ["/", "/projects"])
def test_page_loads_clean_and_accessible(page, path):
    """/ and a client-side route (/projects: nginx answers index.html) load
    under the site's CSP, render, and have no serious accessibility
    problem and no console error, exception or failed request."""
    response = page.goto(path)
    assert response.status == 200, response
    assert "default-src 'self'" in \
        response.headers.get("content-security-policy", ""), response.headers
    assert "Trackly" in page.title()
    assert page.locator("body").inner_text().strip(), "the page shows nothing"
    name = "smoke-home" if path == "/" else "smoke-projects"
    paths = shoot(page, name)
    assert [p.name for p in paths] == [f"{name}-1280.png", f"{name}-375.png"]
    for p in paths:
        assert p.parent == screenshot_dir()
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.viewport() == (1280, 800), "shoot() put the viewport back"
    assert_accessible(page)
    assert_clean(page)


def test_dark_screenshots_and_a_second_device(page, open_page):
    """shoot(color_scheme="dark") names its files apart; a second context
    (a phone, dark) is a device of its own: no cookies shared."""
    page.goto("/")
    page.context.add_cookies([{"name": "seen", "value": "1",
                                "url": page.browser.base_url}])
    dark = shoot(page, "smoke-home", color_scheme="dark")
    assert [p.name for p in dark] == ["smoke-home-dark-1280.png",
                                      "smoke-home-dark-375.png"]
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") \
        is False, "shoot() put the colour scheme back"

    phone = open_page(width=375, height=812, color_scheme="dark")
    phone.goto("/")
    assert phone.viewport() == (375, 812)
    assert phone.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    assert phone.context.cookies() == []
    assert [c["name"] for c in page.context.cookies()] == ["seen"]


def test_api_down_is_stubbed(page):
    """A route stub makes /healthcheck answer 503 inside the browser only;
    the page's fetch sees it, and assert_clean lets it pass only when the
    test says it expected it."""
    page.goto("/")
    page.context.route("**/healthcheck", status=503,
                       json={"status": "error", "database": "unavailable"})
    got = page.evaluate("""async () => {
        const r = await fetch('/healthcheck');
        return {status: r.status, body: await r.json()};
    }""")
    assert got == {"status": 503,
                   "body": {"status": "error", "database": "unavailable"}}
    events = assert_clean(page, expected=[(503, "/healthcheck")])
    assert any(e["kind"] == "response" and e["status"] == 503
               for e in events), events

    page.context.unroute("**/healthcheck")
    assert page.evaluate("fetch('/healthcheck').then((r) => r.status)") == 200


def test_network_failure_is_stubbed(page):
    """abort= makes a request fail as if the server were unreachable."""
    page.goto("/")
    page.route("**/healthcheck", abort="connectionrefused")
    got = page.evaluate("fetch('/healthcheck').then(() => 'answered',"
                        " (e) => e.name)")
    assert got == "TypeError"
    assert_clean(page, expected=["/healthcheck"])


def test_csp_violation_is_reported(page):
    """An inline <script> is refused by the site's CSP, and the harness
    reports the refusal as a failure."""
    page.goto("/")
    ran = page.evaluate("""() => {
        const s = document.createElement('script');
        s.textContent = 'window.inlineRan = true';
        document.head.appendChild(s);
        return window.inlineRan === true;
    }""")
    assert ran is False, "an inline script ran: the CSP did not apply"
    with pytest.raises(AssertionError, match="CSP violation"):
        assert_clean(page)


def test_unexpected_errors_are_reported(page):
    """A response >= 400 the test did not expect, an uncaught exception
    and a console error each make the page unclean; what was expected
    passes."""
    page.goto("/")
    page.evaluate("fetch('/project').then((r) => r.status)")   # 401
    page.evaluate("() => { setTimeout(() => { throw new Error('boom'); });"
                  " console.error('broken'); }")
    page.wait_for_function("() => true")
    events = page.events()
    kinds = {e["kind"] for e in problems(events)}
    assert {"response", "pageerror", "console"} <= kinds, events
    left = problems(events, expected=[(401, re.compile(r"/project$")),
                                      "boom", "broken"])
    assert left == [], left


def test_wait_text_says_what_it_saw(page):
    """wait_text fails within its deadline and tells what the page showed."""
    page.goto("/")
    assert "Trackly" in page.wait_text("title, h1", "Trackly")
    with pytest.raises(BrowserError, match=r'saw: "\w'):
        page.wait_text("h1", "no such text anywhere", timeout=0.5)
    with pytest.raises(BrowserError, match="no element matched"):
        page.wait_text("#no-such-element", "x", timeout=0.3)
