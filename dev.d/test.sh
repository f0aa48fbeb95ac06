# shellcheck shell=bash
# dev.d/test.sh: ./dev test: checksrc, shellcheck, the unit tests and
# the integration suite against a throwaway stack, with its summary.

# --- ./dev test -------------------------------------------------------------
#
# The integration suite (tests/integration, run with Debian's
# /usr/bin/python3 -m pytest) gets the running stack through these variables;
# this is the contract with the test authors:
#
#   TRACKLY_URL          base URL through nginx, e.g. http://127.0.0.1:41234
#   TRACKLY_DB_URL       libpq key/value DSN of the test database, as the
#                        superuser (the API's DB_URL; psycopg2.connect takes it)
#   TRACKLY_PGCTL        executable: `$TRACKLY_PGCTL stop` stops PostgreSQL
#                        (fast mode, waits; `stop-immediate`: immediate mode,
#                        like a crash); `$TRACKLY_PGCTL start` starts it
#                        and waits until it accepts connections
#   TRACKLY_API_PID      pid of the trackly-api master
#   TRACKLY_API_BIN      path of the trackly-api binary under test
#   TRACKLY_API_LOG      its log file (stderr)
#   TRACKLY_API_WORKERS  number of workers it runs (2)
#   TRACKLY_JWT_SECRET   the JWT secret it runs with
#   TRACKLY_CORS_ORIGIN  the one allowed CORS origin (http://allowed.test)
#   TRACKLY_SOURCE_ROOT  the repository root
#   TRACKLY_NGINX_LOG    nginx's error log
#   TRACKLY_API_SOCKET   the API's FastCGI socket (mode 0666), for a test's
#                        own nginx
#   TRACKLY_BUILD_DIR    the build directory (build or build-asan)
#   TRACKLY_MAX_PROJECTS the API's MAX_PROJECTS_PER_USER (pinned to 5 here,
#                        so the limit test stays quick)
#   (not passed on: API_REGISTRATIONS_PER_MINUTE is raised to 1000000 here,
#   as the suite registers hundreds of accounts a minute; the test of the
#   bound runs its own API instance)
#   TRACKLY_MONITOR_MIN_INTERVAL  MONITOR_MIN_INTERVAL, only when it is set
#   TRACKLY_MONITOR_BIN  path of the trackly-monitor binary under test; no
#                        monitor runs in the stack: the monitor tests start
#                        their own, with an SMTP sink and target servers
#   TRACKLY_MONITOR_LOG_DIR  where those tests keep each monitor's log
#                        (the tests assume the default, 60, otherwise)
#   TRACKLY_NODE         the node binary that runs the browser driver
#   TRACKLY_CHROMIUM     the browser: Debian's /usr/bin/chromium
#   TRACKLY_WEB_DRIVER   the driver, tests/web/driver.mjs (its packages in
#                        tests/web/node_modules, from npm ci)
#   TRACKLY_SCREENSHOT_DIR  where browser tests put screenshots
#                        (.run/test-log/screenshots/)
#   TRACKLY_REQUIRE_BROWSER  1: a missing node, chromium or node_modules
#                        fails the browser tests instead of skipping them
#
# nginx's access log (nginx-access.log) sits beside TRACKLY_NGINX_LOG.
# nginx rate-limits /user/login and /user/register per client address, so
# tests spread their requests over source addresses 127.0.x.y.

readonly TEST_CORS_ORIGIN=http://allowed.test
readonly TEST_API_WORKERS=2
readonly TEST_MAX_PROJECTS=5
readonly TEST_REGISTRATIONS_PER_MINUTE=1000000

# --- Browser tests (node, npm) ----------------------------------------------

readonly WEB_TEST_DIR=$ROOT/tests/web
readonly WEB_TEST_STAMP=$WEB_TEST_DIR/node_modules/.npm-ci-stamp

