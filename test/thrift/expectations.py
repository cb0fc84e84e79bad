#!/usr/bin/env python3
"""Turns what Thrift clients observed into check_metrics.py expectations.

  expectations.py --idl test/thrift/demo.thrift CLIENT_OUTPUT...

Reads the "OBSERVED service=S method=M outcome=O" lines the rig's clients print and prints one
--expect argument per line of output (NUL-free, for `mapfile`), counting calls per
(service, method, response_status, response_code) the way the codec documents it:
  ok                         -> ok, "0"
  oneway                     -> no_response, "oneway"
  <declared exception class> -> server_error, "exception:<its field id in the IDL's throws clause>"
  TApplicationException:<T>  -> client_error for T in 1,2,3,4,7,8,9,10, else server_error;
                                "app_exception:<T>"
plus the total of all calls, and the duration histogram's count per method of answered calls.
"""
import argparse
import collections
import re

CLIENT_ERROR_APP_EXCEPTIONS = {1, 2, 3, 4, 7, 8, 9, 10}
OBSERVED = re.compile(r"^OBSERVED service=(\S*) method=(\S+) outcome=(\S+)$")


def declared_exceptions(idl_path):
    with open(idl_path) as f:
        idl = f.read()
    out = {}
    for clause in re.findall(r"throws\s*\(([^)]*)\)", idl):
        for field_id, name in re.findall(r"(\d+)\s*:\s*(\w+)\s+\w+", clause):
            out[name] = int(field_id)
    return out


def labels(outcome, declared):
    if outcome == "ok":
        return "ok", "0"
    if outcome == "oneway":
        return "no_response", "oneway"
    m = re.fullmatch(r"TApplicationException:(-?\d+)", outcome)
    if m:
        t = int(m.group(1))
        return ("client_error" if t in CLIENT_ERROR_APP_EXCEPTIONS else "server_error"), f"app_exception:{t}"
    if outcome in declared:
        return "server_error", f"exception:{declared[outcome]}"
    raise SystemExit(f"expectations.py: outcome {outcome!r} is not a result, a TApplicationException or a declared exception")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--idl", required=True)
    ap.add_argument("outputs", nargs="+")
    args = ap.parse_args()
    declared = declared_exceptions(args.idl)
    calls = collections.Counter()
    answered = collections.Counter()
    for path in args.outputs:
        with open(path) as f:
            for line in f:
                m = OBSERVED.match(line.strip())
                if not m:
                    continue
                service, method, outcome = m.groups()
                status, code = labels(outcome, declared)
                calls[(service, method, status, code)] += 1
                if outcome != "oneway":
                    answered[(service, method)] += 1
    if not calls:
        raise SystemExit("expectations.py: no OBSERVED lines in " + ", ".join(args.outputs))
    for (service, method, status, code), n in sorted(calls.items()):
        print(f"metaproto_requests_total{{protocol=thrift,service={service},method={method},"
              f"response_status={status},response_code={code}}} == {n}")
    print(f"metaproto_requests_total{{protocol=thrift}} == {sum(calls.values())}")
    for (service, method), n in sorted(answered.items()):
        print(f"metaproto_request_duration_microseconds_count{{protocol=thrift,service={service},method={method}}} == {n}")


if __name__ == "__main__":
    main()
