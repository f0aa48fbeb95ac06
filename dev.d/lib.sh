# shellcheck shell=bash
# dev.d/lib.sh: what every ./dev command shares: the paths, output and
# failure helpers, privileges, free ports and the PASS/FAIL summary.
# Sourced first by ./dev (set -Eeuo pipefail, the paths set): it defines
# functions and globals and sets the ERR trap; it runs nothing.

# --- Output -----------------------------------------------------------------

say()  { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'dev: %s\n' "$*" >&2; }
die()  { printf 'dev: error: %s\n' "$*" >&2; exit 1; }

# show_tail FILE: the end of a log, for the reader of a failure.
show_tail() {
    [[ -s $1 ]] || return 0
    printf -- '---- last 40 lines of %s ----\n' "$1" >&2
    tail -n 40 -- "$1" >&2
    printf -- '---- end of %s ----\n' "${1##*/}" >&2
}

# die_with_log MESSAGE LOG...: show the logs that explain MESSAGE, then fail.
die_with_log() {
    local msg=$1 f
    shift
    for f in "$@"; do show_tail "$f"; done
    die "$msg"
}

# on_err FILE LINE STATUS COMMAND: the ERR trap's report. LINE counts in
# FILE (./dev or one of dev.d/), so both are named.
on_err() {
    warn "${1#"$ROOT"/}: line $2: command failed (status $3): $4"
}
trap 'on_err "${BASH_SOURCE[0]:-dev}" "$LINENO" "$?" "$BASH_COMMAND"' ERR

# --- Privileges -------------------------------------------------------------

is_root() { [[ $EUID -eq 0 ]]; }

# as_postgres CMD...: run CMD as the owner of the cluster. initdb and postgres
# refuse to run as root, so root hands them to the postgres user; anyone else
# owns their clusters. The cwd is / because the postgres user may not be
# allowed into the caller's cwd.
as_postgres() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# give_to_postgres PATH...: make the postgres user own PATH when we are root.
give_to_postgres() {
    if is_root; then chown postgres:postgres -- "$@"; fi
}

# sudo_for WHY: leave in SUDO what runs apt-get with the rights it needs:
# nothing for root, sudo for anyone else; without sudo, fail saying WHY.
SUDO=()
sudo_for() {
    SUDO=()
    is_root && return 0
    command -v sudo >/dev/null || die "$1"
    SUDO=(sudo)
}

# apt_install PACKAGE...: install them, quietly and without recommends
# (sudo_for first).
apt_install() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@"
}

# --- Ports and the summary --------------------------------------------------

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

RESULTS=()   # lines of the summary
FAILED=0

record() {   # record SUITE PASS|FAIL|SKIP DETAIL
    RESULTS+=("$(printf '    %-13s %-4s  %s' "$1" "$2" "$3")")
    [[ $2 != FAIL ]] || FAILED=1
}

# print_summary TITLE LOGS VERDICT: TITLE, the recorded lines, the LOGS line, then
# "FAILED" and exit 1 when any failed, else VERDICT (./dev test and fuzz).
print_summary() {
    echo
    say "$1"
    printf '%s\n' "${RESULTS[@]}"
    note "$2"
    if ((FAILED)); then
        say "FAILED"
        exit 1
    fi
    say "$3"
}
