"""Latency against throughput per target, one row per protocol (p50 left, p99 right).

Usage: plot.py <plot-data.json> <out.png>   (the JSON comes from bench/lib/report.ts plotData)
Colour = target, marker = load shape; the closed-loop concurrency sweep of a target is joined by a line.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

COLOURS = {"direct": "#555555", "tcp_proxy": "#1f77b4", "wasm_floor": "#17becf", "metaproto": "#d62728", "metaproto_router": "#e377c2"}
EXTRA = ["#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#bcbd22", "#7f7f7f"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def main(data_file, out_file):
    with open(data_file) as f:
        protocols = json.load(f)
    rows = max(1, len(protocols))
    fig, axes = plt.subplots(rows, 2, figsize=(15, 4.6 * rows), squeeze=False)
    for row, proto in enumerate(protocols):
        shape_ids = [s["id"] for s in proto["shapes"]]
        marker_of = {s: MARKERS[i % len(MARKERS)] for i, s in enumerate(shape_ids)}
        extra = iter(EXTRA)
        colour_of = {}
        for t in proto["targets"]:
            colour_of[t["name"]] = COLOURS.get(t["name"]) or next(extra, "#17becf")
        for col, metric in enumerate(["p50", "p99"]):
            ax = axes[row][col]
            for t in proto["targets"]:
                pts = t["points"]
                if not pts:
                    continue
                colour = colour_of[t["name"]]
                sweep = [p for p in pts if p["shape"].startswith("closed-c")]
                if len(sweep) > 1:
                    ax.plot([p["throughput"] for p in sweep], [p[metric] for p in sweep], "-", color=colour, alpha=0.6, linewidth=1.2)
                for p in pts:
                    hollow = p["kind"] == "open"
                    ax.plot(p["throughput"], p[metric], marker_of[p["shape"]], color=colour, markersize=7,
                            markerfacecolor="white" if hollow else colour, markeredgewidth=1.5)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("throughput (requests/s)")
            ax.set_ylabel(f"{metric} latency (µs)")
            ax.set_title(f"{proto['protocol']}: {metric} latency vs throughput")
            ax.grid(True, which="both", alpha=0.3)
            target_handles = [Line2D([], [], color=colour_of[t["name"]], marker="o", linestyle="-",
                                     label=t["name"] + ("" if t["status"] == "ok" else f" ({t['status']})"))
                              for t in proto["targets"]]
            shape_handles = [Line2D([], [], color="black", marker=marker_of[s], linestyle="",
                                    markerfacecolor="white" if s.startswith("open") else "black", label=s)
                             for s in shape_ids]
            if col == 1:
                ax.legend(handles=target_handles + shape_handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                          borderaxespad=0.0)
    fig.suptitle("MetaProto benchmarks: latency vs throughput per target (hollow = fixed offered rate)")
    fig.tight_layout()
    fig.savefig(out_file, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
