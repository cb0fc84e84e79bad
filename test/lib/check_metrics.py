#!/usr/bin/env python3
"""Asserts on Envoy's /stats/prometheus and prints the lines it asserted on.

  check_metrics.py --admin 127.0.0.1:9901 --wait 10 \
      --expect 'metaproto_requests_total{protocol=dubbo,method=sayHello} == 3'

A selector matches samples whose labels include the given ones; their values are summed.
Operators: == != >= <= > <. With --wait, retries until every expectation holds (histograms
appear only after a stats flush) and fails with the last observed values.
"""
import argparse
import re
import sys
import time
import urllib.request

EXPECT = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s*(==|!=|>=|<=|>|<)\s*(-?[0-9.]+)\s*$")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
OPS = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, ">=": lambda a, b: a >= b,
       "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b}


def parse_expectation(text):
    m = EXPECT.match(text)
    if not m:
        sys.exit(f"check_metrics: cannot parse --expect '{text}' (form: name{{label=value,...}} OP number)")
    name, labels, op, value = m.groups()
    wanted = dict(kv.split("=", 1) for kv in labels.split(",")) if labels else {}
    return text, name, wanted, op, float(value)


def scrape(admin):
    with urllib.request.urlopen(f"http://{admin}/stats/prometheus", timeout=5) as r:
        samples = []
        for line in r.read().decode().splitlines():
            m = SAMPLE.match(line)
            if m and not line.startswith("#"):
                samples.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3)), line))
        return samples


def evaluate(samples, expectation):
    _, name, wanted, op, value = expectation
    hits = [s for s in samples if s[0] == name and all(s[1].get(k) == v for k, v in wanted.items())]
    total = sum(s[2] for s in hits)
    return OPS[op](total, value), total, [s[3] for s in hits]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--admin", required=True, help="Envoy admin host:port")
    ap.add_argument("--expect", action="append", default=[], help="NAME{labels} OP NUMBER (repeatable)")
    ap.add_argument("--wait", type=float, default=0, help="seconds to retry before failing")
    args = ap.parse_args()
    expectations = [parse_expectation(e) for e in args.expect]
    deadline = time.time() + args.wait
    while True:
        samples = scrape(args.admin)
        results = [(e, *evaluate(samples, e)) for e in expectations]
        if all(r[1] for r in results) or time.time() >= deadline:
            break
        time.sleep(0.5)
    failed = 0
    for (text, *_), ok, total, lines in results:
        print(f"{'ok  ' if ok else 'FAIL'} {text}   (observed {total:g})")
        for line in lines:
            print(f"       {line}")
        failed += not ok
    if failed:
        print(f"check_metrics: {failed} of {len(results)} expectations failed; all metaproto_* lines:", file=sys.stderr)
        for s in samples:
            if s[0].startswith("metaproto_") and "_bucket" not in s[0]:
                print(f"  {s[3]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