# ensure_node: node and npm for the browser tests. These machines usually
# have node 20 and npm from nodesource; one without node gets Debian's
# nodejs (node 18) and npm, which tests/web/package.json allows for.
ensure_node() {
    command -v node >/dev/null && command -v npm >/dev/null && return 0
    sudo_for "node or npm is missing and there is no sudo to install them"
    "${SUDO[@]}" apt-get update -q
    if ! command -v node >/dev/null; then
        say "installing Debian's nodejs (node runs the browser tests' driver)"
        apt_install nodejs
    fi
    # A nodesource nodejs brings its own npm; Debian's does not.
    if ! command -v npm >/dev/null; then
        say "installing Debian's npm (npm ci installs the browser tests' packages)"
        apt_install npm
    fi
}

# web_test_deps: `npm ci` in tests/web/ (playwright-core and axe-core, as
# pinned by package-lock.json) when node_modules is missing or older than
# the lock file; a stamp file records the last good install. A failure is
# recorded, not fatal: the browser tests then fail and say why, and the
# rest of the suite still runs.
web_test_deps() {
    local start=$SECONDS
    ensure_node
    if [[ -f $WEB_TEST_STAMP && ! $WEB_TEST_DIR/package-lock.json -nt $WEB_TEST_STAMP &&
          ! $WEB_TEST_DIR/package.json -nt $WEB_TEST_STAMP ]]; then
        return 0
    fi
    say "browser tests: npm ci in tests/web (playwright-core, axe-core; node $(node --version), npm $(npm --version))"
    # --ignore-scripts: neither package needs an install script, and none
    # may fetch a browser of its own (the tests use Debian's chromium).
    if (cd "$WEB_TEST_DIR" && timeout 600 npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn); then
        touch -- "$WEB_TEST_STAMP"
        note "installed in $((SECONDS - start)) s"
    else
        warn "npm ci in tests/web failed; the browser tests will fail"
        record browser-deps FAIL "npm ci in tests/web failed (see above)"
    fi
}

# run_unit_tests [SETUP]: the unit suite, under meson's test setup SETUP
# (valgrind) when given.
run_unit_tests() {
    local setup=${1:-} out=$LOG_DIR/unit.out rc=0 count counts name=unit wrap=()
    if [[ -n $setup ]]; then
        name="unit/$setup"
        wrap=(--setup "$setup")
    fi
    say "unit tests ($BUILD_DIR${setup:+, under $setup})"
    count=$(meson test -C "$ROOT/$BUILD_DIR" --no-rebuild --suite unit --list 2>/dev/null | grep -c .) || true
    if ((count == 0)); then
        warn "no unit tests are defined (meson test --suite unit found none)"
        record unit FAIL "no unit tests defined"
        return 0
    fi
    meson test -C "$ROOT/$BUILD_DIR" --no-rebuild --suite unit "${wrap[@]}" --print-errorlogs 2>&1 | tee "$out" || rc=$?
    counts=$(grep -E '^(Ok|Fail|Timeout):' "$out" | tr -s ' ' | sed 's/ *$//' | paste -sd ' ' -) || true
    if ((rc == 0)); then record "$name" PASS "$counts"; else record "$name" FAIL "${counts:-meson test exited $rc}"; fi
}

# run_checksrc: the tests of tools/ and bench/ helpers (tests/tools), then
# the house rules on the C sources (tools/checksrc --help).
run_checksrc() {
    local out=$LOG_DIR/checksrc.out rc=0 n
    say "tests/tools, then tools/checksrc"
    "$PYTHON" -m pytest -q -p no:cacheprovider tests/tools >"$out" 2>&1 || rc=$?
    n=$(grep -oE '[0-9]+ (passed|failed)' "$out" | paste -sd ' ' -) || true
    if ((rc)); then
        cat -- "$out"
        record tools FAIL "tests/tools: ${n:-pytest exited $rc}"
    else
        record tools PASS "tests/tools: $n"
    fi
    if "$ROOT/tools/checksrc" 2>&1 | tee -a "$out"; then
        record checksrc PASS "no findings in the C sources"
    else
        record checksrc FAIL "findings listed above (${out#"$ROOT"/})"
    fi
}

