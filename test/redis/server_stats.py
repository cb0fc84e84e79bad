#!/usr/bin/env python3
"""What a Redis server counted between two `INFO everything` snapshots, in MetaProto's terms.

  server_stats.py BEFORE AFTER commands   # "METHOD COUNT" per command run or refused
  server_stats.py BEFORE AFTER errors     # "CODE COUNT" per error code replied
  server_stats.py BEFORE AFTER stat NAME  # the delta of one INFO field (e.g. total_connections_received)

Commands: `cmdstat_client|setname:calls=3,...,rejected_calls=1` becomes `CLIENT|SETNAME 4`
(calls + rejected_calls: MetaProto counts a command the server refused, e.g. for arity, too).
The snapshot BEFORE is itself an INFO call that the server counts after answering it, so one
INFO is taken off: the deltas are the traffic between the snapshots, nothing of the rig's own.
"""
import re
import sys

FIELD = re.compile(r"^([A-Za-z_|\-0-9]+):(.*)$")


def parse(path):
    commands, errors, fields = {}, {}, {}
    with open(path) as f:
        for line in f:
            m = FIELD.match(line.strip())
            if not m:
                continue
            name, value = m.groups()
            if name.startswith("cmdstat_"):
                stats = dict(kv.split("=", 1) for kv in value.split(","))
                commands[name[len("cmdstat_"):].upper()] = int(stats["calls"]) + int(stats.get("rejected_calls", 0))
            elif name.startswith("errorstat_"):
                errors[name[len("errorstat_"):]] = int(value.split("=", 1)[1])
            else:
                fields[name] = value
    return commands, errors, fields


def deltas(before, after):
    out = {}
    for key, value in after.items():
        d = value - before.get(key, 0)
        if d:
            out[key] = d
    return out


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    before, after, what = sys.argv[1], sys.argv[2], sys.argv[3]
    b_cmd, b_err, b_fields = parse(before)
    a_cmd, a_err, a_fields = parse(after)
    if what == "commands":
        d = deltas(b_cmd, a_cmd)
        d["INFO"] = d.get("INFO", 0) - 1  # the BEFORE snapshot itself
        for name in sorted(d):
            if d[name]:
                print(name, d[name])
    elif what == "errors":
        for code, count in sorted(deltas(b_err, a_err).items()):
            print(code, count)
    elif what == "stat":
        print(int(a_fields[sys.argv[4]]) - int(b_fields[sys.argv[4]]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
