# shellcheck shell=bash disable=SC2094  # nginx -e and >> name the same log on purpose
# bench/fault-monitor-lib.sh: what bench/fault-smtp-down,
# bench/fault-monitor-kill and bench/soak-monitor share (issue 5, fault
# scenarios 3, 4 and the monitor half of 5). Sourced, not run.
#
# The scripts run through `./dev bench NAME`, which builds build-release/
# and starts a throwaway PostgreSQL (schema applied), nginx and the API; they
# use its database (TRACKLY_DB_URL) and start, on loopback and stopped on
# any exit, what else they need:
#   - a target nginx (bench/fault-targets.conf.in) on 127.0.0.1..8:PORT
#     where /p/ID answers 200, 503 while the file down/ID exists in its
#     root, and nothing for 30 s while hang/ID exists: `target_down ID...`,
#     `target_hang ID...` and `target_up ID...` flip a site;
#   - the SMTP sink tools/dev-smtp, saving each message as .eml in a
#     directory per start (sink_start / sink_stop, same port each time);
#   - trackly-monitor (monitor_start / monitor_kill / monitor_stop),
#     TRACKLY_ALLOW_PRIVATE_TARGETS=1, mail to the sink, a fixed MONITOR_ID.
# Projects are inserted in SQL (the API's MONITOR_MIN_INTERVAL of 60 s does
# not apply to them), owned by verified users so that alert mail is queued.
# The latest result of each script replaces its own section of
# bench/results-faults-monitor.md (record_section).

PATH=$PATH:/usr/sbin:/sbin
readonly PYTHON=/usr/bin/python3
readonly PG_BIN=/usr/lib/postgresql/15/bin
readonly NADDRS=8
readonly RESULTS_FILE=$HERE/results-faults-monitor.md
readonly BENCH_FROM="Trackly Bench <bench@example.test>"