# shell_scripts: the shell scripts of the tree, one a line: ./dev, dev.d/,
# and those of .ci, bench, debian, tests/systemd and tools (by name or by
# their #! line).
shell_scripts() {
    local f
    printf '%s\n' dev dev.d/*.sh
    for f in .ci/* bench/* debian/* tests/systemd/* tools/*; do
        [[ -f $f ]] || continue
        if [[ $f == *.sh ]] || head -n 1 -- "$f" | grep -qE '^#!(/usr)?/bin/(env )?(ba)?sh\b'; then
            printf '%s\n' "$f"
        fi
    done
}

# run_shellcheck: shellcheck on those scripts (-x: it follows what they
# source; the paths of their `# shellcheck source=` are from the root).
run_shellcheck() {
    local out=$LOG_DIR/shellcheck.out scripts=()
    mapfile -t scripts < <(shell_scripts)
    say "shellcheck"
    if shellcheck -x -- "${scripts[@]}" 2>&1 | tee "$out"; then
        record shellcheck PASS "no findings in ${#scripts[@]} shell scripts"
    else
        record shellcheck FAIL "findings listed above (${out#"$ROOT"/})"
    fi
}

run_integration_tests() {
    local out=$LOG_DIR/integration.out rc=0 summary
    say "integration tests against $URL ($BUILD_DIR)"
    if [[ ! -d $ROOT/tests/integration ]]; then
        record integration FAIL "tests/integration is missing"
        return 0
    fi
    with_stack_env \
        "TRACKLY_API_BIN=$ROOT/$BUILD_DIR/api/trackly-api" \
        "TRACKLY_API_WORKERS=$TEST_API_WORKERS" \
        "TRACKLY_JWT_SECRET=$JWT_SECRET" \
        "TRACKLY_CORS_ORIGIN=$TEST_CORS_ORIGIN" \
        "TRACKLY_API_SOCKET=$SOCK_DIR/api.sock" \
        "TRACKLY_MAX_PROJECTS=$MAX_PROJECTS_PER_USER" \
        "TRACKLY_MONITOR_BIN=$ROOT/$BUILD_DIR/monitor/trackly-monitor" \
        "TRACKLY_MONITOR_LOG_DIR=$LOG_DIR/monitor" \
        "TRACKLY_NODE=$(command -v node || true)" \
        "TRACKLY_CHROMIUM=/usr/bin/chromium" \
        "TRACKLY_WEB_DRIVER=$WEB_TEST_DIR/driver.mjs" \
        "TRACKLY_SCREENSHOT_DIR=$LOG_DIR/screenshots" \
        "TRACKLY_REQUIRE_BROWSER=1" \
        "$PYTHON" -m pytest -q tests/integration "$@" 2>&1 | tee "$out" || rc=$?
    summary=$(grep -E '(passed|failed|error|skipped|deselected|no tests ran)' "$out" |
        tail -n 1 | sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^=* *//' -e 's/ *=*$//') || true
    case $rc in
        0) record integration PASS "$summary" ;;
        5) warn "pytest collected no tests (exit status 5): nothing in tests/integration ran"
           record integration FAIL "no tests collected" ;;
        *) record integration FAIL "${summary:-pytest exited $rc}" ;;
    esac
}

