# shellcheck shell=bash
# dev.d/stack.sh: the throwaway stack of ./dev run, test and bench:
# starting, watching and stopping its programs (PostgreSQL in postgres.sh,
# nginx in nginx.sh), and the traps that stop it all at exit.

# Seconds each program gets to stop after SIGTERM before it is killed.
# trackly-api promises a graceful stop within 10 s.
declare -A STOP_TIMEOUT=([trackly-api]=15 [nginx]=10 [trackly-monitor]=15 [dev-smtp]=5)

# --- State of the stack this invocation started (cleanup reads it) ---------

MODE=""            # run | test | bench
BUILD_DIR=build
SOCK_DIR=""        # /tmp/trackly.XXXXXX, removed at exit
LOG_DIR=""
PG_DATA=""
PG_SOCK=""         # directory of PostgreSQL's socket
PG_LOG=""
PG_STARTED=0
URL=""              # http://127.0.0.1:PORT, through nginx
STARTED=()         # names of programs started, in order
declare -A PIDS=() LOGS=() EXIT_STATUS=() FORCED=() EXITED_EARLY=()

# --- Processes --------------------------------------------------------------

# start_program NAME LOG CMD...: start CMD in the background, in a session of
# its own (so a Ctrl-C at the terminal reaches only ./dev, which then
# stops everything in order, and so the program's children can be found by
# process group). setsid does not fork here: a background job of a
# non-interactive shell is not a process group leader, so $! is CMD's pid.
start_program() {
    local name=$1 log=$2
    shift 2
    setsid "$@" </dev/null >>"$log" 2>&1 &
    PIDS[$name]=$!
    LOGS[$name]=$log
    STARTED+=("$name")
}

# forget_program NAME: drop a program that has already exited.
forget_program() {
    local name=$1 n kept=()
    wait "${PIDS[$name]}" 2>/dev/null || true
    for n in "${STARTED[@]}"; do [[ $n == "$name" ]] || kept+=("$n"); done
    STARTED=("${kept[@]}")
    unset "PIDS[$name]" "LOGS[$name]"
}

alive() { kill -0 "$1" 2>/dev/null; }

# wait_gone PID SECONDS: wait (in 0.1 s steps) for PID to exit.
wait_gone() {
    local pid=$1 steps=$(($2 * 10))
    while alive "$pid"; do
        ((steps-- > 0)) || return 1
        sleep 0.1
    done
}

# stop_program NAME: SIGTERM, a bounded wait, then SIGKILL for the whole
# process group (workers included). Records the exit status.
stop_program() {
    local name=$1 pid=${PIDS[$1]} timeout=${STOP_TIMEOUT[$1]:-10} status=0
    EXITED_EARLY[$name]=1
    if alive "$pid"; then
        EXITED_EARLY[$name]=0
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" "$timeout"; then
            warn "$name (pid $pid) did not stop within ${timeout}s; killing it"
            FORCED[$name]=1
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || status=$?
    EXIT_STATUS[$name]=$status
    # Anything left in its process group (say, workers of a master that
    # crashed) goes too.
    if kill -0 -- "-$pid" 2>/dev/null; then
        sleep 0.5
        if kill -0 -- "-$pid" 2>/dev/null; then
            warn "$name left processes behind (process group $pid); killing them"
            FORCED[$name]=1
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
    fi
}

# stop_problem NAME WHEN: how the stop of NAME went wrong, as a sentence
# (WHEN: until when it should have run), or nothing when it stopped cleanly
# on SIGTERM.
stop_problem() {
    local name=$1
    if [[ ${FORCED[$name]:-} == 1 ]]; then
        echo "$name did not stop within ${STOP_TIMEOUT[$name]} s of SIGTERM"
    elif [[ ${EXITED_EARLY[$name]:-0} == 1 ]]; then
        echo "$name had exited (status ${EXIT_STATUS[$name]}) before $2"
    elif [[ ${EXIT_STATUS[$name]:-0} != 0 ]]; then
        echo "$name exited with status ${EXIT_STATUS[$name]} on SIGTERM"
    fi
}

# --- The programs -----------------------------------------------------------

