"""
GET /metrics (issue 6): the API's counters in the Prometheus text format
0.0.4, scraped through nginx, summed over every worker through the shared
memory the master maps before it forks, so a worker's death loses none of
them.  Every line of every scrape goes through a strict parser.
"""

import math
import os
import re
import signal

import pytest

from helpers.http import call
from helpers.procs import children_of, is_dead
from helpers.stack import api_master, api_workers
from helpers.wait import wait_until

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)\}})? (\S+)$")
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def parse(text):
    """Parses the text format strictly: returns {(name, frozenset(labels)):
    value} and {family: type}.  Fails on any line it does not understand,
    a sample of an undeclared family, a duplicate sample or type, a
    non-cumulative histogram or a +Inf bucket that is not _count."""
    assert text.endswith("\n"), "the text must end with a newline"
    samples, types, helps = {}, {}, set()
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name, _, doc = line[7:].partition(" ")
            assert re.fullmatch(NAME, name) and doc and name not in helps, line
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert re.fullmatch(NAME, name) and kind in TYPES, line
            assert name not in types, f"second TYPE for {name}"
            types[name] = kind
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.groups()
        pairs = LABEL_PAIR.findall(labels or "")
        assert len({k for k, _ in pairs}) == len(pairs), line
        family = re.sub(r"_(bucket|sum|count)$", "", name) \
            if re.sub(r"_(bucket|sum|count)$", "", name) in types else name
        assert family in types, f"sample before its TYPE: {line}"
        number = float(value)                  # "+Inf", "NaN" are fine too
        assert not math.isnan(number), line
        if types[family] == "counter":
            assert name.endswith("_total") and number >= 0, line
        key = (name, frozenset(pairs))
        assert key not in samples, f"duplicate sample: {line}"
        samples[key] = number
    for family, kind in types.items():
        if kind != "histogram":
            continue
        buckets = sorted((float(dict(k[1])["le"]), v) for k, v in
                         samples.items() if k[0] == family + "_bucket")
        assert buckets and buckets[-1][0] == math.inf, family
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), f"{family} is not cumulative"
        assert counts[-1] == samples[(family + "_count", frozenset())]
        assert (family + "_sum", frozenset()) in samples
    return samples, types


def scrape():
    r = call("GET", "/metrics")
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"].replace(" ", "") == \
        "text/plain;version=0.0.4;charset=utf-8"
    return parse(r.text)[0]


def requests_of(samples, method, route, status):
    return samples.get(("trackly_http_requests_total", frozenset(
        {("method", method), ("route", route), ("status", status)})), 0)


def value(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


def test_metrics_parse_and_name_every_family():
    samples = scrape()
    names = {name for name, _ in samples}
    for name in ("trackly_http_request_duration_seconds_bucket",
                 "trackly_http_request_duration_seconds_sum",
                 "trackly_http_request_duration_seconds_count",
                 "trackly_db_errors_total",
                 "trackly_api_workers_restarted_total",
                 "trackly_api_workers", "trackly_api_workers_busy",
                 "trackly_api_workers_hung_total",
                 "trackly_api_hashing_slots", "trackly_api_hashing",
                 "trackly_api_hashing_refused_total",
                 "trackly_api_registrations_refused_total"):
        assert name in names, name
    assert value(samples, "trackly_api_workers") == api_workers()
    # API_WORKERS - 1 hash at once, so one worker is always free.
    assert value(samples, "trackly_api_hashing_slots") == \
        max(1, api_workers() - 1)
    assert value(samples, "trackly_api_workers_busy") >= 1    # this one
    assert {labels for name, labels in samples
            if name == "trackly_db_errors_total"} == \
        {frozenset({("kind", "unavailable")}), frozenset({("kind", "busy")}),
         frozenset({("kind", "error")})}


def test_parser_is_strict():
    for bad in ("x 1", "# TYPE x counter\nx{a=b} 1\n",
                "# TYPE x_total counter\nx_total 1\nx_total 2\n",
                "# TYPE x counter\nx_total one\n"):
        with pytest.raises(AssertionError):
            parse(bad)


def test_counters_grow_with_requests_by_route_and_status(new_user):
    before = scrape()
    for _ in range(3):
        assert call("GET", "/healthcheck").status_code == 200
    assert call("GET", f"/project/{2**40}",
                token=new_user.token).status_code == 404
    assert call("GET", "/project/no/such/path").status_code == 404
    after = scrape()

    def grew(method, route, status):
        return requests_of(after, method, route, status) - \
            requests_of(before, method, route, status)
    assert grew("GET", "/healthcheck", "200") >= 3
    assert grew("GET", "/project/{id}", "404") >= 1
    assert grew("-", "-", "404") >= 1
    # Only the route pattern is a label, never a path: no id, no garbage.
    assert not [labels for name, labels in after
                if str(2**40) in str(labels) or "no/such" in str(labels)]
    count = "trackly_http_request_duration_seconds_count"
    assert value(after, count) - value(before, count) >= 6  # + 1st scrape
    assert value(after, "trackly_http_request_duration_seconds_sum") >= \
        value(before, "trackly_http_request_duration_seconds_sum")


@pytest.mark.resilience
def test_killed_worker_counts_a_restart_and_loses_no_counts():
    master, want = api_master(), api_workers()
    for _ in range(2 * want):
        assert call("GET", "/healthcheck").status_code == 200
    before = scrape()
    pool = children_of(master)
    victim = min(pool)
    os.kill(victim, signal.SIGKILL)
    assert wait_until(lambda: is_dead(victim), timeout=2)
    assert wait_until(lambda: len(children_of(master)) == want
                      and victim not in children_of(master), timeout=5)
    assert wait_until(lambda: value(scrape(), "trackly_api_workers") == want,
                      timeout=5)
    after = scrape()
    restarted = "trackly_api_workers_restarted_total"
    assert value(after, restarted) == value(before, restarted) + 1
    # The victim's share of the counts is still there.
    for key, number in before.items():
        if key[0] == "trackly_http_requests_total":
            assert after.get(key, 0) >= number, key
    assert requests_of(after, "GET", "/metrics", "200") > \
        requests_of(before, "GET", "/metrics", "200")