say()  { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die()  { printf '%s: error: %s\n' "$SCRIPT" "$*" >&2; exit 1; }

[[ -n ${TRACKLY_DB_URL:-} && -n ${TRACKLY_BUILD_DIR:-} ]] ||
    die "run it through ./dev: ./dev bench $SCRIPT [OPTIONS]"
readonly DB_URL=$TRACKLY_DB_URL
readonly LOGS=${TRACKLY_LOG_DIR:-$ROOT/.run/bench-log}/$SCRIPT
MONITOR_BIN=${MONITOR_BIN:-$TRACKLY_BUILD_DIR/monitor/trackly-monitor}

# sql ARGS...: psql on the bench database, unaligned, tab-separated.
sql() { "$PG_BIN/psql" -X -q -At -F $'\t' -v ON_ERROR_STOP=1 "$DB_URL" "$@"; }

# --- processes started here, stopped on any exit -----------------------------

WORK="" NGINX_PID="" SINK_PID="" MONITOR_PID=""
SINK_PORT="" SINK_COUNT=0 MONITOR_STARTS=0 PORT=""

# stop PID [SECONDS]: SIGTERM, a bounded wait, then SIGKILL (the process
# was started with setsid, so its group is its own).
stop() {
    local pid=$1 steps=$((${2:-10} * 10))
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((steps-- > 0)); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        printf '%s: pid %s did not stop; killing it\n' "$SCRIPT" "$pid" >&2
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT
    trap '' INT TERM HUP
    stop "$MONITOR_PID" 20
    stop "$SINK_PID" 10
    stop "$NGINX_PID" 10
    if [[ -n $WORK ]]; then rm -rf -- "$WORK"; fi
    exit "$rc"
}

setup_work() {
    trap cleanup EXIT
    trap 'printf "%s: line %s: command failed (status %s): %s\n" "$SCRIPT" "$LINENO" "$?" "$BASH_COMMAND" >&2' ERR
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    rm -rf -- "$LOGS"
    mkdir -p -- "$LOGS"
    WORK=$(mktemp -d /tmp/trackly-faultmon.XXXXXX)
    chmod 0755 -- "$WORK"
    [[ -x $MONITOR_BIN ]] || die "$MONITOR_BIN was not built"
}

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_targets: the target nginx; sets PORT.
start_targets() {
    local prefix=$WORK/nginx listen i
    if [[ ! -f /usr/lib/nginx/modules/ngx_http_echo_module.so ]]; then
        say "installing libnginx-mod-http-echo (apt-get)"
        apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends libnginx-mod-http-echo
    fi
    mkdir -p -- "$prefix" "$WORK/www/down" "$WORK/www/hang"
    chmod 0755 -- "$prefix" "$WORK/www" "$WORK/www/down" "$WORK/www/hang"
    for _ in 1 2 3; do
        PORT=$(free_port)
        listen=""
        for ((i = 1; i <= NADDRS; i++)); do
            listen+="        listen 127.0.0.$i:$PORT backlog=4096;\\n"
        done
        sed -e "s|@PREFIX@|$prefix|g" -e "s|@ROOT@|$WORK/www|g" \
            -e "s|@ERROR_LOG@|$LOGS/nginx-error.log|g" -e "s|^@LISTEN@$|${listen%\\n}|" \
            -- "$HERE/fault-targets.conf.in" >"$prefix/nginx.conf"
        nginx -t -q -p "$prefix/" -c "$prefix/nginx.conf" -e "$LOGS/nginx-error.log" ||
            die "nginx rejects $prefix/nginx.conf"
        rm -f -- "$prefix/nginx.pid"
        setsid nginx -p "$prefix/" -c "$prefix/nginx.conf" -e "$LOGS/nginx-error.log" \
            -g 'daemon off;' </dev/null >>"$LOGS/nginx-error.log" 2>&1 &
        NGINX_PID=$!
        for _ in {1..100}; do
            [[ -s $prefix/nginx.pid ]] || ! kill -0 "$NGINX_PID" 2>/dev/null && break
            sleep 0.1
        done
        if [[ -s $prefix/nginx.pid ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
            target_down 0
            [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/p/0") == 503 &&
               $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.$NADDRS:$PORT/p/1") == 200 ]] ||
                die "the target nginx does not answer as configured"
            target_up 0
            target_hang 0
            [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$PORT/p/0") == 000 ]] ||
                die "the target nginx does not hang as configured"
            target_up 0
            note "target nginx on 127.0.0.{1..$NADDRS}:$PORT (pid $NGINX_PID)"
            return 0
        fi
        stop "$NGINX_PID"
        NGINX_PID=""
    done
    die "nginx did not start (see $LOGS/nginx-error.log)"
}

target_down() { local id; for id; do : >"$WORK/www/down/$id"; done; }
target_hang() { local id; for id; do : >"$WORK/www/hang/$id"; done; }
target_up() { local id; for id; do rm -f -- "$WORK/www/down/$id" "$WORK/www/hang/$id"; done; }

# sink_start: tools/dev-smtp on SINK_PORT (chosen at the first start),
# saving into $WORK/mail/N for the Nth start.
sink_start() {
    local log=$LOGS/smtp.log offset steps
    SINK_COUNT=$((SINK_COUNT + 1))
    [[ -n $SINK_PORT ]] || SINK_PORT=$(free_port)
    touch -- "$log"
    for _ in {1..50}; do
        offset=$(($(stat -c %s -- "$log" 2>/dev/null || echo 0) + 1))
        setsid "$PYTHON" "$ROOT/tools/dev-smtp" --host 127.0.0.1 --port "$SINK_PORT" \
            --dir "$WORK/mail/$SINK_COUNT" </dev/null >>"$log" 2>&1 &
        SINK_PID=$!
        steps=100
        while kill -0 "$SINK_PID" 2>/dev/null && ((steps-- > 0)); do
            tail -c "+$offset" -- "$log" | grep -q "listening on" && return 0
            sleep 0.1
        done
        stop "$SINK_PID"
        sleep 0.2                    # the port may be in use for a moment
    done
    die "tools/dev-smtp did not listen on $SINK_PORT (see $log)"
}

sink_stop() { stop "$SINK_PID" 10; SINK_PID=""; }

# monitor_start [NAME=VALUE...]: trackly-monitor, mail to the sink; the
# sanitizers' *SAN_OPTIONS pass through (for a monitor built with them).
monitor_start() {
    local log=$LOGS/monitor.log san=() v
    MONITOR_STARTS=$((MONITOR_STARTS + 1))
    for v in ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS; do
        if [[ -n ${!v:-} ]]; then san+=("$v=${!v}"); fi
    done
    setsid env -i PATH=/usr/bin:/bin HOME=/nonexistent DB_URL="$DB_URL" "${san[@]}" \
        TRACKLY_ALLOW_PRIVATE_TARGETS=1 LOG_FORMAT=text PUBLIC_URL=http://127.0.0.1 \
        EMAIL_HOST=127.0.0.1 EMAIL_PORT="$SINK_PORT" EMAIL_TLS=none EMAIL_FROM="$BENCH_FROM" \
        MONITOR_ID=bench-"$SCRIPT" "$@" "$MONITOR_BIN" </dev/null >>"$log" 2>&1 &
    MONITOR_PID=$!
}

# monitor_kill: SIGKILL, and reap it.
monitor_kill() {
    kill -KILL "$MONITOR_PID" 2>/dev/null || true
    wait "$MONITOR_PID" 2>/dev/null || true
    MONITOR_PID=""
}

monitor_stop() { stop "$MONITOR_PID" 30; MONITOR_PID=""; }

status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# insert_projects N INTERVAL TIMEOUT_MS PER_USER: N projects /p/<id> spread
# over the loopback addresses, first slots spread over one interval, owned
# by verified users (PER_USER projects each, emails u<n>@bench.test).
insert_projects() {
    local n=$1 interval=$2 timeout=$3 per_user=$4
    sql <<EOF
INSERT INTO users (email, password_hash, email_verified)
SELECT 'u' || u || '@bench.test', 'x', true
FROM generate_series(1, ($n + $per_user - 1) / $per_user) u;
INSERT INTO projects (user_id, name, link, interval_seconds, timeout_ms,
                      failure_threshold, recovery_threshold, next_check_at)
SELECT (SELECT id FROM users WHERE email = 'u' || (1 + (i - 1) / $per_user) || '@bench.test'),
       'bench ' || i, 'http://127.0.0.' || (1 + i % $NADDRS) || ':$PORT/p/' || i,
       $interval, $timeout, 2, 1, now() + random() * interval '$interval seconds'
FROM generate_series(1, $n) i;
UPDATE projects SET link = regexp_replace(link, '/p/[0-9]+$', '/p/' || id);
VACUUM ANALYZE;
EOF
}

# machine_line: CPUs, model, RAM, kernel, load average now.
machine_line() {
    printf '%s CPUs (%s), %s MiB RAM, Linux %s, Debian %s' "$(nproc)" \
        "$(lscpu | awk -F: '/^Model name/ {gsub(/^ +/, "", $2); print $2; exit}')" \
        "$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))" "$(uname -r)" \
        "$(cat /etc/debian_version)"
}

# machine_ticks: "BUSY TOTAL" over all CPUs since boot.
machine_ticks() {
    local _cpu user nice system idle iowait irq softirq steal _rest
    read -r _cpu user nice system idle iowait irq softirq steal _rest </proc/stat
    echo "$((user + nice + system + irq + softirq + steal)) $((user + nice + system + idle + iowait + irq + softirq + steal))"
}

# busy_share "BUSY0 TOTAL0" "BUSY1 TOTAL1": percent of all CPUs busy.
busy_share() {
    awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
        printf "%.0f", (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0 }'
}

commit_line() {
    local c dirty=""
    c=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n $({ git -C "$ROOT" status --porcelain -- monitor common meson.build schema.sql 2>/dev/null || true; }) ]]; then
        dirty=" plus uncommitted changes under monitor/, common/, meson.build or schema.sql"
    fi
    printf '%s%s; monitor %s' "$c" "$dirty" "$MONITOR_BIN"
}

# record_section NAME FILE: replaces the section of NAME in
# bench/results-faults-monitor.md with FILE (appends it the first time).
record_section() {
    "$PYTHON" - "$RESULTS_FILE" "$1" "$2" <<'EOF'
import os, sys
path, name, new = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().rstrip("\n")
begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
text = open(path).read() if os.path.exists(path) else "# Fault scenarios of the monitor: results\n"
block = f"{begin}\n{new}\n{end}"
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    text = head + block + rest.split(end, 1)[1]
else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
open(path, "w").write(text)
EOF
}

# count_mail: per outbox id, how many messages the sink saved (all starts),
# as "outbox_id<TAB>count" lines, from the Message-ID (trackly.<id>.<hash>@).
count_mail() {
    "$PYTHON" - "$WORK/mail" <<'EOF'
import collections, email, email.policy, pathlib, re, sys
counts = collections.Counter()
for p in pathlib.Path(sys.argv[1]).glob("*/*.eml"):
    msg = email.message_from_bytes(p.read_bytes(), policy=email.policy.compat32)
    m = re.search(r"<trackly\.(\d+)\.", msg.get("Message-ID", ""))
    counts[m.group(1) if m else "unknown"] += 1
for k, v in sorted(counts.items()):
    print(f"{k}\t{v}")
EOF
}

# load_mail_counts: count_mail into the table bench_mail (outbox_id, n).
load_mail_counts() {
    sql -c 'SET client_min_messages = warning' -c 'DROP TABLE IF EXISTS bench_mail' \
        -c 'CREATE TABLE bench_mail (outbox_id text, n int)'
    count_mail | sql -c '\copy bench_mail FROM STDIN'
}
