# shellcheck shell=bash
# dev.d/fuzz.sh: ./dev fuzz: the libFuzzer harnesses of tests/fuzz,
# built with clang, each run for a while, with a summary.

# --- ./dev fuzz -------------------------------------------------------------
#
# Each harness runs on its own (the machine may be shared), with the
# checked-in tests/fuzz/corpus/NAME/ as a read-only seed directory and
# .run/fuzz/NAME/ as the working corpus libFuzzer adds to (kept between
# runs, so local runs build on each other; CI starts empty). Leak detection
# is on, UBSan aborts (-fno-sanitize-recover), and any crash, leak, timeout,
# out-of-memory or sanitizer report fails the run, with the input saved in
# .run/fuzz/artifacts/ and the log in .run/fuzz/NAME.log. Reproduce with
#   build-fuzz/tests/fuzz/fuzz_NAME .run/fuzz/artifacts/fuzz_NAME-crash-...

readonly FUZZ_HARNESSES=(jwt body link status fcgi mail)

# fuzz_stat LOG NAME: a value from libFuzzer's -print_final_stats lines.
fuzz_stat() {
    sed -n "s/^stat::$2: *//p" -- "$1" | tail -n 1
}

# fuzz_one NAME SECONDS: runs one harness; records its summary line.
fuzz_one() {
    local name=$1 secs=$2 bin=$ROOT/build-fuzz/tests/fuzz/fuzz_$1 rc=0
    local work=$RUN_DIR/fuzz/$1 seeds=$ROOT/tests/fuzz/corpus/$1
    local log=$RUN_DIR/fuzz/$1.log artifacts=$RUN_DIR/fuzz/artifacts
    local args=() last execs rate cov ft corpus found line
    [[ -x $bin ]] || die "$bin was not built"
    mkdir -p -- "$work" "$artifacts"
    args=(-max_total_time="$secs" -rss_limit_mb=2048 -timeout=10
          -detect_leaks=1 -print_final_stats=1
          -artifact_prefix="$artifacts/fuzz_$name-")
    if [[ -f $ROOT/tests/fuzz/$name.dict ]]; then args+=(-dict="$ROOT/tests/fuzz/$name.dict"); fi
    say "fuzz_$name for ${secs}s"
    # The working corpus comes first: libFuzzer writes new inputs only
    # there; the seed directory is read.
    ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        timeout --kill-after=30s $((secs + 300)) "$bin" "${args[@]}" "$work" "$seeds" >"$log" 2>&1 || rc=$?

    last=$(grep -E '^#[0-9]+' -- "$log" | tail -n 1) || true
    execs=$(fuzz_stat "$log" number_of_executed_units)
    rate=$(fuzz_stat "$log" average_exec_per_sec)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corpus=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
    found=$(grep -nE 'ERROR: (libFuzzer|[A-Za-z]+Sanitizer)|runtime error:|invariant broken|^SUMMARY: ' -- "$log" | head -n 5) || true
    line=$(printf 'execs %s  exec/s %s  cov %s  ft %s  corpus %s' "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corpus:-?}")
    if ((rc != 0)) || [[ -n $found ]]; then
        printf '%s\n' "$found" >&2
        show_tail "$log"
        record "fuzz_$name" FAIL "exit $rc; $line; log: ${log#"$ROOT"/}"
    else
        record "fuzz_$name" PASS "$line"
    fi
}

cmd_fuzz() {
    local secs=60 names=() name start=$SECONDS
    while (($#)); do
        case $1 in
            --time) (($# >= 2)) || die "--time needs a number of seconds"
                    secs=$2; shift ;;
            --time=*) secs=${1#--time=} ;;
            -h | --help) usage; return 0 ;;
            *) name=${1#fuzz_}
               [[ " ${FUZZ_HARNESSES[*]} " == *" $name "* ]] ||
                   die "no harness $1 (one of: ${FUZZ_HARNESSES[*]})"
               names+=("$name") ;;
        esac
        shift
    done
    [[ $secs =~ ^[1-9][0-9]*$ ]] || die "--time wants a positive number of seconds, not '$secs'"
    ((${#names[@]})) || names=("${FUZZ_HARNESSES[@]}")

    ensure_packages
    # -Db_lundef=false: the sanitizer runtimes resolve symbols at load.
    CC=clang build build-fuzz -Dfuzz=true -Dtests=false \
        -Db_sanitize=address,undefined -Db_lundef=false
    mkdir -p -- "$RUN_DIR/fuzz"
    for name in "${names[@]}"; do fuzz_one "$name" "$secs"; done

    print_summary "fuzz summary (${secs}s each, $((SECONDS - start)) s in all)" \
        "logs and working corpora: .run/fuzz/; findings: .run/fuzz/artifacts/" \
        "no findings"
}

