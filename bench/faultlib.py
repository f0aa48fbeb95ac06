"""faultlib: what the API fault benchmarks share (bench/fault-pg-restart,
bench/fault-worker-kill, bench/soak-api).

They run under `./dev bench NAME`, which builds build-release/, starts a
throwaway stack (PostgreSQL, nginx, trackly-api) and passes it in TRACKLY_*
variables (see `dev`, cmd_bench). This module sets up users and projects
over HTTP, drives wrk with bench/fault-load.lua, reads what that script
wrote (status counts, failures by kind, a 100 ms timeline), looks at
processes in /proc, and records the latest run of each benchmark in its
own section of bench/results-faults.md.

Everything talks to 127.0.0.1 only, and every wait is bounded.
"""

import datetime
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(HERE)
# /proc and log reads are written once, in the integration suite's helpers
# (tests/integration/helpers/); the benchmarks call them as fl.NAME.
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from helpers import logs, procs  # noqa: E402

children_of, is_dead, memory = procs.children_of, procs.is_dead, procs.memory
file_size, read_since = logs.file_size, logs.read_since
upstream_errors = logs.upstream_errors
RESULTS = os.path.join(HERE, "results-faults.md")
LUA = os.path.join(HERE, "fault-load.lua")
PASSWORD = "fault-bench-password-1234"


def say(msg):
    print(f"==> {msg}", flush=True)


def note(msg):
    print(f"    {msg}", flush=True)


