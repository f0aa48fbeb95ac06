"""
Browser tests for the black-box suite: pages of the web client, as served
by the stack's nginx, in a real headless Chromium.

A Node process, tests/web/driver.mjs, drives Debian's Chromium through
playwright-core; this module talks to it over JSON lines on its stdin and
stdout and gives the tests plain Python objects:

    def test_projects_page(page):
        page.goto("/projects")
        page.get_by_label("Name").fill("Blog")
        page.get_by_role("button", name="Add project").click()
        page.wait_text("main", "Blog")
        shoot(page, "projects-one")
        assert_accessible(page)

and the fixtures (registered by conftest.py, `pytest_plugins`):

- `browser`: one driver and one Chromium for the whole session. Starting
  them costs about a second; every test gets fresh contexts (own
  cookies, storage and cache), which isolate tests as well as a new browser
  would. Started only when a test asks for it, so a run without browser
  tests pays nothing; a driver that died is started again for the next test.
- `page`: a fresh context and page at 1280x800, light colour scheme, whose
  base URL is the stack's, closed after the test. Unless the test is marked
  `@pytest.mark.no_clean_check("why")`, assert_clean runs at teardown. A
  test that fails gets a screenshot `<test>-failure.png` and its unread
  events printed.
- `open_page(width=, height=, color_scheme=, **context_options)`: the same
  in another context, for a second device or user in one test.

Every wait has a deadline: the driver's actions and waits time out after
10 s (navigation 15 s) unless told otherwise, and this module waits for each
answer a little longer than the operation may take, then fails with the end
of the driver's log. Timeouts given to the methods here are in seconds, as
everywhere in this suite (the driver speaks milliseconds).

Without node, Chromium or tests/web/node_modules the browser tests are
skipped with the reason, unless CI or TRACKLY_REQUIRE_BROWSER=1 (which
./dev test sets) says they must run: then they fail. See README.md,
"Browser tests".
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

# Seconds an action or wait in the browser may take by default (the
# driver's own default), and what a navigation may take.
DEFAULT_TIMEOUT = 10
NAVIGATION_TIMEOUT = 15
# Seconds this side waits for an answer beyond what the operation itself may
# take, so that the driver's timeout error (which says what it waited for)
# arrives first.
SLACK = 10
LAUNCH_TIMEOUT = 60

# Viewports of the screenshots shoot() takes: desktop, and a small phone.
SHOT_SIZES = ((1280, 800), (375, 812))

HERE = Path(__file__).resolve().parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")
JS_FUNCTION = re.compile(r"^\s*(async\s+)?(function\b|\([^)]*\)\s*=>|[A-Za-z_$][\w$]*\s*=>)")


class BrowserError(Exception):
    """An operation the driver refused or could not do (its message), or a
    driver that did not answer in time or died (with its log's end)."""


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

def base_url():
    """TRACKLY_URL without a trailing slash, localhost spelled 127.0.0.1
    (nginx listens on IPv4 loopback only)."""
    parts = urlsplit(os.environ.get("TRACKLY_URL", ""))
    netloc = parts.netloc
    if parts.hostname == "localhost":
        netloc = netloc.replace("localhost", "127.0.0.1", 1)
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def browser_required():
    """True when a missing browser must fail the tests, not skip them."""
    ci = os.environ.get("CI", "").strip().lower()
    return os.environ.get("TRACKLY_REQUIRE_BROWSER") == "1" or \
        ci not in ("", "0", "false", "no")


def node_binary():
    return os.environ.get("TRACKLY_NODE") or shutil.which("node") or ""


def chromium_binary():
    return os.environ.get("TRACKLY_CHROMIUM") or "/usr/bin/chromium"


def driver_script():
    return Path(os.environ.get("TRACKLY_WEB_DRIVER")
                or HERE.parent / "web" / "driver.mjs")


def screenshot_dir():
    """TRACKLY_SCREENSHOT_DIR (./dev test: <log dir>/screenshots/), else a
    directory under the system's temporary one; created when missing."""
    path = Path(os.environ.get("TRACKLY_SCREENSHOT_DIR")
                or Path(tempfile.gettempdir()) / "trackly-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def driver_log_path():
    """Where the driver's stderr goes: browser.log beside the API's log
    (the run's log directory), else a temporary file."""
    api_log = os.environ.get("TRACKLY_API_LOG")
    if api_log and Path(api_log).parent.is_dir():
        return Path(api_log).parent / "browser.log"
    return Path(tempfile.mkdtemp(prefix="trackly-browser-")) / "browser.log"


def missing_prerequisite():
    """Why the browser cannot run here, or None when everything is there."""
    node = node_binary()
    if not node or not os.access(node, os.X_OK):
        return "node is not installed (./dev installs Debian's nodejs)"
    chromium = chromium_binary()
    if not os.access(chromium, os.X_OK):
        return f"{chromium} is missing (./dev installs Debian's chromium)"
    driver = driver_script()
    if not driver.is_file():
        return f"{driver} is missing"
    for package in ("playwright-core", "axe-core"):
        if not (driver.parent / "node_modules" / package / "package.json").is_file():
            return (f"{driver.parent}/node_modules/{package} is missing: "
                    f"run `npm ci` in {driver.parent} (./dev test does)")
    return None


# ---------------------------------------------------------------------------
# Values to and from the driver
# ---------------------------------------------------------------------------

# Options whose Playwright names do not follow from their snake_case ones.
ACRONYMS = {"base_url": "baseURL", "extra_http_headers": "extraHTTPHeaders",
            "ignore_https_errors": "ignoreHTTPSErrors",
            "record_har": "recordHar", "bypass_csp": "bypassCSP"}


def camel(name):
    """full_page -> fullPage: Playwright's spelling of an option."""
    if name in ACRONYMS:
        return ACRONYMS[name]
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def encode(value):
    """A Python value as the driver reads it: compiled regular expressions
    become {"$regex"}, Pages become {"$page"}; the rest is JSON as is."""
    if isinstance(value, re.Pattern):
        flags = ("i" if value.flags & re.IGNORECASE else "") + \
                ("m" if value.flags & re.MULTILINE else "") + \
                ("s" if value.flags & re.DOTALL else "")
        return {"$regex": value.pattern, "flags": flags}
    if isinstance(value, Page):
        return {"$page": value.id}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


def options(**kwargs):
    """Keyword arguments as a Playwright options object: camelCase names,
    None dropped, timeouts (seconds here) in milliseconds."""
    out = {}
    for key, value in kwargs.items():
        if value is None:
            continue
        if key == "timeout":
            value = int(value * 1000)
        out[camel(key)] = encode(value)
    return out


def function(source):
    """{"$fn": source} when source is a function's source ("() => ...",
    "async (x) => ...", "function (...) {...}"), for evaluate and friends;
    otherwise the source is an expression and goes as it is."""
    return {"$fn": source} if JS_FUNCTION.match(source) else source


def wait_for(timeout):
    """Seconds to wait for the answer to an operation that may itself take
    timeout seconds (None: the driver's default)."""
    return max(timeout or 0, NAVIGATION_TIMEOUT) + SLACK


# ---------------------------------------------------------------------------
# The driver process
# ---------------------------------------------------------------------------

class Browser:
    """One driver process and the Chromium it launched. call() sends one
    command and waits, with a deadline, for its answer."""

    def __init__(self):
        self.node = node_binary()
        self.driver = driver_script()
        self.chromium = chromium_binary()
        self.base_url = base_url()
        self.log_path = driver_log_path()
        self.version = None
        self.start_seconds = None
        self.proc = None
        self._answers = {}
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._next_id = 0
        self._tmp = None

    # --- life ----------------------------------------------------------

    def start(self):
        """Starts the driver and has it launch Chromium; raises BrowserError
        (with the driver's log) when that fails."""
        started = time.monotonic()
        # Playwright's throwaway profiles go to TMPDIR: a private one,
        # removed in close(), leaves nothing behind even after a kill.
        self._tmp = tempfile.mkdtemp(prefix="trackly-browser-")
        env = dict(os.environ, TMPDIR=self._tmp)
        self._log = open(self.log_path, "ab")
        self._log.write(f"==== {time.strftime('%Y-%m-%dT%H:%M:%S')} "
                        f"{self.node} {self.driver}\n".encode())
        self._log.flush()
        self._answers = {}
        self.proc = subprocess.Popen(
            [self.node, str(self.driver)], cwd=str(self.driver.parent),
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._log, start_new_session=True)
        threading.Thread(target=self._read, args=(self.proc,),
                         daemon=True).start()
        result = self.call("launch", timeout=LAUNCH_TIMEOUT,
                           executablePath=self.chromium,
                           timeout_ms=int(LAUNCH_TIMEOUT * 1000))
        self.version = result["version"]
        self.start_seconds = time.monotonic() - started
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def restart(self):
        self.close()
        return self.start()

    def close(self):
        """Asks the driver to quit (it closes Chromium), then kills what is
        left of its process group."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                with self._write_lock:
                    proc.stdin.close()      # the driver quits on EOF
            except OSError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait(timeout=10)
        self._log.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    # --- talking ---------------------------------------------------------

    def _read(self, proc):
        for line in proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue                    # not ours: never expected
            with self._cond:
                self._answers[message.get("id")] = message
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def log_tail(self, lines=40):
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _failure(self, what):
        return BrowserError(f"{what}\n---- end of {self.log_path} ----\n"
                            f"{self.log_tail()}")

    def call(self, op, *, timeout=None, **fields):
        """Sends {"op": op, **fields} and returns the answer's result, or
        raises BrowserError with the driver's error message. Waits at most
        timeout seconds (default: the longest an operation may take plus
        SLACK). A field named x_ms is sent as x."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            raise self._failure(f"the browser driver is not running "
                                f"(exit status {proc and proc.returncode})")
        with self._cond:
            self._next_id += 1
            ident = self._next_id
        message = {"id": ident, "op": op}
        for key, value in fields.items():
            message[key[:-3] if key.endswith("_ms") else key] = encode(value)
        try:
            with self._write_lock:
                proc.stdin.write((json.dumps(message) + "\n").encode())
                proc.stdin.flush()
        except (OSError, ValueError):
            raise self._failure(f"the browser driver is gone ({op})") from None
        deadline = time.monotonic() + (timeout or wait_for(None))
        with self._cond:
            while ident not in self._answers:
                left = deadline - time.monotonic()
                if proc.poll() is not None:
                    raise self._failure(f"the browser driver died (exit status "
                                        f"{proc.returncode}) during {op}")
                if left <= 0:
                    raise self._failure(f"the browser driver did not answer "
                                        f"{op} within {timeout or wait_for(None)} s")
                self._cond.wait(min(left, 0.5))
            answer = self._answers.pop(ident)
        if "error" in answer:
            raise BrowserError(ANSI.sub("", str(answer["error"])))
        return answer.get("result")

    # --- contexts --------------------------------------------------------

    def new_context(self, *, width=1280, height=800, color_scheme="light",
                    base_url=None, extra_http_headers=None, **context_options):
        """A fresh browser context (cookies, storage and cache of its own):
        viewport width x height, color_scheme "light" or "dark", relative
        URLs against base_url (the stack's by default). Other Playwright
        newContext options may be given in snake_case (locale="de-DE",
        timezone_id="Europe/Berlin", reduced_motion="reduce", ...)."""
        opts = options(viewport={"width": width, "height": height},
                       color_scheme=color_scheme,
                       base_url=base_url or self.base_url,
                       extra_http_headers=extra_http_headers,
                       **context_options)
        result = self.call("new_context", options=opts)
        return Context(self, result["context"], color_scheme)


class Context:
    """A browser context: one "device" with its own cookies and storage."""

    def __init__(self, browser, ident, color_scheme="light"):
        self.browser = browser
        self.id = ident
        self.color_scheme = color_scheme
        self.pages = []
        self.closed = False

    def new_page(self):
        result = self.browser.call("new_page", context=self.id)
        page = Page(self, result["page"])
        self.pages.append(page)
        return page

    def all_pages(self):
        """Every open page of the context, those the page opened itself
        (popups, target=_blank) included."""
        known = {p.id: p for p in self.pages}
        out = []
        for ident in self.browser.call("pages", context=self.id):
            if ident not in known:
                known[ident] = Page(self, ident)
                self.pages.append(known[ident])
            out.append(known[ident])
        return out

    def cookies(self, *urls):
        return self.browser.call("cookies", context=self.id, urls=list(urls))

    def add_cookies(self, cookies):
        """cookies: Playwright's form, [{"name", "value", "url"} ...]."""
        self.browser.call("add_cookies", context=self.id, cookies=cookies)

    def clear_cookies(self):
        self.browser.call("clear_cookies", context=self.id)

    def route(self, url, **reply):
        """Requests of every page of the context whose URL matches url (a
        glob such as "**/healthcheck", or a compiled regex) get a made-up
        answer: status=503, json={...} or body="...", headers={...},
        content_type=...; or abort="connectionrefused" (any of Chromium's
        net error names, True for "failed"); times=n only the first n."""
        self.browser.call("route", context=self.id, url=url,
                          **options(**reply))

    def unroute(self, url):
        self.browser.call("unroute", context=self.id, url=url)

    def close(self):
        if not self.closed:
            self.closed = True
            self.browser.call("close", context=self.id)


class Response:
    """What a navigation answered: status, headers (lower-case names), url."""

    def __init__(self, data):
        data = data or {}
        self.url = data.get("url")
        self.status = data.get("status")
        self.headers = data.get("headers") or {}
        self.ok = self.status is not None and 200 <= self.status < 400

    def __repr__(self):
        return f"<Response {self.status} {self.url}>"


class Page:
    """A browser tab. Methods mirror Playwright's Page in snake_case;
    call() reaches any other Page method by its JavaScript name."""

    def __init__(self, context, ident):
        self.context = context
        self.browser = context.browser
        self.id = ident

    def __repr__(self):
        return f"<Page {self.id}>"

    def call(self, method, *args, timeout=None):
        """Any Page method by its JavaScript name ("goto", "keyboard.press",
        "waitForLoadState"), with JavaScript arguments (milliseconds)."""
        return self.browser.call("page", page=self.id, method=method,
                                 args=list(args), timeout=wait_for(timeout))

    # --- navigation ------------------------------------------------------

    def goto(self, path, *, wait_until="load", timeout=None):
        """Opens path (relative to the stack's URL, or absolute); returns
        the Response (None for a same-document navigation)."""
        result = self.call("goto", path, options(wait_until=wait_until,
                                                 timeout=timeout),
                           timeout=timeout)
        return Response(result) if result else None

    def reload(self, *, wait_until="load", timeout=None):
        result = self.call("reload", options(wait_until=wait_until,
                                             timeout=timeout), timeout=timeout)
        return Response(result) if result else None

    def go_back(self, *, timeout=None):
        result = self.call("goBack", options(timeout=timeout), timeout=timeout)
        return Response(result) if result else None

    def go_forward(self, *, timeout=None):
        result = self.call("goForward", options(timeout=timeout),
                           timeout=timeout)
        return Response(result) if result else None

    def wait_for_url(self, url, *, timeout=None):
        """Until the page's URL matches url (a glob such as "**/projects",
        or a compiled regex)."""
        self.call("waitForURL", url, options(timeout=timeout), timeout=timeout)

    def wait_for_load_state(self, state="load", *, timeout=None):
        self.call("waitForLoadState", state, options(timeout=timeout),
                  timeout=timeout)

    @property
    def url(self):
        return self.call("url")

    @property
    def path(self):
        """The URL's path and query, e.g. "/projects?page=2"."""
        parts = urlsplit(self.url)
        return parts.path + ("?" + parts.query if parts.query else "")

    def title(self):
        return self.call("title")

    def content(self):
        return self.call("content")

    # --- scripts ---------------------------------------------------------

    def evaluate(self, source, arg=None):
        """Runs JavaScript in the page and returns its (JSON) value: an
        expression ("document.title"), or a function's source called with
        arg ("(n) => n + 1"); a promise is awaited."""
        return self.call("evaluate", function(source), arg)

    def wait_for_function(self, source, arg=None, *, timeout=None):
        """Until the function (or expression) returns something truthy."""
        return self.call("waitForFunction", function(source), arg,
                         options(timeout=timeout), timeout=timeout)

    # --- locators --------------------------------------------------------

    def locator(self, selector):
        return Locator(self, selector)

    def get_by_role(self, role, *, name=None, exact=None, **kwargs):
        return Locator(self, None).get_by_role(role, name=name, exact=exact,
                                               **kwargs)

    def get_by_label(self, text, *, exact=None):
        return Locator(self, None).get_by_label(text, exact=exact)

    def get_by_text(self, text, *, exact=None):
        return Locator(self, None).get_by_text(text, exact=exact)

    def get_by_placeholder(self, text, *, exact=None):
        return Locator(self, None).get_by_placeholder(text, exact=exact)

    def get_by_test_id(self, test_id):
        return Locator(self, None).get_by_test_id(test_id)

    def wait_text(self, target, text, *, timeout=DEFAULT_TIMEOUT):
        """Until an element matched by target (a CSS selector or a Locator)
        shows text containing text (a string) or matching it (a compiled
        regex); returns that element's text. On timeout the BrowserError
        says what the elements showed instead."""
        loc = target if isinstance(target, Locator) else Locator(self, target)
        return self.browser.call("wait_text", page=self.id,
                                 selector=loc.selector, chain=loc.chain,
                                 text=text, timeout_ms=int(timeout * 1000),
                                 timeout=wait_for(timeout))

    # --- input -----------------------------------------------------------

    def press(self, key):
        """A key on the keyboard, to whatever has the focus ("Tab",
        "Enter", "Shift+Tab")."""
        self.call("keyboard.press", key)

    def type(self, text):
        """Types text into whatever has the focus."""
        self.call("keyboard.type", text)

    def focused(self):
        """A short description of the focused element (tag, id, name,
        text), for keyboard tests."""
        return self.evaluate(
            "() => { const e = document.activeElement; if (!e) return null;"
            " return {tag: e.tagName.toLowerCase(), id: e.id || null,"
            " name: e.getAttribute('name'), role: e.getAttribute('role'),"
            " text: (e.innerText || e.value || '').trim().slice(0, 80)}; }")

    def on_dialog(self, action="dismiss", prompt_text=None):
        """How alert(), confirm() and prompt() are answered from now on:
        "dismiss" (the default) or "accept" (prompt() gets prompt_text)."""
        self.browser.call("dialog", page=self.id, action=action,
                          promptText=prompt_text)

    # --- appearance ------------------------------------------------------

    def set_viewport(self, width, height):
        self.call("setViewportSize", {"width": width, "height": height})

    def viewport(self):
        """(width, height) of the viewport."""
        size = self.call("viewportSize") or {}
        return size.get("width"), size.get("height")

    def emulate_media(self, **kwargs):
        """color_scheme="dark", reduced_motion="reduce", media="print"..."""
        self.call("emulateMedia", options(**kwargs))

    def screenshot(self, path, *, full_page=True):
        """Writes a PNG to path; a bare name goes to the screenshot
        directory (screenshot_dir()). Returns the Path."""
        path = Path(path)
        if not path.is_absolute() and path.parent == Path("."):
            path = screenshot_dir() / path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.call("screenshot", {"path": str(path), "fullPage": full_page,
                                 "animations": "disabled"})
        return path

    # --- what happened ---------------------------------------------------

    def events(self):
        """What the page recorded since the last call (and forgets): dicts
        with "kind" one of console (error or warning: "type"), csp,
        pageerror, requestfailed, response (status >= 400: "status",
        "method", "url"), resource (Chromium's console line about a failed
        load), dialog, crash; "text" and/or "url" say what."""
        return self.browser.call("events", page=self.id)

    def axe(self, **run_options):
        """axe-core's violations on the page as it is now: dicts with id,
        impact, help, helpUrl and nodes (target, html, summary)."""
        return self.browser.call("axe", page=self.id,
                                 options=options(**run_options))

    # --- routes ----------------------------------------------------------

    def route(self, url, **reply):
        """Like Context.route, for this page only."""
        self.browser.call("route", page=self.id, url=url, **options(**reply))

    def unroute(self, url):
        self.browser.call("unroute", page=self.id, url=url)

    def close(self):
        self.browser.call("close", page=self.id)


class Locator:
    """Elements of a page, found when used: a CSS selector (or none) and a
    chain of narrowing steps. Mirrors Playwright's Locator in snake_case;
    call() reaches any other Locator method by its JavaScript name."""

    def __init__(self, page, selector, chain=()):
        self.page = page
        self.selector = selector
        self.chain = list(chain)

    def __repr__(self):
        steps = "".join(f".{c[0]}{tuple(c[1:])}" for c in self.chain)
        return f"<Locator {self.selector or 'page'}{steps}>"

    def _then(self, method, *args):
        return Locator(self.page, self.selector,
                       self.chain + [[method, *[encode(a) for a in args]]])

    # --- narrowing -------------------------------------------------------

    def locator(self, selector):
        if self.selector is None and not self.chain:
            return Locator(self.page, selector)
        return self._then("locator", selector)

    def get_by_role(self, role, *, name=None, exact=None, **kwargs):
        return self._then("getByRole", role,
                          options(name=name, exact=exact, **kwargs))

    def get_by_label(self, text, *, exact=None):
        return self._then("getByLabel", text, options(exact=exact))

    def get_by_text(self, text, *, exact=None):
        return self._then("getByText", text, options(exact=exact))

    def get_by_placeholder(self, text, *, exact=None):
        return self._then("getByPlaceholder", text, options(exact=exact))

    def get_by_test_id(self, test_id):
        return self._then("getByTestId", test_id)

    def filter(self, *, has_text=None, has_not_text=None, visible=None):
        return self._then("filter", options(has_text=has_text,
                                            has_not_text=has_not_text,
                                            visible=visible))

    def nth(self, index):
        return self._then("nth", index)

    @property
    def first(self):
        return self._then("first")

    @property
    def last(self):
        return self._then("last")

    # --- acting and reading ----------------------------------------------

    def call(self, action, *args, timeout=None):
        """Any Locator method by its JavaScript name, with JavaScript
        arguments (milliseconds)."""
        return self.page.browser.call(
            "locator", page=self.page.id, selector=self.selector,
            chain=self.chain, action=action, args=list(args),
            timeout=wait_for(timeout))

    def _act(self, action, *args, timeout=None, **kwargs):
        return self.call(action, *args, options(timeout=timeout, **kwargs),
                         timeout=timeout)

    def click(self, **kwargs):
        self._act("click", **kwargs)

    def dblclick(self, **kwargs):
        self._act("dblclick", **kwargs)

    def fill(self, value, **kwargs):
        self._act("fill", value, **kwargs)

    def clear(self, **kwargs):
        self._act("clear", **kwargs)

    def press(self, key, **kwargs):
        self._act("press", key, **kwargs)

    def press_sequentially(self, text, **kwargs):
        self._act("pressSequentially", text, **kwargs)

    def check(self, **kwargs):
        self._act("check", **kwargs)

    def uncheck(self, **kwargs):
        self._act("uncheck", **kwargs)

    def select_option(self, value, **kwargs):
        return self._act("selectOption", value, **kwargs)

    def hover(self, **kwargs):
        self._act("hover", **kwargs)

    def focus(self, **kwargs):
        self._act("focus", **kwargs)

    def blur(self, **kwargs):
        self._act("blur", **kwargs)

    def text_content(self, **kwargs):
        return self._act("textContent", **kwargs)

    def inner_text(self, **kwargs):
        return self._act("innerText", **kwargs)

    def inner_html(self, **kwargs):
        return self._act("innerHTML", **kwargs)

    def input_value(self, **kwargs):
        return self._act("inputValue", **kwargs)

    def get_attribute(self, name, **kwargs):
        return self._act("getAttribute", name, **kwargs)

    def all_text_contents(self):
        return self.call("allTextContents")

    def all_inner_texts(self):
        return self.call("allInnerTexts")

    def count(self):
        return self.call("count")

    def is_visible(self):
        return self.call("isVisible")

    def is_hidden(self):
        return self.call("isHidden")

    def is_enabled(self, **kwargs):
        return self._act("isEnabled", **kwargs)

    def is_disabled(self, **kwargs):
        return self._act("isDisabled", **kwargs)

    def is_checked(self, **kwargs):
        return self._act("isChecked", **kwargs)

    def is_editable(self, **kwargs):
        return self._act("isEditable", **kwargs)

    def wait_for(self, state="visible", *, timeout=None):
        """Until the element is attached, detached, visible or hidden."""
        self._act("waitFor", state=state, timeout=timeout)

    def evaluate(self, source, arg=None):
        """A function's source called with the (first) element and arg."""
        return self.call("evaluate", {"$fn": source}, arg)

    def screenshot(self, path):
        path = Path(path)
        if not path.is_absolute() and path.parent == Path("."):
            path = screenshot_dir() / path
        self.call("screenshot", {"path": str(path), "animations": "disabled"})
        return path

    def wait_text(self, text, *, timeout=DEFAULT_TIMEOUT):
        return self.page.wait_text(self, text, timeout=timeout)


# ---------------------------------------------------------------------------
# Helpers for page tests
# ---------------------------------------------------------------------------

SHOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _settle(page):
    """Two animation frames: a resized page has laid itself out again."""
    page.evaluate("() => new Promise((r) => requestAnimationFrame("
                  "() => requestAnimationFrame(() => r(true))))")


# A page never scrolls sideways as a whole (a wide table scrolls inside its
# own box): null, or how wide the page is and the first element that
# reaches past the viewport's right edge, for the failure message.
WIDER_THAN_VIEWPORT = """() => {
  const root = document.documentElement, view = root.clientWidth;
  if (root.scrollWidth <= view) return null;
  let culprit = "?";
  for (const el of document.body.querySelectorAll("*")) {
    if (el.getBoundingClientRect().right > view + 1) {
      culprit = el.tagName.toLowerCase() +
                (el.className ? "." + String(el.className).split(" ")[0] : "") +
                " " + JSON.stringify((el.textContent || "").trim().slice(0, 40));
      break;
    }
  }
  return {page: root.scrollWidth, element: culprit};
}"""


def shoot(page, name, *, color_scheme=None):
    """Full-page screenshots of the page as it is, 1280 px and 375 px wide,
    into screenshot_dir() as <name>-1280.png and <name>-375.png, in the
    context's colour scheme; with color_scheme="dark" (or "light"), in
    that scheme, as <name>-dark-1280.png and <name>-dark-375.png. Names
    are the test's to keep unique (start them with the page's name:
    "projects-empty"). The viewport and colour scheme are put back
    afterwards. Fails when the page scrolls sideways at either width
    (the picture is taken first). Returns the paths."""
    if not SHOT_NAME.match(name):
        raise ValueError(f"screenshot name {name!r}: letters, digits, . _ -")
    before = page.viewport()
    default = page.context.color_scheme
    scheme = color_scheme or default
    suffix = f"-{color_scheme}" if color_scheme else ""
    paths = []
    if scheme != default:
        page.emulate_media(color_scheme=scheme)
    try:
        for width, height in SHOT_SIZES:
            page.set_viewport(width, height)
            _settle(page)
            paths.append(page.screenshot(f"{name}{suffix}-{width}.png"))
            wide = page.evaluate(WIDER_THAN_VIEWPORT)
            if wide:
                # Raised after the picture is taken, so it can be looked at.
                raise AssertionError(
                    f"{name} at {width} px: the page scrolls sideways "
                    f"({wide['page']} px wide); widest element: "
                    f"{wide['element']}")
    finally:
        if before[0]:
            page.set_viewport(*before)
        if scheme != default:
            page.emulate_media(color_scheme=default)
    return paths


def _matches(pattern, text):
    if isinstance(pattern, re.Pattern):
        return bool(pattern.search(text or ""))
    return pattern in (text or "")


def _expected(event, expected):
    """True when one of the expected patterns (see assert_clean) covers
    the event."""
    kind = event["kind"]
    for want in expected:
        if kind in ("response", "resource") and event.get("status") is not None:
            if isinstance(want, int) and not isinstance(want, bool):
                if want == event["status"]:
                    return True
                continue
            if isinstance(want, tuple) and len(want) == 2:
                status, where = want
                if status == event["status"] and _matches(where, event.get("url")):
                    return True
                continue
        if isinstance(want, (str, re.Pattern)) and (
                _matches(want, event.get("text")) or
                _matches(want, event.get("url"))):
            return True
    return False


def describe(event):
    kind = event["kind"]
    where = f" on {event['page_url']}" if event.get("page_url") else ""
    if kind == "response":
        return f"HTTP {event['status']} for {event['method']} {event['url']}{where}"
    if kind == "requestfailed":
        return f"request failed ({event['text']}): {event['method']} {event['url']}{where}"
    if kind == "csp":
        return f"CSP violation{where}: {event['text']}"
    if kind == "pageerror":
        return f"uncaught exception{where}: {event['text']}"
    if kind == "console":
        source = f" ({event['url']})" if event.get("url") else ""
        return f"console {event['type']}{where}{source}: {event['text']}"
    if kind == "resource":
        return f"failed load of {event.get('url')}{where}: {event['text']}"
    return f"{kind}{where}: {event.get('text', '')}"


# Chromium's "the server responded with a status of 404 (Not Found)".
RESOURCE_STATUS = re.compile(r"status of (\d{3})")


def problems(events, expected=()):
    """The events that make a page unclean, less those expected: console
    errors, CSP violations, uncaught exceptions, crashes, failed requests
    (but net::ERR_ABORTED: a navigation or an AbortController cancelled
    it, which is normal), responses >= 400. Console warnings are not
    problems. Chromium's console line for a failed load counts only when
    no response or failed request of the same URL tells it already."""
    told = {(e["kind"], e.get("url")) for e in events}
    out = []
    for event in events:
        kind = event["kind"]
        if kind in ("console",) and event.get("type") != "error":
            continue
        if kind == "dialog":
            continue
        if kind == "requestfailed" and "ERR_ABORTED" in event.get("text", ""):
            continue
        if kind == "resource":
            if ("response", event.get("url")) in told or \
                    ("requestfailed", event.get("url")) in told:
                continue
            m = RESOURCE_STATUS.search(event.get("text", ""))
            event = dict(event, status=int(m.group(1)) if m else None)
        if _expected(event, expected):
            continue
        out.append(event)
    return out


def assert_clean(page, expected=()):
    """Fails when, since the last call (or the page's opening), the page
    logged a console error, an uncaught exception, a CSP violation, a
    failed request or a response >= 400, unless one of expected covers it:
      404                      a response with that status, any URL
      (401, "/user/me")        that status for a URL containing the text
                               (or matching a compiled regex)
      "text" or re.compile()   a console message, exception or failed
                               request whose text or URL contains or
                               matches it
    Returns every event it read, so a test can look closer."""
    events = page.events()
    bad = problems(events, expected)
    warnings = [e for e in events
                if e["kind"] == "console" and e.get("type") == "warning"]
    if warnings:
        print("browser console warnings:\n  " +
              "\n  ".join(describe(e) for e in warnings))
    if bad:
        # Raised, not asserted: pytest's rewriting of a plugin's assert
        # would fold the list into its own explanation.
        raise AssertionError(f"{len(bad)} problem(s) in the browser:\n  "
                             + "\n  ".join(describe(e) for e in bad))
    return events


IMPACTS = ("minor", "moderate", "serious", "critical")


def assert_accessible(page, *, ignore=(), impact="serious", **run_options):
    """Runs axe-core on the page as it is and fails on every violation of
    impact `impact` or worse (serious: serious and critical), except the
    rule ids in ignore, listing each with its help text and elements.
    Returns all violations, the milder ones too."""
    violations = page.axe(**run_options)
    floor = IMPACTS.index(impact)
    bad = [v for v in violations if v["id"] not in ignore and
           v.get("impact") in IMPACTS and IMPACTS.index(v["impact"]) >= floor]
    lines = []
    for v in bad:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"][:10]:
            target = " ".join(" >> ".join(t) if isinstance(t, list) else t
                              for t in node["target"])
            lines.append(f"    {target}: {node['html'][:160]}")
        if len(v["nodes"]) > 10:
            lines.append(f"    ... and {len(v['nodes']) - 10} more")
    if bad:
        raise AssertionError(f"accessibility violations on {page.url}:\n  "
                             + "\n  ".join(lines))
    return violations


# ---------------------------------------------------------------------------
# pytest: fixtures, markers, skip or fail
# ---------------------------------------------------------------------------

def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: uses the browser (set by itself on every test "
        "that uses the browser, page or open_page fixture)")
    config.addinivalue_line(
        "markers", "no_clean_check(reason): the page fixture does not run "
        "assert_clean at teardown")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def _unavailable(reason):
    if browser_required():
        pytest.fail(f"browser tests cannot run: {reason}. (CI or "
                    f"TRACKLY_REQUIRE_BROWSER=1 is set, so this is a "
                    f"failure, not a skip.)", pytrace=False)
    pytest.skip(f"browser tests: {reason}")


@pytest.fixture(scope="session")
def browser():
    """The session's Browser (driver and Chromium), started on first use."""
    reason = missing_prerequisite()
    if reason:
        _unavailable(reason)
    b = Browser()
    try:
        b.start()
    except BrowserError as err:
        b.close()
        pytest.fail(f"the browser did not start: {err}", pytrace=False)
    try:
        yield b
    finally:
        b.close()


def _test_failed(request):
    report = getattr(request.node, "rep_call", None)
    return report is not None and report.failed


@pytest.fixture
def open_page(request, browser):
    """open_page(width=1280, height=800, color_scheme="light",
    **context_options) -> a Page in a context of its own (a separate
    device: its own cookies and storage). Every context is closed after the
    test; each page gets assert_clean first, unless the test is marked
    no_clean_check; a failed test gets a screenshot of each page."""
    if not browser.alive():
        print(f"the browser driver had died; starting it again\n"
              f"{browser.log_tail()}")
        browser.restart()
    contexts = []

    def factory(**kwargs):
        context = browser.new_context(**kwargs)
        contexts.append(context)
        return context.new_page()

    yield factory

    failures = []
    check = request.node.get_closest_marker("no_clean_check") is None
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", request.node.name)
    for n, context in enumerate(contexts):
        if context.closed:
            continue
        if not browser.alive():
            failures.append("the browser driver died during the test:\n"
                            + browser.log_tail())
            break
        try:
            pages = context.all_pages()
        except BrowserError as err:
            failures.append(f"listing the pages: {err}")
            pages = []
        for m, page in enumerate(pages):
            try:
                if _test_failed(request):
                    suffix = "" if n == m == 0 else f"-{n}-{m}"
                    shot = page.screenshot(f"{name}-failure{suffix}.png")
                    print(f"screenshot of {page.url}: {shot}")
                    left = page.events()
                    if left:
                        print("browser events:\n  " +
                              "\n  ".join(describe(e) for e in left))
                elif check:
                    assert_clean(page)
            except AssertionError as err:
                failures.append(str(err))
            except BrowserError as err:
                failures.append(f"{page}: {err}")
        try:
            context.close()
        except BrowserError as err:
            failures.append(f"closing the context: {err}")
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


@pytest.fixture
def page(open_page):
    """A fresh Page at 1280x800, light colour scheme, at about:blank."""
    return open_page()
