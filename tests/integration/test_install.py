"""`meson install` (issue 6): what lands in a staging root, and whether the
shipped systemd units, man pages and example environment file are sound.

The build under test is installed with `meson install --destdir` into a
temporary root, then:
- the file list is exactly the expected one;
- the units name the installed binaries and environment file, and pass
  `systemd-analyze verify` (with their ExecStart= paths pointed into the
  staging root, since nothing is installed in the real one);
- `systemd-analyze security --offline=true` scores them, and the scores
  match those recorded in docs/operations.md;
- the man pages render without a groff warning;
- the staged binaries run, and the example environment file, with every
  commented default switched on, is accepted by trackly-api;
- the token key reaches trackly-api and never trackly-monitor, whether it
  is kept in api.env or in the shared trackly.env (issue 12 item 9): the
  environment each unit's EnvironmentFile= and UnsetEnvironment= lines
  give, and the staged monitor running on it.

No systemd runs as PID 1 here: nothing is started under systemd."""

import os
import re
import secrets
from pathlib import Path

import pytest

from helpers.db import apply_schema, db_dsn, scratch_database
from helpers.stack import binary_env, env
from helpers.staging import (in_stage, installed, run, stage_install, unit_dir,
                     unit_text)

UNITS = ("trackly-api.socket", "trackly-api.service", "trackly-monitor.service")
SERVICES = ("trackly-api.service", "trackly-monitor.service")
MAN_PAGES = ("trackly-api.8", "trackly-monitor.8", "trackly-admin.8")
PROGRAMS = ("trackly-api", "trackly-monitor", "trackly-admin")
# An option each man page must describe, besides --help and --env-file.
TELLTALE = {"trackly-api": "--socket", "trackly-monitor": "--once",
            "trackly-admin": "schema apply"}
# Worst `systemd-analyze security` exposure a unit may reach before this
# test calls it a regression (0 is best, 10 worst; both score 1.5 today).
MAX_EXPOSURE = 2.0


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """The build under test installed into a fresh staging root:
    (root, meson's directory options of that build)."""
    return stage_install(tmp_path_factory.mktemp("stage"))


def test_install_puts_every_file_in_place(staged):
    root, opts = staged
    share = ["schema.sql", "trackly.env.example", "trackly-tls.conf.in",
             "trackly-http.conf.in", "trackly-common.conf.in",
             "trackly.conf.in"]
    source = Path(env("TRACKLY_SOURCE_ROOT"))
    want = {installed(opts, "sbindir", p) for p in PROGRAMS}
    want |= {installed(opts, "datadir", "trackly", f) for f in share}
    built = Path(env("TRACKLY_BUILD_DIR")) / "web" / "dist"
    web = sorted(p.name for p in built.iterdir() if p.is_file())
    assert "index.html" in web
    want |= {installed(opts, "datadir", "trackly", "web", f) for f in web}
    want |= {unit_dir(opts) / u for u in UNITS}
    want |= {installed(opts, "mandir", "man8", m) for m in MAN_PAGES}
    got = {Path("/", p.relative_to(root)) for p in root.rglob("*")
           if not p.is_dir()}
    assert got == want, (f"missing: {sorted(map(str, want - got))}, "
                         f"unexpected: {sorted(map(str, got - want))}")
    for prog in PROGRAMS:
        assert os.access(in_stage(root, installed(opts, "sbindir", prog)),
                         os.X_OK)
    for name, origin in [("schema.sql", source / "schema.sql"),
                         *((f"web/{f}", built / f) for f in web)]:
        copy = in_stage(root, installed(opts, "datadir", "trackly", name))
        assert copy.read_bytes() == origin.read_bytes(), name
        assert copy.stat().st_mode & 0o777 == 0o644, name