def die(name, msg):
    print(f"bench/{name}: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def under_dev(name, argv):
    """Run directly (no stack yet): let ./dev build and start the stack and
    call us back."""
    if not os.environ.get("TRACKLY_URL"):
        dev = os.path.join(ROOT, "dev")
        os.execv(dev, [dev, "bench", name] + argv)


class Stack:
    """The stack ./dev bench started, from its TRACKLY_* variables."""

    def __init__(self, name):
        need = ("TRACKLY_URL", "TRACKLY_API_PID", "TRACKLY_API_LOG",
                "TRACKLY_NGINX_LOG", "TRACKLY_LOG_DIR", "TRACKLY_PGCTL",
                "TRACKLY_BUILD_DIR")
        for var in need:
            if not os.environ.get(var):
                die(name, f"{var} is not set (run ./dev bench {name})")
        self.url = os.environ["TRACKLY_URL"]
        m = re.match(r"http://([0-9.]+):(\d+)$", self.url)
        if not m:
            die(name, f"unexpected TRACKLY_URL {self.url}")
        self.host, self.port = m.group(1), int(m.group(2))
        self.api_pid = int(os.environ["TRACKLY_API_PID"])
        self.api_log = os.environ["TRACKLY_API_LOG"]
        self.nginx_log = os.environ["TRACKLY_NGINX_LOG"]
        self.log_dir = os.environ["TRACKLY_LOG_DIR"]
        self.pgctl = os.environ["TRACKLY_PGCTL"]
        self.build_dir = os.environ["TRACKLY_BUILD_DIR"]

    def http(self, method, path, body=None, token=None, ip="127.0.0.1",
             timeout=10):
        """One request; returns (status, headers dict, body bytes)."""
        conn = http.client.HTTPConnection(self.host, self.port,
                                          timeout=timeout,
                                          source_address=(ip, 0))
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        try:
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, \
                r.read()
        finally:
            conn.close()

    def pg(self, action):
        """$TRACKLY_PGCTL start|stop|stop-immediate (each waits)."""
        subprocess.run([self.pgctl, action], check=True, timeout=120,
                       stdin=subprocess.DEVNULL, capture_output=True)

    def workers(self):
        return sorted(children_of(self.api_pid))

    def healthy(self):
        try:
            return self.http("GET", "/healthcheck", timeout=5)[0] == 200
        except OSError:
            return False


# --- data --------------------------------------------------------------------

def make_users(stack, name, count, projects):
    """count users with projects each; each registers and logs in from a
    loopback address of its own (nginx rate-limits those routes per
    address). Returns [{email, token, ids}]."""
    users = []
    stamp = int(time.time())
    for i in range(count):
        ip = f"127.0.{200 + i}.{1 + stamp % 250}"
        email = f"{name}-{stamp}-{i}@example.com"
        st, _, body = stack.http("POST", "/user/register",
                                 {"email": email, "password": PASSWORD},
                                 ip=ip)
        if st != 201:
            die(name, f"registration answered {st}: {body[:200]!r}")
        st, _, body = stack.http("POST", "/user/login",
                                 {"email": email, "password": PASSWORD},
                                 ip=ip)
        if st != 200:
            die(name, f"login answered {st}: {body[:200]!r}")
        token = json.loads(body)["token"]
        ids = []
        for p in range(projects):
            st, _, body = stack.http(
                "POST", "/project",
                {"name": f"Site {i}-{p}", "description": "fault bench",
                 "link": f"https://site-{i}-{p}.example.com/status"},
                token=token)
            if st != 201:
                die(name, f"creating a project answered {st}: {body[:200]!r}")
            ids.append(json.loads(body)["id"])
        users.append({"email": email, "token": token, "ids": ids})
    return users


def tidy_projects(stack, users):
    """Deletes the projects the load created and left (a thread's queue at
    the end of a wrk run), so the next run starts from the same data."""
    removed = 0
    for u in users:
        st, _, body = stack.http("GET", "/project?limit=1000",
                                 token=u["token"])
        if st != 200:
            continue
        for p in json.loads(body):
            if p["id"] not in u["ids"]:
                stack.http("DELETE", f"/project/{p['id']}", token=u["token"])
                removed += 1
    return removed


# --- wrk ----------------------------------------------------------------------

class Load:
    """One wrk run with bench/fault-load.lua, in the background."""

    def __init__(self, stack, users, out, *, mix="crud", seconds=60,
                 connections=32, threads=2, timeout=5, login_every=0):
        self.out = out
        self.seconds = seconds
        env = dict(os.environ,
                   FAULT_MIX=mix,
                   FAULT_TOKENS=",".join(u["token"] for u in users),
                   FAULT_IDS=";".join(",".join(map(str, u["ids"]))
                                      for u in users),
                   FAULT_EMAILS=",".join(u["email"] for u in users),
                   FAULT_PASSWORD=PASSWORD,
                   FAULT_LOGIN_EVERY=str(login_every),
                   FAULT_OUT=out)
        self.cmd = ["wrk", f"-t{threads}", f"-c{connections}",
                    f"-d{seconds}s", "--timeout", f"{timeout}s",
                    "-s", LUA, stack.url + "/project"]
        self.stdout_path = out + ".stdout"
        self.started = time.monotonic()
        with open(self.stdout_path, "w") as so:
            self.proc = subprocess.Popen(
                ["timeout", "-s", "INT", str(seconds + 60)] + self.cmd,
                env=env, stdin=subprocess.DEVNULL, stdout=so,
                stderr=subprocess.STDOUT, start_new_session=True)

    def command(self):
        """The wrk command line as a reader can repeat it."""
        shown = [os.path.relpath(a, ROOT) if a == LUA else a
                 for a in self.cmd[:-1]]
        return " ".join(shown + ["$TRACKLY_URL/project"])

    def running(self):
        return self.proc.poll() is None

    def stop(self):
        if self.running():
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def wait(self):
        """Waits for wrk; returns its parsed result (Result)."""
        try:
            self.proc.wait(timeout=self.seconds + 90)
        except subprocess.TimeoutExpired:
            self.stop()
        with open(self.stdout_path) as f:
            text = f.read()
        if self.proc.returncode != 0 or not os.path.exists(self.out):
            raise RuntimeError(f"wrk failed (status {self.proc.returncode}):"
                               f"\n{text}")
        return Result(self.out, text)


class Result:
    """What fault-load.lua's done() wrote, plus wrk's own text."""

    def __init__(self, path, text):
        self.text = text
        self.ok, self.fail, self.statuses = {}, {}, {}
        self.failures = []          # (count, first bucket, key)
        with open(path) as f:
            for line in f:
                kind, _, rest = line.rstrip("\n").partition(" ")
                if kind == "summary":
                    v = list(map(int, rest.split()))
                    (self.duration_us, self.requests, self.connect_errors,
                     self.read_errors, self.write_errors, self.status_errors,
                     self.timeouts) = v
                elif kind == "latency":
                    self.max_us, self.p50_us, self.p99_us, self.p999_us = \
                        map(int, rest.split())
                elif kind in ("ok", "fail", "status"):
                    k, v = map(int, rest.split())
                    getattr(self, "statuses" if kind == "status"
                            else kind)[k] = v
                elif kind == "failure":
                    count, first, key = rest.split(" ", 2)
                    self.failures.append((int(count), int(first), key))
        self.failures.sort(reverse=True)

    @property
    def socket_errors(self):
        return self.connect_errors + self.read_errors + self.write_errors

    @property
    def failed(self):
        return sum(c for c, _, _ in self.failures)

    @property
    def rate(self):
        return self.requests / (self.duration_us / 1e6)

    def per_second(self, start, end):
        """2xx per second in each whole second of [start, end) (monotonic
        seconds)."""
        out = []
        b = int(start * 10)
        while b + 10 <= int(end * 10):
            out.append(sum(self.ok.get(x, 0) for x in range(b, b + 10)))
            b += 10
        return out

    def failures_outside(self, start, end):
        """Failed responses whose 100 ms bucket lies outside [start, end]."""
        return sum(v for b, v in self.fail.items()
                   if b / 10 + 0.1 <= start or b / 10 > end)

    def recovery(self, back, baseline, share=0.75, window=5):
        """Seconds from back until the first window of window x 100 ms
        whose 2xx count reaches share of the baseline rate and after which
        nothing fails; None if never."""
        last_fail = max(self.fail) if self.fail else 0
        need = baseline * share * window / 10
        b = int(back * 10)
        end = max(self.ok) if self.ok else b
        while b <= end:
            got = sum(self.ok.get(x, 0) for x in range(b, b + window))
            if got >= need and b > last_fail:
                return max(0.0, (b + window) / 10 - back)
            b += 1
        return None

    def timeline(self, start, end):
        """Lines "t  2xx  failed" per 100 ms of [start, end), t relative to
        start."""
        lines = []
        for b in range(int(start * 10), int(end * 10)):
            lines.append((b / 10 - start, self.ok.get(b, 0),
                          self.fail.get(b, 0)))
        return lines


# --- processes and logs -----------------------------------------------------

def alive(pid):
    return not is_dead(pid)


def worker_deaths(text):
    """trackly-api master log lines reporting a dead worker."""
    return [line for line in text.splitlines()
            if re.search(r"worker \d+ (killed by signal|exited with)", line)]


# --- the machine ---------------------------------------------------------------

def cpu_idle(seconds=2):
    """Share (%) of all CPU time left idle over the next seconds."""
    def sample():
        with open("/proc/stat") as f:
            v = list(map(int, f.readline().split()[1:9]))
        return sum(v), v[3] + v[4]
    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return round(100 * (i1 - i0) / max(1, t1 - t0))


def machine():
    """One line about this machine."""
    model = "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True,
                             timeout=10).stdout
        m = re.search(r"^Model name:\s*(.+)$", out, re.M)
        if m:
            model = m.group(1).strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return (f"{os.cpu_count()} CPUs ({model}), "
            f"{mem_kb / 1024 / 1024:.1f} GiB RAM, Linux {os.uname().release}")


