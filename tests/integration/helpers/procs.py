"""Processes, read from /proc: state, death, children.  Only the standard
library: bench/faultlib.py imports it too, outside pytest."""

import os
import signal
import subprocess


def proc_state(pid):
    """The state letter of pid from /proc (R, S, Z, ...), None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()[0]


def is_dead(pid):
    return proc_state(pid) in (None, "Z", "X")


def children_of(pid):
    """Live (non-zombie) child pids of pid, from /proc."""
    kids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: the fields
        # we want come after the last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == pid and state not in ("Z", "X"):
            kids.add(int(entry))
    return kids


def terminate(proc, timeout):
    """Sends SIGTERM to a Popen and waits up to timeout seconds for it to
    exit, then kills it; returns its exit status."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def memory(pid):
    """(VmRSS, VmHWM) of pid in KiB, from /proc; None when it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
    except OSError:
        return None
    return out.get("VmRSS", 0), out.get("VmHWM", 0)
