"""The Debian package (issue 6): `dpkg-buildpackage -us -uc -b` on a copy
of the source tree (never in the checkout, so the checkout stays clean and
its build directories do not leak in), then the .deb is inspected:

- `dpkg-deb -c`: exactly the expected files, binaries executable, units in
  the systemd unit directory, man pages, /usr/share/trackly;
- `dpkg-deb -I`: Depends computed by dh_shlibdeps (the libraries the
  binaries link), plus adduser for postinst;
- the maintainer scripts: postinst creates the trackly user and copies the
  example environment file only when none exists, mode 0640 root:trackly;
  units are never enabled or started by the package; postrm removes the
  configuration on purge only;
- the packaged binaries and units name the /usr and /etc paths;
- lintian (bookworm's 2.116) on the .changes (the .deb, its -dbgsym and
  the .buildinfo): no error and no warning; the tags kept are overridden,
  with a reason each, in debian/trackly.lintian-overrides;
- with TRACKLY_TEST_DPKG=1, as root, on a machine without the package (CI's
  throwaway machines; .ci/run sets it): `dpkg -i`, what the operator gets,
  the same .deb again as an upgrade, `dpkg -r`, `dpkg --purge`.  That test
  changes the machine; it purges the package whatever happens, and leaves
  only the trackly system user behind (Debian keeps system users).

The build takes from seconds to a couple of minutes on a busy machine; it
is bounded by BUILD_TIMEOUT."""

import grp
import os
import pwd
import re
import shutil
from pathlib import Path

import pytest

from helpers.stack import binary_env, env
from helpers.staging import run

BUILD_TIMEOUT = 600
PROGRAMS = ("trackly-admin", "trackly-api", "trackly-monitor")
UNITS = ("trackly-api.socket", "trackly-api.service", "trackly-monitor.service")
SHARE = ("schema.sql", "trackly.env.example", "trackly-tls.conf.in",
         "trackly-http.conf.in", "trackly-common.conf.in", "trackly.conf.in")
# Libraries the binaries link; dh_shlibdeps must have named their packages.
SHLIB_PACKAGES = ("libargon2-1", "libc6", "libcjson1", "libcurl4",
                  "libesmtp6", "libfcgi0ldbl", "libpq5", "libssl3",
                  "libsystemd0")
# What a copy of the tree leaves out: VCS data, local build output and
# the browser tests' npm packages.
IGNORE = shutil.ignore_patterns(".git", "build", "build-*", ".run",
                                "__pycache__", ".pytest_cache", "obj-*",
                                "node_modules")


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """Builds the package from a copy of the tree; returns (deb, workdir)."""
    if not shutil.which("dpkg-buildpackage") or \
            not Path("/usr/bin/dh").exists():
        pytest.fail("dpkg-buildpackage or debhelper is missing: ./dev "
                    "installs them (PACKAGES)")
    source = Path(env("TRACKLY_SOURCE_ROOT"))
    work = tmp_path_factory.mktemp("deb")
    tree = work / "trackly"
    shutil.copytree(source, tree, ignore=IGNORE, symlinks=True)
    before = sorted(p.name for p in source.iterdir())
    r = run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=tree,
            timeout=BUILD_TIMEOUT,
            env=binary_env(HOME=str(work), DEB_BUILD_OPTIONS="nocheck"))
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    after = sorted(p.name for p in source.iterdir())
    assert before == after, "the package build touched the checkout"
    debs = [p for p in work.glob("trackly_*.deb")]
    assert len(debs) == 1, sorted(map(str, work.iterdir()))
    return debs[0], work


def contents(deb):
    """{path: (mode string, owner)} of the package's files and links."""
    r = run(["dpkg-deb", "-c", str(deb)])
    assert r.returncode == 0, r.stderr
    files = {}
    for line in r.stdout.splitlines():
        fields = line.split()
        mode, owner, path = fields[0], fields[1], fields[5]
        if not mode.startswith("d"):
            files[path.removeprefix(".")] = (mode, owner)
    return files


