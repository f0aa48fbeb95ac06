"""Bounded waiting: poll until a condition holds or a deadline passes."""

import time

import pytest


def wait_until(predicate, timeout, interval=0.1):
    """Polls predicate until it returns something truthy or timeout seconds
    pass; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def eventually(predicate, timeout, what, interval=0.1):
    """wait_until(predicate, timeout), failing the test with what (a string,
    or a callable giving one, evaluated then) when it never holds."""
    value = wait_until(predicate, timeout, interval)
    if not value:
        detail = what() if callable(what) else what
        pytest.fail(f"not within {timeout} s: {detail}", pytrace=False)
    return value