start_api() {
    local bin=$ROOT/$BUILD_DIR/api/trackly-api
    [[ -x $bin ]] || die "$bin was not built"
    start_program trackly-api "$LOG_DIR/api.log" "$bin" \
        --socket "$SOCK_DIR/api.sock" --socket-mode 0666
}

# start_mail_sink: tools/dev-smtp (./dev run only, when EMAIL_HOST is not
# set) on a free loopback port; it saves each message as .run/mail/*.eml and
# logs one line per message to smtp.log. Sets MAIL_SINK_PORT once it listens.
MAIL_SINK_PORT=""
start_mail_sink() {
    local log=$LOG_DIR/smtp.log try port offset steps
    for try in 1 2 3; do
        port=$(free_port)
        offset=$(($(stat -c %s -- "$log" 2>/dev/null || echo 0) + 1))
        start_program dev-smtp "$log" "$PYTHON" "$ROOT/tools/dev-smtp" \
            --host 127.0.0.1 --port "$port" --dir "$RUN_DIR/mail"
        steps=100
        while alive "${PIDS[dev-smtp]}" && ((steps-- > 0)); do
            if tail -c "+$offset" -- "$log" | grep -q "listening on 127.0.0.1:$port"; then
                MAIL_SINK_PORT=$port
                return 0
            fi
            sleep 0.1
        done
        alive "${PIDS[dev-smtp]}" && die_with_log "tools/dev-smtp did not listen within 10 s" "$log"
        forget_program dev-smtp
        note "tools/dev-smtp could not listen on port $port (attempt $try)"
    done
    die_with_log "tools/dev-smtp did not start" "$log"
}

# start_monitor: trackly-monitor with the environment's settings (DB_URL and
# PUBLIC_URL as stack_start exported them); the mail sink is its SMTP server
# when one was started.
start_monitor() {
    local bin=$ROOT/$BUILD_DIR/monitor/trackly-monitor mail=()
    [[ -x $bin ]] || die "$bin was not built"
    if [[ -n $MAIL_SINK_PORT ]]; then
        mail=(-u EMAIL_USER -u EMAIL_PASS EMAIL_HOST=127.0.0.1
              "EMAIL_PORT=$MAIL_SINK_PORT" EMAIL_TLS=none)
    fi
    start_program trackly-monitor "$LOG_DIR/monitor.log" env "${mail[@]}" "$bin"
}

# wait_healthy SECONDS: until GET /healthcheck through nginx answers 2xx,
# failing early when a program dies.
wait_healthy() {
    local deadline=$((SECONDS + $1)) name status
    while :; do
        for name in "${STARTED[@]}"; do
            if ! alive "${PIDS[$name]}"; then
                wait "${PIDS[$name]}" 2>/dev/null && status=0 || status=$?
                die_with_log "$name exited during start-up (status $status)" "${LOGS[$name]}"
            fi
        done
        # Not before the socket exists: nginx would log each refusal.
        if [[ -S $SOCK_DIR/api.sock ]] &&
            curl -fsS --max-time 2 -o /dev/null "$URL/healthcheck" 2>/dev/null; then
            return 0
        fi
        if ((SECONDS >= deadline)); then
            if [[ -S $SOCK_DIR/api.sock ]]; then
                curl -sS --max-time 2 "$URL/healthcheck" >&2 || true
                echo >&2
            else
                warn "trackly-api has not created $SOCK_DIR/api.sock"
            fi
            die_with_log "$URL/healthcheck did not succeed within $1 s" \
                "$PG_LOG" "$LOG_DIR/nginx-error.log" "$LOG_DIR/api.log"
        fi
        sleep 0.25
    done
}

