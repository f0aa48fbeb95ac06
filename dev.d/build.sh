# shellcheck shell=bash
# dev.d/build.sh: the Debian packages ./dev needs and the meson build;
# ./dev build and ./dev deps.

# Everything the build, the stack and the tests need, in one place.
readonly PACKAGES=(
    build-essential meson ninja-build pkg-config esbuild
    libfcgi-dev libpq-dev libcjson-dev libssl-dev libcurl4-openssl-dev
    libesmtp-dev libargon2-dev libsystemd-dev libcmocka-dev
    postgresql-15 postgresql-client-15 nginx openssl curl procps
    python3-pytest python3-requests python3-psycopg2 python3-aiosmtpd
    wrk spawn-fcgi libfcgi-bin systemd valgrind shellcheck
    man-db groff-base
    clang libclang-rt-14-dev
    debhelper dpkg-dev fakeroot lintian
    systemd-container debootstrap
    chromium fonts-liberation fonts-dejavu-core
)

# --- Packages and build -----------------------------------------------------

ensure_packages() {
    local missing=() pkg status
    for pkg in "${PACKAGES[@]}"; do
        # shellcheck disable=SC2016  # ${Status} is dpkg-query's, not ours
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || true
        [[ $status == "install ok installed" ]] || missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0

    sudo_for "missing packages (${missing[*]}) and no sudo to install them"
    say "installing Debian packages: ${missing[*]}"
    "${SUDO[@]}" apt-get update -q
    apt_install "${missing[@]}"
}

# build DIR [MESON-OPTION...]: configure DIR when it is not yet, apply the
# options when given, then build. ninja re-runs meson itself when a
# meson.build changes.
build() {
    local dir=$1 extra=()
    shift
    read -r -a extra <<<"${TRACKLY_MESON_ARGS:-}"
    if [[ ! -f $ROOT/$dir/meson-private/coredata.dat ]]; then
        say "configuring $dir"
        meson setup "$ROOT/$dir" "$ROOT" "$@" "${extra[@]}" || die "meson setup $dir failed"
    elif (($# + ${#extra[@]})); then
        meson configure "$ROOT/$dir" "$@" "${extra[@]}" >/dev/null || die "meson configure $dir failed"
    fi
    say "building $dir"
    ninja -C "$ROOT/$dir" || die "the build failed (see above)"
}

# ./dev build: install what is missing, configure and build build/.
cmd_build() {
    ensure_packages
    build "$BUILD_DIR"
}

# ./dev deps: install the Debian packages only.
cmd_deps() {
    ensure_packages
}
