"""The running stack the suite tests (started by `./dev test` and found
through the TRACKLY_* variables, README.md): its URL, its logs, the API
master and workers, and private trackly-api instances started by hand."""

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from helpers.logs import file_size, read_since, upstream_errors
from helpers.procs import children_of, memory


# Seconds any single HTTP call may take before the test fails.
TIMEOUT = 10


def env(name):
    """The value of a TRACKLY_* variable, or a clear failure when the
    runner did not set it."""
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set; run the suite with `./dev test`")
    return value


def _base_url():
    parts = urlsplit(os.environ.get("TRACKLY_URL", ""))
    netloc = parts.netloc
    # nginx listens on 127.0.0.1; "localhost" may resolve to ::1 first, and
    # an IPv4 source address cannot reach that.
    if parts.hostname == "localhost":
        netloc = netloc.replace("localhost", "127.0.0.1", 1)
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


BASE_URL = _base_url()


def url(path):
    return BASE_URL + path


def api_master():
    return int(env("TRACKLY_API_PID"))


def api_workers():
    return int(os.environ.get("TRACKLY_API_WORKERS", "2"))


def binary_env(**extra):
    """A minimal environment for starting trackly-api by hand: PATH, locale
    and sanitizer settings from ours, plus extra (None values dropped)."""
    keep = ("PATH", "LANG", "LC_ALL", "LD_LIBRARY_PATH", "TZ")
    base = {k: v for k, v in os.environ.items()
            if k in keep or k.startswith(("ASAN_", "UBSAN_", "LSAN_"))}
    base.update({k: v for k, v in extra.items() if v is not None})
    return base


GOOD_SECRET = "integration-test-secret-" + "x" * 16   # 40 bytes


def run_binary(args, env_vars, timeout=10):
    """Runs the API binary to completion; returns CompletedProcess (text)."""
    return subprocess.run([env("TRACKLY_API_BIN"), *args], env=env_vars,
                          stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def nonempty_lines(text):
    return [line for line in text.splitlines() if line.strip()]


@contextlib.contextmanager
def api_instance(env_vars, workers=1):
    """Starts a private trackly-api on its own socket in a temporary
    directory; yields (Popen, socket path).  Output goes to files (read
    them from proc.out_path / proc.err_path) so a chatty program cannot
    block on a full pipe.  Killed at exit if still running."""
    tmp = Path(tempfile.mkdtemp(prefix="trackly-it-"))
    sock = tmp / "api.sock"
    out, err = open(tmp / "stdout", "w+"), open(tmp / "stderr", "w+")
    proc = subprocess.Popen(
        [env("TRACKLY_API_BIN"), "--socket", str(sock),
         "--workers", str(workers)],
        env=env_vars, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    proc.out_path, proc.err_path = tmp / "stdout", tmp / "stderr"
    try:
        yield proc, sock
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        out.close()
        err.close()
        shutil.rmtree(tmp, ignore_errors=True)


def pgctl(action):
    """Runs `$TRACKLY_PGCTL stop|start`, which waits until done."""
    subprocess.run([env("TRACKLY_PGCTL"), action], check=True, timeout=120,
                   stdin=subprocess.DEVNULL, capture_output=True)


def log_size(name):
    """Current size of the log a TRACKLY_*_LOG variable names (0 if none)."""
    return file_size(env(name))


def log_since(name, offset):
    """What the log a TRACKLY_*_LOG variable names gained after offset
    (see log_size); "" if it cannot be read."""
    return read_since(env(name), offset)


def upstream_errors_since(offset):
    """Lines nginx's error log gained after byte offset that report a
    failed exchange with the API (502s, resets, timeouts)."""
    return upstream_errors(log_since("TRACKLY_NGINX_LOG", offset))


def log_files(name):
    """The files a TRACKLY_*_LOG variable points at: the file itself, or
    every regular file in it when it names a directory."""
    path = Path(env(name))
    if path.is_dir():
        return [p for p in path.rglob("*") if p.is_file()]
    return [path] if path.exists() else []


def api_log_since(offset):
    return log_since("TRACKLY_API_LOG", offset)


def nginx_log_since(offset):
    return log_since("TRACKLY_NGINX_LOG", offset)


def worker_memory():
    """{pid: (VmRSS, VmHWM) in KiB} of each API worker, from /proc."""
    out = {}
    for pid in children_of(api_master()):
        figures = memory(pid)
        if figures:
            out[pid] = figures
    return out


def under_asan():
    """True when the stack runs the sanitizer build (./dev test
    --sanitize), whose memory figures mean nothing."""
    return Path(os.environ.get("TRACKLY_BUILD_DIR", "")).name == "build-asan"