def test_package_holds_what_it_should(package):
    deb, _ = package
    files = contents(deb)
    unit_dirs = {str(Path(p).parent) for p in files if p.endswith(UNITS)}
    assert len(unit_dirs) == 1 and unit_dirs <= {"/lib/systemd/system",
                                                 "/usr/lib/systemd/system"}
    unit_dir = unit_dirs.pop()
    want = {f"/usr/sbin/{p}" for p in PROGRAMS}
    want |= {f"{unit_dir}/{u}" for u in UNITS}
    want |= {f"/usr/share/man/man8/{p}.8.gz" for p in PROGRAMS}
    want |= {f"/usr/share/trackly/{f}" for f in SHARE}
    # The package builds the web client from the same sources with the same
    # esbuild, and web/build.py's output is reproducible: the same names.
    web = Path(env("TRACKLY_BUILD_DIR")) / "web" / "dist"
    want |= {f"/usr/share/trackly/web/{p.name}" for p in web.iterdir()
             if p.is_file()}
    want |= {"/usr/share/doc/trackly/changelog.gz",
             "/usr/share/doc/trackly/copyright",
             "/usr/share/lintian/overrides/trackly"}
    assert set(files) == want, (f"missing: {sorted(want - set(files))}, "
                                f"unexpected: {sorted(set(files) - want)}")
    for path, (mode, owner) in files.items():
        assert owner == "root/root", path
        if path.startswith("/usr/sbin/"):
            assert mode == "-rwxr-xr-x", path
        else:
            assert mode == "-rw-r--r--", path
    # No configuration file is shipped as a conffile: postinst makes it.
    assert not any(p.startswith("/etc/") for p in files)


def control_field(deb, name):
    r = run(["dpkg-deb", "-f", str(deb), name])
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_depends_come_from_shlibs(package):
    deb, _ = package
    r = run(["dpkg-deb", "-I", str(deb)])
    assert r.returncode == 0, r.stderr
    assert "Package: trackly" in r.stdout
    depends = control_field(deb, "Depends")
    assert "${" not in depends, depends
    names = {re.split(r"[\s(]", d.strip())[0] for d in depends.split(",")}
    missing = set(SHLIB_PACKAGES) - names
    assert not missing, f"Depends lacks {sorted(missing)}: {depends}"
    assert "adduser" in names
    assert control_field(deb, "Architecture") != "all"


@pytest.fixture(scope="module")
def scripts(package):
    deb, work = package
    out = work / "control"
    r = run(["dpkg-deb", "-e", str(deb), str(out)])
    assert r.returncode == 0, r.stderr
    return out


def test_postinst_makes_user_and_config_but_starts_nothing(scripts):
    text = (scripts / "postinst").read_text()
    assert re.search(r"adduser --system --group\b.* trackly$", text, re.M | re.S)
    assert "/usr/share/trackly/trackly.env.example /etc/trackly/trackly.env" \
        in text
    assert "[ ! -e /etc/trackly/trackly.env ]" in text
    assert "-o root -g trackly -m 0640" in text
    # The token key for the API alone: api.env, root-only, made once and
    # only when trackly.env holds no key.
    assert "[ ! -e /etc/trackly/api.env ]" in text
    assert "umask 077" in text and "/dev/urandom" in text
    assert "JWT_SECRET(_FILE)?" in text
    # debhelper's snippets with --no-enable --no-start: units are only
    # re-enabled when the operator had enabled them, and never started.
    for bad in ("deb-systemd-invoke", "systemctl start",
                "systemctl enable", "systemctl restart"):
        assert bad not in text, f"postinst runs {bad}"
    enables = text.count("deb-systemd-helper enable")
    assert enables == text.count("deb-systemd-helper --quiet was-enabled")
    for unit in UNITS:
        assert f"'{unit}'" in text
    r = run(["sh", "-n", str(scripts / "postinst")])
    assert r.returncode == 0, r.stderr


def test_postrm_removes_config_on_purge_only(scripts):
    text = (scripts / "postrm").read_text()
    r = run(["sh", "-n", str(scripts / "postrm")])
    assert r.returncode == 0, r.stderr
    ours = text.split("#DEBHELPER#")[0] if "#DEBHELPER#" in text else text
    m = re.search(r'if \[ "\$1" = purge \]; then\n(.*?)\nfi', ours, re.S)
    assert m, "postrm has no purge branch"
    assert "rm -f /etc/trackly/trackly.env" in m.group(1)
    assert "/etc/trackly/api.env" in m.group(1)
    assert ours.count("/etc/trackly/trackly.env") == 1


def test_packaged_files_name_installed_paths(package):
    deb, work = package
    root = work / "root"
    r = run(["dpkg-deb", "-x", str(deb), str(root)])
    assert r.returncode == 0, r.stderr
    units = list(root.glob("*lib/systemd/system")) + \
        list(root.glob("usr/lib/systemd/system"))
    unit_dir = next(d for d in units if d.is_dir())
    for prog, unit in (("trackly-api", "trackly-api.service"),
                       ("trackly-monitor", "trackly-monitor.service")):
        text = (unit_dir / unit).read_text()
        assert re.search(rf"^ExecStart=/usr/sbin/{prog}\b", text, re.M)
        assert "EnvironmentFile=/etc/trackly/trackly.env\n" in text
    for prog in PROGRAMS:
        r = run([str(root / "usr/sbin" / prog), "--version"],
                env=binary_env(), timeout=10)
        assert r.returncode == 0 and r.stdout.startswith(prog), r.stderr
    r = run([str(root / "usr/sbin/trackly-admin"), "schema", "apply",
             "--help"], env=binary_env(), timeout=10)
    assert "/usr/share/trackly/schema.sql" in r.stdout