def test_units_name_the_installed_paths(staged):
    root, opts = staged
    envfile = installed(opts, "sysconfdir", "trackly", "trackly.env")
    for prog, unit in (("trackly-api", "trackly-api.service"),
                       ("trackly-monitor", "trackly-monitor.service")):
        text = unit_text(root, opts, unit)
        assert not re.search(r"@[A-Z_]+@", text), \
            f"{unit}: a template token was left unfilled"
        exec_start = re.search(r"^ExecStart=(\S+)", text, re.M).group(1)
        assert exec_start == str(installed(opts, "sbindir", prog))
        assert "User=trackly\n" in text
    conf = installed(opts, "sysconfdir", "trackly")
    api = unit_text(root, opts, "trackly-api.service")
    assert re.findall(r"^EnvironmentFile=(.*)$", api, re.M) == \
        [str(envfile), f"-{conf / 'api.env'}"]
    assert f"--env-file {envfile}" in api
    assert "UnsetEnvironment" not in api
    socket = unit_text(root, opts, "trackly-api.socket")
    for line in ("ListenStream=/run/trackly/api.sock", "SocketGroup=www-data",
                 "SocketMode=0660"):
        assert line + "\n" in socket
    monitor = unit_text(root, opts, "trackly-monitor.service")
    assert re.findall(r"^EnvironmentFile=(.*)$", monitor, re.M) == \
        [str(envfile), f"-{conf / 'monitor.env'}"]
    assert re.search(r"^ExecStart=\S+$", monitor, re.M), \
        "the monitor reads no --env-file (systemd gives it its environment)"
    for line in ("Type=notify", "Restart=on-failure", "IPAddressAllow=localhost"):
        assert line + "\n" in monitor
    assert re.search(r"^WatchdogSec=\S+", monitor, re.M)
    assert re.search(r"^IPAddressDeny=.*\b10\.0\.0\.0/8\b", monitor, re.M)
    assert re.search(r"^IPAddressDeny=.*\blink-local\b", monitor, re.M)


@pytest.fixture(scope="module")
def verifiable_units(staged, tmp_path_factory):
    """Copies of the installed units whose binaries point into the staging
    root: systemd-analyze checks that ExecStart= exists, and --root= on
    systemd 252 also wants a whole system (sysinit.target, /bin/sh) there."""
    root, opts = staged
    out = tmp_path_factory.mktemp("units")
    sbin = str(installed(opts, "sbindir")) + "/"
    for unit in UNITS:
        text = unit_text(root, opts, unit)
        text = text.replace("=" + sbin, "=" + str(in_stage(root, sbin)) + "/")
        (out / unit).write_text(text)
    return out


def analyze_env(staged):
    """systemd-analyze runs `man` on each Documentation=man:… entry: let it
    find the staged pages (and only those)."""
    root, opts = staged
    return binary_env(MANPATH=str(in_stage(root, installed(opts, "mandir"))))


def test_systemd_analyze_verify_passes(staged, verifiable_units):
    r = run(["systemd-analyze", "verify", *UNITS], cwd=verifiable_units,
            env=analyze_env(staged))
    # verify exits 0 on unknown keys and unparsable values: any output is a
    # finding.
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), \
        r.stdout + r.stderr


def exposure(units_dir, unit, env_vars):
    r = run(["systemd-analyze", "security", "--offline=true", "--no-pager",
             unit], cwd=units_dir, env=env_vars)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", r.stdout)
    assert m, r.stdout
    return m.group(1)


def test_security_scores_are_low_and_recorded(staged, verifiable_units):
    doc = (Path(env("TRACKLY_SOURCE_ROOT")) / "docs" / "operations.md").read_text()
    for unit in SERVICES:
        score = exposure(verifiable_units, unit, analyze_env(staged))
        assert float(score) <= MAX_EXPOSURE, f"{unit}: exposure {score}"
        recorded = re.search(rf"^\| `{re.escape(unit)}` \| (\d+\.\d) ", doc,
                             re.M)
        assert recorded, f"docs/operations.md records no score for {unit}"
        assert recorded.group(1) == score, \
            f"{unit} scores {score}; docs/operations.md says {recorded.group(1)}"


@pytest.mark.parametrize("page", MAN_PAGES)
def test_man_page_renders_without_warnings(staged, page):
    root, opts = staged
    path = in_stage(root, installed(opts, "mandir", "man8", page))
    r = run(["groff", "-man", "-Tutf8", "-ww", "-z", str(path)])
    assert r.returncode == 0 and not r.stderr, r.stderr
    r = run(["man", "--warnings", "-l", str(path)],
            env=binary_env(MANWIDTH="80"))
    assert r.returncode == 0 and not r.stderr, r.stderr
    prog = page.removesuffix(".8")
    assert prog in r.stdout
    for section in ("SYNOPSIS", "OPTIONS", "ENVIRONMENT", "SIGNALS", "FILES",
                    "EXIT STATUS"):
        assert section in r.stdout, f"{page} has no {section} section"
    for option in ("--help", "--env-file"):
        assert option in r.stdout
    assert TELLTALE[prog] in r.stdout


@pytest.mark.parametrize("prog", PROGRAMS)
def test_staged_binaries_run(staged, prog):
    root, opts = staged
    binary = in_stage(root, installed(opts, "sbindir", prog))
    r = run([str(binary), "--help"], timeout=10, env=binary_env())
    assert r.returncode == 0, r.stderr
    assert f"Usage: {prog}" in r.stdout
    r = run([str(binary), "--version"], timeout=10, env=binary_env())
    assert r.returncode == 0 and r.stdout.startswith(prog), r.stdout + r.stderr


