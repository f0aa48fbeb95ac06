"""Reading logs as they grow: sizes, what was written after an offset,
and the nginx lines that report a failed exchange with the API.  Only the
standard library: bench/faultlib.py imports it too, outside pytest."""


def file_size(path):
    """The size of the file at path, 0 if there is none."""
    try:
        with open(path, "rb") as f:
            return f.seek(0, 2)
    except OSError:
        return 0


def read_since(path, offset):
    """What the file at path gained after byte offset (see file_size); ""
    if it cannot be read."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def upstream_errors(text):
    """The lines of nginx's error log text that report a failed exchange
    with the API (502s, resets, timeouts)."""
    failure = ("failed (", "timed out", "prematurely closed", "reset by peer")
    return [line for line in text.splitlines()
            if "upstream" in line and any(word in line for word in failure)]