def commit():
    def git(*args):
        return subprocess.run(["git", "-C", ROOT] + list(args),
                              capture_output=True, text=True,
                              timeout=10).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return head + (" + uncommitted changes" if dirty else "")


def context(idle):
    """The lines every recorded run starts with."""
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    now = datetime.datetime.now(datetime.timezone.utc)
    shared = ("" if idle >= 90 else
              f" — **the machine was shared**: only {idle} % of the CPUs "
              "were idle just before the run (other jobs were running), so "
              "rates and latencies are lower and noisier than on a quiet "
              "machine")
    return [f"- date: {now:%Y-%m-%d %H:%M} UTC; commit {commit()}",
            f"- machine: {machine()}",
            f"- CPUs idle just before the run: {idle} % (load average "
            f"{load}){shared}"]


# --- verdicts and the results file ------------------------------------------

class Verdict:
    def __init__(self):
        self.rows = []

    def check(self, promise, ok, detail):
        self.rows.append((promise, bool(ok), detail))
        print(f"    {'PASS' if ok else 'FAIL'}  {promise}: {detail}",
              flush=True)

    @property
    def passed(self):
        return all(ok for _, ok, _ in self.rows)

    def table(self):
        lines = ["| promise | verdict | measured |", "|---|---|---|"]
        for promise, ok, detail in self.rows:
            lines.append(f"| {promise} | {'PASS' if ok else '**FAIL**'} | "
                         f"{detail} |")
        return lines


HEADER = """# Fault scenarios: recorded results

Issue 5's load-with-faults promises, each checked by one command; each
section holds the latest recorded run of its benchmark (the benchmarks
rewrite their own section). What each promise means and how it is checked:
docs/reliability.md. Figures depend on the machine and on what else runs on
it; each section says both.
"""


def record(title, lines):
    """Replaces the section "## title" of bench/results-faults.md (up to the
    next "## " heading) with lines, or appends it."""
    try:
        with open(RESULTS) as f:
            text = f.read()
    except FileNotFoundError:
        text = HEADER
    body = f"## {title}\n\n" + "\n".join(lines).rstrip() + "\n"
    pattern = re.compile(r"^## " + re.escape(title) + r"\n.*?(?=^## |\Z)",
                         re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: body + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + body
    with open(RESULTS, "w") as f:
        f.write(text.rstrip("\n") + "\n")


def failure_table(result, limit=12):
    lines = ["| count | status, content type, body |", "|---:|---|"]
    for count, _, key in result.failures[:limit]:
        lines.append(f"| {count} | `{key.replace('|', '/')}` |")
    if len(result.failures) > limit:
        lines.append(f"| … | {len(result.failures) - limit} more kinds |")
    return lines


def median(values):
    return statistics.median(values) if values else 0
