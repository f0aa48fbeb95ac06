#!/usr/bin/env python3
"""Builds Trackly's web client into a directory nginx can serve as is.

    build.py --esbuild PATH --out DIR [--stamp FILE] [--debug]
    build.py --install DIR --datadir D
                                  (from meson install: copies DIR into
                                   $MESON_INSTALL_DESTDIR_PREFIX/D/trackly/web)

What it writes into DIR (replaced whole, so nothing stale survives):

    index.html                 the one page; every client route is this file
    app.<hash>.js              src/main.js and everything it imports, bundled
                               and minified by esbuild (Debian's package)
    app.<hash>.css             src/style.css, minified
    icon.<hash>.svg            the favicon
    *.gz                       gzip -9 copies for nginx's gzip_static

The hash is the first 12 hex digits of the SHA-256 of the file's bytes, so
a name never changes meaning and nginx may let browsers keep it a year
(trackly-common.conf's hashed-asset location); index.html names them and is
revalidated on every load.  gzip copies carry no name or time, so two builds
of the same sources give the same bytes.

Only Python's standard library and esbuild: no npm, no network.
"""

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
# Browsers the client supports: those with ES2020 modules, <dialog> and
# CSS custom properties (2020 onwards).
TARGETS = "es2020,chrome91,firefox98,safari15.4"
COMPRESSED = (".html", ".js", ".css", ".svg")


def die(msg):
    print(f"web/build.py: {msg}", file=sys.stderr)
    sys.exit(1)


def esbuild(exe, entry, outfile, debug):
    args = [exe, str(entry), "--bundle", f"--outfile={outfile}",
            f"--target={TARGETS}", "--charset=utf8", "--legal-comments=none",
            "--log-level=warning"]
    if entry.suffix == ".js":
        # A classic script at the end of <body> (index.html): it runs as
        # soon as it arrives, before the first layout and paint, so the
        # page's first requests go out that much sooner than a module
        # script's, which waits for them.
        args.append("--format=iife")
    if not debug:
        args.append("--minify")
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        die(f"esbuild failed on {entry.relative_to(HERE)}:\n{r.stderr}")
    if r.stderr.strip():
        # A warning is a bug waiting to happen; the build is warning-free.
        die(f"esbuild warned on {entry.relative_to(HERE)}:\n{r.stderr}")


def hashed(path, stem, suffix):
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    name = f"{stem}.{digest}{suffix}"
    path.rename(path.with_name(name))
    return name


def write_gzip(path):
    data = path.read_bytes()
    with open(str(path) + ".gz", "wb") as raw:
        # filename="" and mtime=0: reproducible bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                           compresslevel=9, mtime=0) as gz:
            gz.write(data)


def build(exe, out, debug):
    out = Path(out).resolve()
    tmp = Path(tempfile.mkdtemp(prefix=".web-", dir=out.parent))
    try:
        esbuild(exe, SRC / "main.js", tmp / "app.js", debug)
        esbuild(exe, SRC / "style.css", tmp / "app.css", debug)
        shutil.copyfile(SRC / "icon.svg", tmp / "icon.svg")
        names = {
            "@APP_JS@": hashed(tmp / "app.js", "app", ".js"),
            "@APP_CSS@": hashed(tmp / "app.css", "app", ".css"),
            "@ICON@": hashed(tmp / "icon.svg", "icon", ".svg"),
        }
        page = (HERE / "index.html").read_text(encoding="utf-8")
        for key, name in names.items():
            if key not in page:
                die(f"index.html lacks {key}")
            page = page.replace(key, name)
        (tmp / "index.html").write_text(page, encoding="utf-8")
        for f in sorted(tmp.iterdir()):
            f.chmod(0o644)
            if f.suffix in COMPRESSED:
                write_gzip(f)
                os.chmod(str(f) + ".gz", 0o644)
        tmp.chmod(0o755)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def install(src, datadir):
    prefix = os.environ.get("MESON_INSTALL_DESTDIR_PREFIX")
    if not prefix:
        die("--install runs from meson install (MESON_INSTALL_DESTDIR_PREFIX)")
    # datadir is relative to the prefix unless meson was given an absolute
    # one, which DESTDIR must still stage.
    if os.path.isabs(datadir):
        destdir = os.environ.get("DESTDIR", "")
        base = Path(destdir + datadir) if destdir else Path(datadir)
    else:
        base = Path(prefix) / datadir
    dest = base / "trackly" / "web"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for f in sorted(Path(src).iterdir()):
        shutil.copyfile(f, dest / f.name)
        (dest / f.name).chmod(0o644)
        print(f"Installing {f.name} to {dest}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--esbuild", help="the esbuild program")
    p.add_argument("--out", help="output directory (replaced)")
    p.add_argument("--stamp", help="file to touch when done (for meson)")
    p.add_argument("--debug", action="store_true",
                   help="do not minify (readable stack traces)")
    p.add_argument("--install", metavar="DIR",
                   help="copy a built DIR into the install prefix")
    p.add_argument("--datadir", default="share",
                   help="meson's datadir, for --install")
    a = p.parse_args()
    if a.install:
        install(a.install, a.datadir)
        return
    if not a.esbuild or not a.out:
        p.error("--esbuild and --out are required")
    build(a.esbuild, a.out,
          a.debug or os.environ.get("TRACKLY_WEB_DEBUG") == "1")
    if a.stamp:
        Path(a.stamp).write_text("built\n")


if __name__ == "__main__":
    main()