# stack_start HEALTH-TIMEOUT: PostgreSQL, nginx, the API, in that order (nginx
# before the API so that a port clash in test mode is settled before the
# API learns its PUBLIC_URL).
stack_start() {
    local health_timeout=$1
    # Only the socket paths must be short; everything else may be long.
    SOCK_DIR=$(mktemp -d /tmp/trackly.XXXXXX)
    chmod 0711 -- "$SOCK_DIR"
    PG_SOCK=$SOCK_DIR/pg
    if [[ $MODE != run ]]; then
        # A throwaway cluster, in the directory removed at exit, so it never
        # meets the one of a ./dev run.
        PG_DATA=$SOCK_DIR/pgdata
    fi
    mkdir -p -- "$LOG_DIR"
    if is_root; then
        getent passwd postgres >/dev/null || die "no postgres user (is postgresql-15 installed?)"
    fi

    pg_init
    say "starting PostgreSQL (socket in $PG_SOCK)"
    pg_start
    PG_STARTED=1
    export DB_URL="host=$PG_SOCK dbname=trackly user=postgres"
    db_prepare

    web_root
    say "starting nginx"
    start_nginx
    export PUBLIC_URL=${PUBLIC_URL:-$URL}

    say "starting trackly-api ($BUILD_DIR/api/trackly-api)"
    start_api
    wait_healthy "$health_timeout"
}

# stack_stop: the programs in reverse order, then PostgreSQL, then the socket
# directory. Safe to call twice.
stack_stop() {
    local i running=$((${#STARTED[@]} || PG_STARTED))
    if ((running)); then say "stopping"; fi
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
        stop_program "${STARTED[i]}"
    done
    STARTED=()
    if ((PG_STARTED)); then
        pg_stop || warn "PostgreSQL in $PG_DATA may still be running"
        PG_STARTED=0
    fi
    if [[ -n $SOCK_DIR ]]; then
        rm -rf -- "$SOCK_DIR"
        SOCK_DIR=""
    fi
    if [[ $MODE == run ]]; then
        rm -f -- "$RUN_DIR/run.env"
        if ((running)); then say "stopped"; fi
    fi
}

# --- Throwaway stacks (./dev test, ./dev bench) ----------------------------

# throwaway_prepare MODE LOG-DIR [MESON-OPTION...]: MODE (test or bench), a
# fresh LOG_DIR, the traps, the packages, then $BUILD_DIR built with the
# options.
throwaway_prepare() {
    MODE=$1
    LOG_DIR=$2
    shift 2
    rm -rf -- "$LOG_DIR"
    mkdir -p -- "$LOG_DIR"
    install_traps
    ensure_packages
    build "$BUILD_DIR" "$@"
}

# throwaway_start HEALTH-TIMEOUT: the stack, with a random JWT_SECRET (none
# from a file, no previous one), PUBLIC_URL its own URL, and the
# TRACKLY_PGCTL helper in $SOCK_DIR/pgctl (tests and fault benchmarks
# restart PostgreSQL).
throwaway_start() {
    export JWT_SECRET
    JWT_SECRET=$(openssl rand -hex 32)
    unset JWT_SECRET_FILE JWT_SECRET_PREVIOUS
    unset PUBLIC_URL   # becomes the stack's URL
    PG_LOG=$LOG_DIR/postgres.log
    stack_start "$1"
    write_pgctl "$SOCK_DIR/pgctl"
}

# with_stack_env [NAME=VALUE...] CMD...: env CMD with the variables of the
# contract with the tests (dev.d/test.sh) that benchmarks get too, and the
# NAME=VALUE given.
with_stack_env() {
    env "TRACKLY_URL=$URL" \
        "TRACKLY_DB_URL=$DB_URL" \
        "TRACKLY_PGCTL=$SOCK_DIR/pgctl" \
        "TRACKLY_API_PID=${PIDS[trackly-api]}" \
        "TRACKLY_API_LOG=$LOG_DIR/api.log" \
        "TRACKLY_NGINX_LOG=$LOG_DIR/nginx-error.log" \
        "TRACKLY_BUILD_DIR=$ROOT/$BUILD_DIR" \
        "TRACKLY_SOURCE_ROOT=$ROOT" \
        "$@"
}

# --- Exit and signals -------------------------------------------------------

cleanup() {
    local rc=$?
    trap - EXIT ERR
    trap 'warn "stopping, please wait"' INT TERM HUP
    stack_stop || true
    exit "$rc"
}

on_signal() {
    echo >&2
    warn "caught SIG$1"
    exit $((128 + $2))
}

install_traps() {
    trap cleanup EXIT
    trap 'on_signal INT 2' INT
    trap 'on_signal TERM 15' TERM
    trap 'on_signal HUP 1' HUP
}
