# shellcheck shell=bash
# dev.d/deb.sh: ./dev deb: the Debian package, built in a copy of the tree.

# ./dev deb: dpkg-buildpackage writes into the tree it builds (debian/,
# obj-*) and puts its output beside it, so it runs on a copy without
# VCS data and local build output; the checkout is only read.
cmd_deb() {
    local out=${1:-$RUN_DIR/deb} tmp
    (($# <= 1)) || die "usage: ./dev deb [OUTDIR]"
    ensure_packages
    tmp=$(mktemp -d /tmp/trackly-deb.XXXXXX)
    mkdir "$tmp/trackly"
    tar -C "$ROOT" --exclude=./.git --exclude='./build*' --exclude=./.run \
        --exclude=__pycache__ --exclude=.pytest_cache --exclude=node_modules -cf - . |
        tar -C "$tmp/trackly" -xf -
    say "dpkg-buildpackage in $tmp/trackly"
    if ! (cd "$tmp/trackly" && timeout 600 dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
        tail -n 40 "$tmp/build.log" >&2
        rm -rf -- "$tmp"
        die "dpkg-buildpackage failed"
    fi
    mkdir -p "$out"
    mv -- "$tmp"/*.deb "$tmp"/*.buildinfo "$tmp"/*.changes "$out"/
    rm -rf -- "$tmp"
    say "built $(cd "$out" && ls trackly_*.deb) in $out"
}
