#!/usr/bin/env python3
"""Reads traces back from Jaeger's HTTP query API and checks what the tracing rig expects.

Dubbo (--trace): the trace holds, for every call in --calls, a span of the client-side sidecar
(--client-service, kind client, child of --client-parent: a span id, "none" for a trace root, or
"" not to check) and a span of the server-side sidecar (--server-service, kind server, child of
that client span); the server span of sayHello is --provider-span (the parent the provider got).

Redis (--redis-service): spans of SET, GET and LPUSH with the database attributes, LPUSH an error.
Polls up to --wait seconds: the sidecars and Jaeger batch what they send."""
import argparse
import json
import sys
import time
import urllib.request


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)
    except Exception:
        return None


def tags(span):
    return {t["key"]: t["value"] for t in span.get("tags", [])}


def parent(span):
    for ref in span.get("references", []):
        if ref.get("refType") == "CHILD_OF":
            return ref["spanID"]
    return ""


def spans_of(trace):
    processes = trace.get("processes", {})
    out = []
    for s in trace.get("spans", []):
        s = dict(s)
        s["service"] = processes.get(s.get("processID"), {}).get("serviceName", "")
        s["tags_"] = tags(s)
        out.append(s)
    return out


def check_dubbo(args):
    calls = args.calls.split(",")
    problems = ["no trace yet"]
    deadline = time.time() + args.wait
    while time.time() < deadline:
        body = get(f"{args.api}/traces/{args.trace}")
        traces = (body or {}).get("data") or []
        spans = [s for t in traces for s in spans_of(t)]
        problems = dubbo_problems(args, calls, spans)
        if not problems:
            print(f"trace {args.trace}: {len(spans)} spans, client/server pairs linked for {', '.join(calls)}")
            return 0
        time.sleep(0.5)
    print(f"trace {args.trace}: " + "; ".join(problems), file=sys.stderr)
    return 1


def dubbo_problems(args, calls, spans):
    problems = []
    if len(spans) != 2 * len(calls):
        problems.append(f"{len(spans)} spans, expected {2 * len(calls)}")
    for call in calls:
        name = f"io.metaproto.demo.GreetingService/{call}"
        client = [s for s in spans if s["service"] == args.client_service and s["operationName"] == name]
        server = [s for s in spans if s["service"] == args.server_service and s["operationName"] == name]
        if len(client) != 1 or len(server) != 1:
            problems.append(f"{call}: {len(client)} client-side and {len(server)} server-side spans")
            continue
        c, s = client[0], server[0]
        if c["tags_"].get("span.kind") != "client" or s["tags_"].get("span.kind") != "server":
            problems.append(f"{call}: kinds {c['tags_'].get('span.kind')}/{s['tags_'].get('span.kind')}")
        if parent(s) != c["spanID"]:
            problems.append(f"{call}: server span's parent {parent(s)!r} is not the client span {c['spanID']}")
        if args.client_parent == "none" and parent(c):
            problems.append(f"{call}: the client span has parent {parent(c)}, expected a root")
        elif args.client_parent not in ("", "none") and parent(c) != args.client_parent:
            problems.append(f"{call}: the client span's parent is {parent(c)!r}, expected {args.client_parent}")
        for span in (c, s):
            t = span["tags_"]
            if t.get("rpc.system.name") != "dubbo" or t.get("rpc.system") != "dubbo" or t.get("rpc.service") != "io.metaproto.demo.GreetingService" \
                    or t.get("rpc.method") != name or "metaproto.request_id" not in t or "server.port" not in t or "network.peer.address" not in t:
                problems.append(f"{call}: attributes missing in {span['service']}'s span: {sorted(t)}")
        if call == "sayHello" and s["spanID"] != args.provider_span:
            problems.append(f"the provider's parent span {args.provider_span} is not Envoy B's sayHello span {s['spanID']}")
        if call == "fail" and not (c["tags_"].get("error") and s["tags_"].get("error")):
            problems.append("fail: the spans do not say error")
    return problems


def check_redis(args):
    deadline = time.time() + args.wait
    problems = ["no traces yet"]
    while time.time() < deadline:
        body = get(f"{args.api}/traces?service={args.redis_service}&limit=100")
        spans = [s for t in (body or {}).get("data") or [] for s in spans_of(t)]
        by_name = {}
        for s in spans:
            by_name.setdefault(s["operationName"], []).append(s)
        problems = []
        for name in ("SELECT", "SET", "GET", "LPUSH"):
            if name not in by_name:
                problems.append(f"no {name} span")
        if not problems:
            for name in ("SET", "GET", "LPUSH"):
                t = by_name[name][0]["tags_"]
                want = {"db.system.name": "redis", "db.system": "redis", "db.operation.name": name, "db.namespace": "3",
                        "server.address": "127.0.0.1", "span.kind": "client"}
                wrong = {k: t.get(k) for k, v in want.items() if t.get(k) != v}
                if str(t.get("server.port")) != str(args.redis_port):
                    wrong["server.port"] = t.get("server.port")
                if wrong:
                    problems.append(f"{name}: {wrong}")
            lpush = by_name["LPUSH"][0]["tags_"]
            if lpush.get("db.response.status_code") != "WRONGTYPE" or not lpush.get("error"):
                problems.append(f"LPUSH: status {lpush.get('db.response.status_code')}, error {lpush.get('error')}")
        if not problems:
            print(f"redis: {len(spans)} spans with db attributes ({', '.join(sorted(by_name))})")
            return 0
        time.sleep(0.5)
    print("redis: " + "; ".join(problems), file=sys.stderr)
    return 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--api", required=True)
    p.add_argument("--trace")
    p.add_argument("--client-parent", default="")
    p.add_argument("--provider-span", default="")
    p.add_argument("--client-service", default="")
    p.add_argument("--server-service", default="")
    p.add_argument("--calls", default="sayHello")
    p.add_argument("--redis-service")
    p.add_argument("--redis-port")
    p.add_argument("--wait", type=float, default=20)
    args = p.parse_args()
    if args.redis_service:
        return check_redis(args)
    return check_dubbo(args)


if __name__ == "__main__":
    sys.exit(main())