# After the API has stopped (LeakSanitizer reports at exit): any sanitizer
# report in its log fails the run.
# The monitor tests keep one log per monitor they start in $LOG_DIR/monitor/.
scan_sanitizer_reports() {
    local hits logs=("$LOG_DIR/api.log")
    if [[ -d $LOG_DIR/monitor ]]; then
        logs+=("$LOG_DIR"/monitor/*.log)
    fi
    hits=$(grep -nsE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' -- "${logs[@]}" | head -n 20) || true
    if [[ -n $hits ]]; then
        printf '%s\n' "$hits" >&2
        record sanitizers FAIL "reports in ${LOG_DIR#"$ROOT"/}/ (api.log, monitor/)"
    else
        record sanitizers PASS "no reports in the API and monitor logs"
    fi
}

cmd_test() {
    local sanitize=0 valgrind=0 unit=1 integration=1 systemd_boot=0 pytest_args=() start=$SECONDS
    while (($#)); do
        case $1 in
            --sanitize) sanitize=1 ;;
            --valgrind) valgrind=1 ;;
            --unit) integration=0 ;;
            --integration) unit=0 ;;
            --systemd) systemd_boot=1 ;;
            -h | --help) usage; return 0 ;;
            --) shift; pytest_args+=("$@"); break ;;
            *) pytest_args+=("$1") ;;
        esac
        shift
    done
    ((unit || integration)) || die "--unit and --integration exclude each other"
    if ((systemd_boot)); then
        # A test of its own: the package under a booted systemd, nothing of
        # the local build or stack (tests/systemd/boot-test --help).
        ((!sanitize && !valgrind && unit && integration && ${#pytest_args[@]} == 0)) ||
            die "--systemd takes no other option"
        is_root || die "--systemd needs root (debootstrap, systemd-nspawn)"
        ensure_packages
        exec "$ROOT/tests/systemd/boot-test"
    fi
    if ((valgrind)); then
        ((!sanitize)) || die "--valgrind and --sanitize exclude each other (ASan and memcheck do not mix)"
        ((unit)) || die "--valgrind runs the unit tests only"
        integration=0
    fi
    if ((!integration && ${#pytest_args[@]})); then warn "ignoring pytest arguments with --unit: ${pytest_args[*]}"; fi

    local build_opts=() test_log=$RUN_DIR/test-log problem
    if ((sanitize)); then
        BUILD_DIR=build-asan
        build_opts=("-Db_sanitize=address,undefined" -Db_lundef=false)
        test_log=$RUN_DIR/test-log-sanitize
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
        export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
        if [[ -f $ROOT/tests/lsan.supp && -z ${LSAN_OPTIONS:-} ]]; then
            export LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp:print_suppressions=0
        fi
    elif ((valgrind)); then
        test_log=$RUN_DIR/test-log-valgrind
    fi
    throwaway_prepare test "$test_log" "${build_opts[@]}"
    if ((integration)); then web_test_deps; fi

    if ((unit)); then
        run_checksrc
        run_shellcheck
        if ((valgrind)); then run_unit_tests valgrind; else run_unit_tests; fi
    fi

    if ((integration)); then
        export API_WORKERS=$TEST_API_WORKERS CORS_ORIGINS=$TEST_CORS_ORIGIN
        export MAX_PROJECTS_PER_USER=$TEST_MAX_PROJECTS
        export API_REGISTRATIONS_PER_MINUTE=$TEST_REGISTRATIONS_PER_MINUTE
        if [[ -n ${MONITOR_MIN_INTERVAL:-} ]]; then
            export TRACKLY_MONITOR_MIN_INTERVAL=$MONITOR_MIN_INTERVAL
        fi
        throwaway_start $((sanitize ? 90 : 30))

        run_integration_tests "${pytest_args[@]}"
        stack_stop
        # trackly-api promises a clean exit within 10 s of SIGTERM.
        problem=$(stop_problem trackly-api "the tests ended")
        if [[ -n $problem ]]; then
            record shutdown FAIL "$problem"
        else
            record shutdown PASS "trackly-api stopped cleanly on SIGTERM"
        fi
        if ((sanitize)); then scan_sanitizer_reports; fi
    fi

    print_summary "summary ($BUILD_DIR, $((SECONDS - start)) s)" \
        "logs: ${LOG_DIR#"$ROOT"/}/" "all passed"
}
