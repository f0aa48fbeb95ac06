# shellcheck shell=bash
# dev.d/run.sh: ./dev run (the stack until Ctrl-C), ./dev stop and
# ./dev psql, which find a running ./dev run through .run/run.env.

# --- ./dev run --------------------------------------------------------------

# A state file lets ./dev stop and ./dev psql find a running ./dev run.
write_run_state() {
    {
        printf 'STATE_DEV_PID=%q\n' "$$"
        printf 'STATE_SOCK_DIR=%q\n' "$SOCK_DIR"
        printf 'STATE_PG_DATA=%q\n' "$PG_DATA"
        printf 'STATE_URL=%q\n' "$URL"
        printf 'STATE_API_PID=%q\n' "${PIDS[trackly-api]}"
        printf 'STATE_NGINX_PID=%q\n' "${PIDS[nginx]}"
        printf 'STATE_MONITOR_PID=%q\n' "${PIDS[trackly-monitor]:-}"
        printf 'STATE_SMTP_PID=%q\n' "${PIDS[dev-smtp]:-}"
    } >"$RUN_DIR/run.env"
}

read_run_state() {
    [[ -f $RUN_DIR/run.env ]] || return 1
    # shellcheck disable=SC1091  # our own file, written by write_run_state
    source "$RUN_DIR/run.env"
}

# pid_is PID NAME: PID is alive and runs the program NAME (pids get reused).
pid_is() {
    [[ -n $1 ]] && alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "$2"
}

# stop_leftovers: stop what a ./dev run killed without cleanup left behind.
stop_leftovers() {
    local pid prog
    for prog in "${STATE_MONITOR_PID:-}:trackly-monitor" "${STATE_SMTP_PID:-}:dev-smtp" \
        "${STATE_API_PID:-}:trackly-api" "${STATE_NGINX_PID:-}:nginx"; do
        pid=${prog%%:*}
        prog=${prog#*:}
        if pid_is "$pid" "$prog"; then
            note "stopping leftover $prog (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            wait_gone "$pid" 15 || kill -KILL -- "-$pid" 2>/dev/null || true
        fi
    done
    PG_DATA=${STATE_PG_DATA:-$PG_DATA}
    PG_LOG=${PG_LOG:-/dev/null}
    if pg_running; then
        note "stopping leftover PostgreSQL ($PG_DATA)"
        pg_stop
    fi
    if [[ ${STATE_SOCK_DIR:-} == /tmp/trackly.* ]]; then rm -rf -- "$STATE_SOCK_DIR"; fi
    rm -f -- "$RUN_DIR/run.env"
}

# run_pg_data [quiet]: .run/pg, unless the postgres user cannot reach .run
# (root running a checkout under a private home); then a directory it can.
run_pg_data() {
    PG_DATA=$RUN_DIR/pg
    if is_root && ! runuser -u postgres -- test -x "$RUN_DIR" 2>/dev/null; then
        PG_DATA=/var/tmp/trackly-dev-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)/pg
        mkdir -p -- "${PG_DATA%/pg}"
        if [[ ${1:-} != quiet ]]; then
            note "the postgres user cannot reach $RUN_DIR; the dev cluster lives in $PG_DATA"
        fi
    fi
}

cmd_run() {
    (($# == 0)) || die "./dev run takes no arguments"
    # shellcheck disable=SC2034  # read by stack.sh and nginx.sh
    MODE=run
    LOG_DIR=$RUN_DIR/log
    HTTP_PORT=${TRACKLY_HTTP_PORT:-8080}
    [[ $HTTP_PORT =~ ^[0-9]+$ ]] || die "TRACKLY_HTTP_PORT must be a port number"
    ensure_packages   # first: the checks below need the postgres user
    mkdir -p -- "$RUN_DIR" "$LOG_DIR"
    chmod o+x -- "$RUN_DIR"
    run_pg_data
    PG_LOG=$LOG_DIR/postgres.log

    if read_run_state; then
        if pid_is "$STATE_DEV_PID" "dev run"; then
            die "./dev run is already running (pid $STATE_DEV_PID) at $STATE_URL; stop it with ./dev stop"
        fi
        say "cleaning up after a ./dev run that did not stop cleanly"
        stop_leftovers
    fi
    if pg_running; then
        die "a PostgreSQL server is already running on $PG_DATA; stop it with ./dev stop"
    fi

    install_traps
    build "$BUILD_DIR"

    local f
    for f in api monitor smtp nginx-error nginx-access postgres; do
        printf '\n==== ./dev run, %s ====\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$LOG_DIR/$f.log"
    done
    if [[ -z ${JWT_SECRET:-} && -z ${JWT_SECRET_FILE:-} ]]; then
        if [[ ! -s $RUN_DIR/jwt_secret ]]; then
            (umask 077 && openssl rand -hex 32 >"$RUN_DIR/jwt_secret")
        fi
        JWT_SECRET=$(<"$RUN_DIR/jwt_secret")
        export JWT_SECRET
    fi

    stack_start 30
    if [[ -z ${EMAIL_HOST:-} ]]; then
        say "starting tools/dev-smtp (mail goes to .run/mail/)"
        start_mail_sink
    fi
    say "starting trackly-monitor ($BUILD_DIR/monitor/trackly-monitor)"
    start_monitor
    write_run_state

    say "ready: $URL"
    note "logs:    ${LOG_DIR#"$ROOT"/}/{api,monitor,smtp,nginx-error,nginx-access,postgres}.log"
    if [[ -n $MAIL_SINK_PORT ]]; then
        note "mail:    saved in ${RUN_DIR#"$ROOT"/}/mail/*.eml (tools/dev-smtp on 127.0.0.1:$MAIL_SINK_PORT; one line each in ${LOG_DIR#"$ROOT"/}/smtp.log)"
    else
        note "mail:    sent to $EMAIL_HOST${EMAIL_PORT:+:$EMAIL_PORT} (EMAIL_HOST is set)"
    fi
    note "psql:    ./dev psql"
    note "stop:    Ctrl-C here, or ./dev stop"

    # Until a signal (the traps stop everything) or a program dies.
    local name status
    while :; do
        wait -n "${PIDS[@]}" || true
        for name in "${STARTED[@]}"; do
            if ! alive "${PIDS[$name]}"; then
                wait "${PIDS[$name]}" 2>/dev/null && status=0 || status=$?
                die_with_log "$name exited unexpectedly (status $status)" "${LOGS[$name]}"
            fi
        done
    done
}

cmd_stop() {
    PG_LOG=$RUN_DIR/log/postgres.log
    [[ -d $RUN_DIR ]] || { say "nothing to stop"; return 0; }
    run_pg_data quiet
    if read_run_state && pid_is "$STATE_DEV_PID" "dev run"; then
        say "stopping ./dev run (pid $STATE_DEV_PID)"
        kill -TERM "$STATE_DEV_PID"
        wait_gone "$STATE_DEV_PID" 90 || die "./dev run (pid $STATE_DEV_PID) did not stop within 90 s"
        return 0
    fi
    if [[ -f $RUN_DIR/run.env ]] || pg_running; then
        say "stopping what a ./dev run left behind"
        read_run_state || true
        stop_leftovers
        return 0
    fi
    say "nothing to stop"
}

cmd_psql() {
    if ! read_run_state || ! pid_is "$STATE_DEV_PID" "dev run"; then
        die "./dev run is not running"
    fi
    exec "$PG_BIN/psql" -X -h "$STATE_SOCK_DIR/pg" -U postgres -d trackly "$@"
}

