# shellcheck shell=bash
# bench/proc-ticks.sh: CPU time of a process and of its children, read from
# /proc, for bench/monitor's CPU figures. Sourced, not run.
#
# Processes come and go while they are sampled: a PostgreSQL backend can
# exit between `pgrep` listing it and the read of its /proc/PID/stat (at
# 600,000 projects one did, and the run was lost to `total + : syntax
# error`). A process that is gone, or whose stat cannot be read whole, counts
# 0 ticks: its time is then either lost (a child of someone else) or, for
# the postmaster's children, already in the parent's cutime/cstime once it is
# reaped. Every function prints a number and returns 0, also under
# `set -Eeuo pipefail`.
#
# PROC_ROOT (default /proc) lets tests/tools/test_proc_ticks.py point the
# functions at a made-up /proc.

PROC_ROOT=${PROC_ROOT:-/proc}

# ticks PID [1]: utime+stime of PID (with 1: plus what its reaped children
# used), in clock ticks; 0 when it is gone or its stat is not whole.
ticks() {
    local s="" f i
    { read -r s <"$PROC_ROOT/$1/stat"; } 2>/dev/null || true
    [[ $s == *') '* ]] || { echo 0; return 0; }
    s=${s##*) }   # comm may hold spaces and ')'; the last ") " ends it
    read -r -a f <<<"$s"
    for i in 11 12 13 14; do
        [[ ${f[i]:-} =~ ^[0-9]+$ ]] || { echo 0; return 0; }
    done
    if [[ ${2:-} == 1 ]]; then echo $((f[11] + f[12] + f[13] + f[14])); else echo $((f[11] + f[12])); fi
}

# children PID: the pids of PID's live children (none when it has none or
# is gone).
children() { pgrep -P "$1" || true; }

# tree_ticks PID: PID with its reaped children, plus its live children.
tree_ticks() {
    local total child
    total=$(ticks "$1" 1)
    for child in $(children "$1"); do total=$((total + $(ticks "$child"))); done
    echo "$total"
}
