"""Tests of bench/proc-ticks.sh, bench/monitor's CPU sampling: a process
that vanishes between being listed and being read counts 0 ticks instead of
ending the run (a PostgreSQL backend did at 600,000 projects)."""

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(ROOT, "bench", "proc-ticks.sh")


def stat_line(pid, comm, utime, stime, cutime=0, cstime=0):
    # fields 3..: state ppid pgrp session tty_nr tpgid flags minflt cminflt
    # majflt cmajflt utime stime cutime cstime priority ...
    return (f"{pid} ({comm}) S 1 {pid} {pid} 0 -1 4194560 100 0 0 0 "
            f"{utime} {stime} {cutime} {cstime} 20 0 1 0 12345 1000 10\n")


def run(script, proc_root=None):
    """Runs script in bash strict mode, as bench/monitor does, after
    sourcing the library; returns (exit status, stdout, stderr)."""
    env = dict(os.environ)
    if proc_root is not None:
        env["PROC_ROOT"] = str(proc_root)
    r = subprocess.run(
        ["bash", "-c", "set -Eeuo pipefail; shopt -s inherit_errexit; "
         f". {LIB}; {script}"],
        capture_output=True, text=True, env=env, timeout=20)
    return r.returncode, r.stdout, r.stderr


def fake_proc(tmp_path, stats):
    for pid, text in stats.items():
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(text)
    return tmp_path


def test_ticks_reads_utime_stime_and_reaped_children(tmp_path):
    proc = fake_proc(tmp_path, {10: stat_line(10, "post) gres: x", 7, 5, 100, 50)})
    assert run("ticks 10; ticks 10 1", proc) == (0, "12\n162\n", "")


def test_ticks_of_a_vanished_process_is_zero(tmp_path):
    # 11: gone before the read; 12: gone between open and read (the kernel
    # returns nothing); 13: a line cut short.
    proc = fake_proc(tmp_path, {12: "", 13: "13 (postgres) S 1 13 13 0 -1 4"})
    assert run("ticks 11; ticks 12 1; ticks 13", proc) == (0, "0\n0\n0\n", "")


def test_tree_ticks_skips_children_that_vanished(tmp_path):
    proc = fake_proc(tmp_path, {
        20: stat_line(20, "postgres", 1, 2, 30, 40),
        21: stat_line(21, "postgres", 5, 5),
        23: "",
    })
    # 22 and 23 were listed as children but exited before their stat was read.
    script = "children() { printf '%s\\n' 21 22 23; }; tree_ticks 20"
    assert run(script, proc) == (0, f"{1 + 2 + 30 + 40 + 5 + 5}\n", "")


def test_on_the_real_proc_a_dead_pid_counts_zero():
    rc, out, err = run("sleep 0 & dead=$!; wait $dead; "
                       "ticks $dead; tree_ticks $dead; tree_ticks $$")
    assert (rc, err) == (0, "")
    zero, tree_dead, tree_self = out.split()
    assert (zero, tree_dead) == ("0", "0") and tree_self.isdigit()