def test_lintian_finds_no_error_or_warning(package):
    """lintian on the .changes checks the .deb, the -dbgsym .deb and the
    .buildinfo.  Info and pedantic tags are shown in a failure's output but
    do not fail it; the ones we keep are overridden with a reason."""
    if not shutil.which("lintian"):
        pytest.fail("lintian is missing: ./dev installs it (PACKAGES)")
    _, work = package
    changes = list(work.glob("trackly_*.changes"))
    assert len(changes) == 1, sorted(map(str, work.iterdir()))
    r = run(["lintian", "--fail-on", "error,warning", "--tag-display-limit",
             "0", "--display-info", "--pedantic", str(changes[0])],
            timeout=300, env=binary_env(HOME=str(work)))
    tags = [line for line in r.stdout.splitlines()
            if re.match(r"[EWIPX]: ", line)]
    assert r.returncode == 0, "\n".join(tags) or (r.stdout + r.stderr)
    assert not [t for t in tags if t.startswith(("E:", "W:"))], tags


# --- Installing the package on this machine (TRACKLY_TEST_DPKG=1) ---------

INSTALL_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                       "/sbin:/bin",
               "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
ENV_FILE = Path("/etc/trackly/trackly.env")
API_ENV = Path("/etc/trackly/api.env")
EXAMPLE = Path("/usr/share/trackly/trackly.env.example")


def dpkg_status():
    """dpkg's status of trackly ("" when dpkg knows nothing of it)."""
    r = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "trackly"],
            env=INSTALL_ENV)
    return r.stdout.strip() if r.returncode == 0 else ""


def install_refusal():
    """Why this machine must not be touched, or None."""
    if os.environ.get("TRACKLY_TEST_DPKG") != "1":
        return ("installs the .deb on this machine: set TRACKLY_TEST_DPKG=1 "
                "(throwaway machines only; .ci/run does)")
    if os.geteuid() != 0:
        return "dpkg -i needs root"
    status = dpkg_status()
    if status:
        return (f"dpkg already knows trackly ({status!r}): a real install "
                "is never touched")
    # An install from source (README) uses the same paths; dpkg would
    # overwrite its programs and purge would delete its configuration.
    found = [p for p in (Path("/etc/trackly"), Path("/usr/share/trackly"),
                         *(Path("/usr/sbin") / p for p in PROGRAMS))
             if p.exists()]
    if found:
        return f"trackly files exist outside dpkg: {', '.join(map(str, found))}"
    return None


def dpkg(*args):
    r = run(["dpkg", *args], timeout=300, env=INSTALL_ENV)
    assert r.returncode == 0, f"dpkg {' '.join(args)}:\n{r.stdout}{r.stderr}"
    return r


def owner_mode(path):
    st = path.stat()
    return (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
            oct(st.st_mode & 0o7777))