def test_env_example_defaults_are_accepted(staged, tmp_path):
    """Every `#NAME=value` line of the example claims to be the default: all
    of them switched on, with a key and the test database filled in, must
    get trackly-api past its configuration and schema checks to the point
    where it asks for a socket."""
    root, opts = staged
    example = in_stage(root, installed(opts, "datadir", "trackly",
                                       "trackly.env.example")).read_text()
    lines = []
    for line in example.splitlines():
        m = re.match(r"^#([A-Z_]+)=(.*)$", line)
        if m:
            line = f"{m.group(1)}={m.group(2)}"
        if line.startswith("JWT_SECRET_FILE="):
            continue                 # the key is given inline below
        if line.startswith("JWT_SECRET="):
            line = "JWT_SECRET=" + "ab" * 32
        if line.startswith("DB_URL="):
            line = "DB_URL=" + db_dsn()
        lines.append(line)
    names = [l.split("=", 1)[0] for l in lines if re.match(r"^[A-Z_]+=", l)]
    assert len(names) == len(set(names)), "a variable appears twice"
    envfile = tmp_path / "trackly.env"
    envfile.write_text("\n".join(lines) + "\n")
    binary = in_stage(root, installed(opts, "sbindir", "trackly-api"))
    r = run([str(binary), "--env-file", str(envfile)], timeout=20,
            env=binary_env())
    assert r.returncode == 1
    assert "no socket" in r.stderr, r.stderr


def unit_environment(unit, files):
    """The environment systemd gives unit's process (as far as these units
    use it): each EnvironmentFile= in order, later files winning, one
    prefixed "-" allowed to be missing, then UnsetEnvironment= removing
    names whatever set them.  files maps an installed path to its text."""
    result = {}
    for entry in re.findall(r"^EnvironmentFile=(.*)$", unit, re.M):
        optional = entry.startswith("-")
        path = Path(entry.removeprefix("-"))
        if path not in files:
            assert optional, f"{path} is required and missing"
            continue
        for line in files[path].splitlines():
            m = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
            if m and not line.lstrip().startswith("#"):
                result[m.group(1)] = m.group(2)
    for line in re.findall(r"^UnsetEnvironment=(.*)$", unit, re.M):
        for name in line.split():
            result.pop(name, None)
    return result


@pytest.mark.parametrize("where", ["api.env", "trackly.env"])
def test_only_the_api_gets_the_token_key(staged, where):
    """The key in api.env (what the Debian package makes), or in the one
    shared file of a small install: trackly-api's environment has it,
    trackly-monitor's has no JWT_* at all, and the staged monitor runs a
    pass on that environment."""
    root, opts = staged
    conf = installed(opts, "sysconfdir", "trackly")
    key, previous = secrets.token_hex(32), secrets.token_hex(32)
    keys = f"JWT_SECRET={key}\nJWT_SECRET_PREVIOUS={previous}\n"
    with scratch_database("trackly_install_keys") as name:
        apply_schema(name)
        shared = f"DB_URL={db_dsn(name)}\nTRACKLY_ALLOW_PRIVATE_TARGETS=1\n"
        files = {conf / "trackly.env": shared + (keys if where ==
                                                 "trackly.env" else "")}
        if where == "api.env":
            files[conf / "api.env"] = keys
        api = unit_environment(unit_text(root, opts, "trackly-api.service"),
                               files)
        assert (api["JWT_SECRET"], api["JWT_SECRET_PREVIOUS"]) == \
            (key, previous)
        monitor = unit_environment(
            unit_text(root, opts, "trackly-monitor.service"), files)
        assert monitor["DB_URL"] == db_dsn(name)
        assert not [k for k in monitor if k.startswith("JWT_")], monitor
        binary = in_stage(root, installed(opts, "sbindir", "trackly-monitor"))
        r = run([str(binary), "--once"], timeout=30,
                env=binary_env(**monitor))
        assert r.returncode == 0, r.stderr


def test_env_example_lists_every_variable():
    """The example documents each variable the README's table lists."""
    source = Path(env("TRACKLY_SOURCE_ROOT"))
    readme = (source / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Z_]+)`", table))
    example = (source / "trackly.env.example").read_text()
    listed = set(re.findall(r"^#?([A-Z][A-Z_]+)=", example, re.M))
    assert documented and documented <= listed, sorted(documented - listed)
