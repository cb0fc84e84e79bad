// What `metaproto status` shows: per node, each resource type's version sent and ACKed, its NACK (with
// Envoy's message and the YAML documents behind it), and the state of the configuration files.
import type { StatusRegistry } from "./xds/server/status";

export interface StatusReport {
  config: { applied: number; rejected: number; lastErrors: string[] };
  nodes: {
    id: string;
    streams: number;
    admin?: string;
    types: { type: string; sent?: string; acked?: string; responses: number; nack?: { version: string; message: string; resources: string[]; origins: string[]; at: string } }[];
  }[];
}

export function statusReport(registry: StatusRegistry, config: StatusReport["config"]): StatusReport {
  return {
    config,
    nodes: [...registry.nodes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, node]) => ({
      id,
      streams: node.streams,
      admin: node.admin,
      types: [...node.types].map(([typeUrl, t]) => ({
        type: typeUrl.split(".").pop()!,
        sent: t.sentVersion,
        acked: t.ackedVersion,
        responses: t.responses,
        nack: t.nack && { version: t.nack.version, message: t.nack.message, resources: t.nack.resources, origins: t.nack.origins, at: t.nack.at.toISOString() },
      })),
    })),
  };
}

export function renderStatus(report: StatusReport): string {
  const lines: string[] = [];
  const { config } = report;
  lines.push(`configuration: ${config.applied} load(s) applied, ${config.rejected} rejected` +
    (config.lastErrors.length ? `; the last change was rejected (serving the last good one):` : ""));
  for (const error of config.lastErrors) lines.push(`  ${error}`);
  if (!report.nodes.length) lines.push("no Envoy has connected");
  for (const node of report.nodes) {
    lines.push(`node ${node.id}: ${node.streams ? `connected (${node.streams} stream${node.streams > 1 ? "s" : ""})` : "disconnected"}${node.admin ? `, admin ${node.admin}` : ""}`);
    const width = Math.max(...node.types.map((t) => t.type.length), 4);
    lines.push(`  ${"type".padEnd(width)}  ${"sent".padEnd(16)}  ${"acked".padEnd(16)}  responses`);
    for (const t of node.types) {
      lines.push(`  ${t.type.padEnd(width)}  ${(t.sent ?? "-").padEnd(16)}  ${(t.acked ?? "-").padEnd(16)}  ${t.responses}`);
      if (t.nack) {
        lines.push(`    NACK of ${t.nack.version} at ${t.nack.at}: ${t.nack.message}`);
        if (t.nack.resources.length) lines.push(`      resource${t.nack.resources.length > 1 ? "s" : ""} ${t.nack.resources.join(", ")} from ${t.nack.origins.join("; ") || "(no document)"}`);
      }
    }
  }
  return `${lines.join("\n")}\n`;
}