def running_packaged_programs():
    """pids of processes running one of /usr/sbin/trackly-*."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            exe = os.readlink(proc / "exe")
        except OSError:
            continue
        if exe.removesuffix(" (deleted)") in \
                {f"/usr/sbin/{p}" for p in PROGRAMS}:
            pids.append((proc.name, exe))
    return pids


def check_installed(unit_dir):
    user = pwd.getpwnam("trackly")
    # A system user: no login, no home.
    assert user.pw_uid < 1000, user
    assert user.pw_dir == "/nonexistent", user
    assert user.pw_shell in ("/usr/sbin/nologin", "/sbin/nologin",
                             "/bin/false"), user
    r = run(["getent", "group", "trackly"], env=INSTALL_ENV)
    assert r.returncode == 0, "no trackly group"
    assert r.stdout.split(":")[2] == str(user.pw_gid), (r.stdout, user)
    assert not Path("/nonexistent").exists()

    # The configuration: private to root and the trackly group.
    assert owner_mode(ENV_FILE.parent) == ("root", "trackly", "0o750")
    assert owner_mode(ENV_FILE) == ("root", "trackly", "0o640")
    assert ENV_FILE.read_bytes() == EXAMPLE.read_bytes()
    r = run(["runuser", "-u", "trackly", "--", "cat", str(ENV_FILE)],
            env=INSTALL_ENV)
    assert r.returncode == 0, r.stderr
    assert r.stdout == EXAMPLE.read_text()
    # The key: for systemd to give trackly-api alone; trackly (the user
    # both programs run as) cannot read it.
    assert owner_mode(API_ENV) == ("root", "root", "0o600")
    keys = re.findall(r"^JWT_SECRET=([0-9a-f]{64})$", API_ENV.read_text(),
                      re.M)
    assert len(keys) == 1, API_ENV.read_text()
    r = run(["runuser", "-u", "trackly", "--", "cat", str(API_ENV)],
            env=INSTALL_ENV)
    assert r.returncode != 0

    # Programs, man pages, the web client.
    for prog in PROGRAMS:
        for opt in ("--help", "--version"):
            r = run([f"/usr/sbin/{prog}", opt], env=INSTALL_ENV, timeout=10)
            assert r.returncode == 0, (prog, opt, r.stdout, r.stderr)
            assert r.stdout.strip(), (prog, opt)
        r = run(["man", "-w", prog], env=INSTALL_ENV)
        assert r.returncode == 0 and \
            r.stdout.strip() == f"/usr/share/man/man8/{prog}.8.gz", \
            (prog, r.stdout, r.stderr)
    assert Path("/usr/share/trackly/web/index.html").is_file()

    # Units installed, neither enabled nor started.  systemctl reads the
    # unit files itself when systemd is not PID 1 (a container).
    units = [unit_dir / u for u in UNITS]
    assert all(u.is_file() for u in units), units
    r = run(["systemctl", "is-enabled", *UNITS], env=INSTALL_ENV)
    assert r.stdout.split() == ["disabled"] * len(UNITS), \
        (r.stdout, r.stderr)
    wants = list(Path("/etc/systemd/system").rglob("trackly*"))
    assert not wants, wants
    assert not running_packaged_programs()
    r = run(["systemd-analyze", "verify", *map(str, units)], env=INSTALL_ENV)
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), \
        r.stdout + r.stderr


def test_install_upgrade_remove_purge(package):
    reason = install_refusal()
    if reason:
        pytest.skip(reason)
    deb, _ = package
    unit_dir = Path("/lib/systemd/system")
    try:
        dpkg("-i", str(deb))
        assert dpkg_status() == "ii", dpkg_status()
        check_installed(unit_dir)

        # Upgrade (the same version again): the operator's edit stays,
        # and so does the key.
        with ENV_FILE.open("a") as f:
            f.write("# edited by test_debian\nAPI_WORKERS=3\n")
        edited = ENV_FILE.read_bytes()
        key = API_ENV.read_bytes()
        dpkg("-i", str(deb))
        assert dpkg_status() == "ii", dpkg_status()
        assert ENV_FILE.read_bytes() == edited
        assert API_ENV.read_bytes() == key

        # An install that keeps its key in trackly.env (from before
        # api.env): no second key is made.
        API_ENV.unlink()
        with ENV_FILE.open("a") as f:
            f.write("JWT_SECRET=" + "ab" * 32 + "\n")
        edited = ENV_FILE.read_bytes()
        dpkg("-i", str(deb))
        assert not API_ENV.exists()
        assert ENV_FILE.read_bytes() == edited
        assert owner_mode(ENV_FILE) == ("root", "trackly", "0o640")
        assert not running_packaged_programs()

        # Remove: the programs go, the configuration stays.
        dpkg("-r", "trackly")
        assert dpkg_status() == "rc", dpkg_status()
        for prog in PROGRAMS:
            assert not Path(f"/usr/sbin/{prog}").exists(), prog
        assert not any((unit_dir / u).exists() for u in UNITS)
        assert ENV_FILE.read_bytes() == edited

        # Purge: the configuration goes, the user stays.
        dpkg("--purge", "trackly")
        assert dpkg_status() == "", dpkg_status()
        assert not ENV_FILE.parent.exists()
        assert not API_ENV.exists()
        assert not Path("/usr/share/trackly").exists()
        r = run(["getent", "passwd", "trackly"], env=INSTALL_ENV)
        assert r.returncode == 0, "purge removed the trackly user"
        left = [str(p) for d in ("/etc/systemd", "/var/lib/systemd")
                for p in Path(d).rglob("*trackly*")]
        assert not left, left
    finally:
        if dpkg_status():
            run(["dpkg", "--purge", "trackly"], timeout=300, env=INSTALL_ENV)
        assert not dpkg_status(), "the purge after the test failed"
