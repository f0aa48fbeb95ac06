# shellcheck shell=bash
# dev.d/bench.sh: ./dev bench NAME: bench/NAME against a throwaway
# stack built for release.

# --- ./dev bench ------------------------------------------------------------
#
# bench/NAME runs against a throwaway stack like ./dev test's, built with
# --buildtype=release into build-release/ (unit tests not built), with a
# random JWT_SECRET and everything else as the environment says (API_WORKERS
# defaults to the number of CPUs, at least 2). It gets the stack through
# the variables of the contract in dev.d/test.sh that apply (TRACKLY_URL,
# TRACKLY_DB_URL, TRACKLY_API_PID, TRACKLY_API_LOG, TRACKLY_NGINX_LOG,
# TRACKLY_BUILD_DIR, TRACKLY_SOURCE_ROOT, TRACKLY_PGCTL) plus:
#   TRACKLY_NGINX_PID    pid of the nginx master
#   TRACKLY_SOCK_DIR     the private socket directory, removed at exit: room
#                        for the benchmark's own sockets and files
#   TRACKLY_WEB_ROOT     the web root this nginx serves
#   TRACKLY_LOG_DIR      .run/bench-log/, replaced on each run
# A benchmark stops whatever it starts itself, and installs what only it
# needs (bench/api: Debian's Go packages for its Go peer, unless --no-peer).

cmd_bench() {
    (($#)) || die "usage: ./dev bench NAME [ARGS] (NAME: an executable in bench/)"
    local name=$1 rc=0
    shift
    [[ $name =~ ^[A-Za-z0-9_-]+$ && -x $ROOT/bench/$name ]] || die "no benchmark bench/$name"

    BUILD_DIR=build-release
    throwaway_prepare bench "$RUN_DIR/bench-log" --buildtype=release -Dtests=false
    throwaway_start 30

    say "bench/$name against $URL ($BUILD_DIR)"
    with_stack_env \
        "TRACKLY_NGINX_PID=${PIDS[nginx]}" \
        "TRACKLY_SOCK_DIR=$SOCK_DIR" \
        "TRACKLY_WEB_ROOT=$WEB_ROOT" \
        "TRACKLY_LOG_DIR=$LOG_DIR" \
        "$ROOT/bench/$name" "$@" || rc=$?
    stack_stop
    ((rc == 0)) || die "bench/$name failed (status $rc); logs: ${LOG_DIR#"$ROOT"/}/"
}

