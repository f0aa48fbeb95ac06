"""
`meson install` into a staging root, for the tests of what an operator
installs (test_install.py, test_deploy.py).

    root, opts = stage_install(Path(mkdtemp()))
    installed(opts, "sbindir", "trackly-api")    # /usr/local/sbin/trackly-api
    in_stage(root, that)                         # root/usr/local/sbin/...

opts are meson's build options of TRACKLY_BUILD_DIR (prefix, sbindir,
datadir, sysconfdir, mandir, systemdsystemunitdir, ...).
"""

import json
import re
import subprocess
from pathlib import Path

from helpers.stack import env


def run(args, timeout=60, **kw):
    return subprocess.run(args, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, **kw)


def stage_install(root):
    """Installs the build under test into root (meson install --destdir)
    and returns (root, options of that build)."""
    build = env("TRACKLY_BUILD_DIR")
    r = run(["meson", "introspect", build, "--buildoptions"])
    assert r.returncode == 0, r.stderr
    opts = {o["name"]: o["value"] for o in json.loads(r.stdout)}
    r = run(["meson", "install", "-C", build, "--no-rebuild", "--quiet",
             "--destdir", str(root)], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return root, opts


def installed(opts, key, *names):
    """The installed path (no staging root) of names under option key."""
    return Path(opts["prefix"], opts[key], *names)


def unit_dir(opts):
    if opts["systemdsystemunitdir"]:
        return Path(opts["systemdsystemunitdir"])
    return Path(opts["prefix"], "lib", "systemd", "system")


def in_stage(root, path):
    return root / Path(path).relative_to("/")


def unit_text(root, opts, unit):
    return in_stage(root, unit_dir(opts) / unit).read_text()


def unit_values(text, key):
    """Every value of key= in a unit's text, in order ([Service] keys are
    unique enough in our units for this)."""
    return re.findall(rf"^{re.escape(key)}=(.*)$", text, re.M)
