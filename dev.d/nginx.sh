# shellcheck shell=bash
# dev.d/nginx.sh: nginx in front of trackly-api: its configuration
# rendered from nginx/*.conf.in, the web root it serves, its start.

HTTP_PORT=""       # its port: TRACKLY_HTTP_PORT (run) or a free one
WEB_ROOT=""        # the web client it serves
NGINX_ARGS=()      # its command line, less -g

# --- nginx ------------------------------------------------------------------

# render TEMPLATE OUTPUT KEY=VALUE...: replace each @KEY@ with VALUE.
render() {
    local in=$1 out=$2 kv key val args=(-e "")   # a no-op script when no KEY=VALUE
    shift 2
    for kv in "$@"; do
        key=${kv%%=*}
        val=${kv#*=}
        val=${val//\\/\\\\}
        val=${val//|/\\|}
        val=${val//&/\\&}
        args+=(-e "s|@${key}@|${val}|g")
    done
    sed "${args[@]}" -- "$in" >"$out"
    if grep -nE '^[^#]*@[A-Z][A-Z_]*@' -- "$out" >&2; then
        die "unfilled @PLACEHOLDER@ in $out (from ${in#"$ROOT"/})"
    fi
}

# nginx_configure: render the templates into the prefix directory, check
# the result with nginx -t and leave nginx's command line in NGINX_ARGS.
nginx_configure() {
    local prefix=$SOCK_DIR/nginx out
    mkdir -p -- "$prefix"
    # nginx answers some errors itself and adds CORS to them for the same
    # origins as the API (trackly-http.conf.in, @CORS_ORIGINS@); its
    # upstream, with the kept connections, is the API's socket.
    render "$ROOT/nginx/trackly-http.conf.in" "$prefix/trackly-http.conf" \
        "API_SOCKET=$SOCK_DIR/api.sock" \
        "CORS_ORIGINS=${CORS_ORIGINS-}"
    render "$ROOT/nginx/trackly-common.conf.in" "$prefix/trackly-common.conf" \
        "WEB_ROOT=$WEB_ROOT"
    render "$ROOT/nginx/trackly.conf.in" "$prefix/trackly.conf" \
        "LISTEN=127.0.0.1:$HTTP_PORT" \
        "CONF_DIR=$prefix"
    render "$ROOT/nginx/dev-nginx.conf.in" "$prefix/nginx.conf" \
        "PREFIX=$prefix" \
        "ERROR_LOG=$LOG_DIR/nginx-error.log" \
        "ACCESS_LOG=$LOG_DIR/nginx-access.log" \
        "SITE_CONF=$prefix/trackly.conf"
    NGINX_ARGS=(-p "$prefix/" -c "$prefix/nginx.conf" -e "$LOG_DIR/nginx-error.log")
    out=$(nginx -t -q "${NGINX_ARGS[@]}" 2>&1) || { printf '%s\n' "$out" >&2; die "nginx rejects the configuration"; }
}

# web_root: the web client as the build made it ($BUILD_DIR/web/dist,
# web/build.py), or, when nginx's workers (nobody, as we are root) cannot
# read it (say, a checkout under /root), a copy they can.
web_root() {
    local built=$ROOT/$BUILD_DIR/web/dist
    WEB_ROOT=$built
    [[ -f $WEB_ROOT/index.html ]] || die "$BUILD_DIR/web/dist/index.html is missing (did the build run?)"
    if is_root && ! runuser -u nobody -- test -r "$WEB_ROOT/index.html" 2>/dev/null; then
        cp -R -- "$built" "$SOCK_DIR/web"
        chmod -R a+rX -- "$SOCK_DIR/web"
        WEB_ROOT=$SOCK_DIR/web
        note "nginx workers (nobody) cannot read $built; serving a copy (restart to pick up a rebuild)"
    fi
}


# start_nginx: nginx in the foreground of its own session (daemon off), so
# it is our child and is stopped like the other programs. It is up once it
# has written its pid file, which it does after binding its port. Outside
# ./dev run (test, bench) the port is a free one, and one taken between
# free_port and the bind gets another try.
start_nginx() {
    local try pidfile=$SOCK_DIR/nginx/nginx.pid steps
    for try in 1 2 3 4 5; do
        if [[ $MODE != run ]]; then HTTP_PORT=$(free_port); fi
        # shellcheck disable=SC2034  # the stack's URL, read by stack.sh
        URL=http://127.0.0.1:$HTTP_PORT
        nginx_configure
        rm -f -- "$pidfile"
        start_program nginx "$LOG_DIR/nginx-error.log" nginx "${NGINX_ARGS[@]}" -g 'daemon off;'
        steps=100
        while alive "${PIDS[nginx]}" && [[ ! -s $pidfile ]] && ((steps-- > 0)); do sleep 0.1; done
        if alive "${PIDS[nginx]}" && [[ -s $pidfile ]]; then
            return 0
        fi
        if alive "${PIDS[nginx]}"; then
            die_with_log "nginx did not come up within 10 s" "$LOG_DIR/nginx-error.log"
        fi
        forget_program nginx
        if [[ $MODE != run ]] && tail -n 20 -- "$LOG_DIR/nginx-error.log" | grep -q 'Address already in use'; then
            note "port $HTTP_PORT was taken meanwhile; trying another (attempt $try)"
            continue
        fi
        break
    done
    if [[ $MODE == run ]] && tail -n 20 -- "$LOG_DIR/nginx-error.log" | grep -q 'Address already in use'; then
        die_with_log "port $HTTP_PORT is in use; set TRACKLY_HTTP_PORT to another port" "$LOG_DIR/nginx-error.log"
    fi
    die_with_log "nginx did not start" "$LOG_DIR/nginx-error.log"
}

