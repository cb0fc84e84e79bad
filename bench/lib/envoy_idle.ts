// Envoy's memory per idle connection: a fresh Envoy with only the target's listener, RSS before and
// after N client connections are open (no bytes), and after one call on each.
import type * as net from "net";
import { Envoy, ListenerSpec, bootstrapYaml, startEnvoy, upstreamClusterOf } from "./envoy";
import { oneCall, openConnection } from "./connections";
import { rssBytes } from "./proc_stats";
import { freePort, sleep, waitFor } from "./processes";
import type { ProtocolBench } from "./protocol";

export interface EnvoyIdleMemory {
  target: string;
  connections: number;
  /** RSS of the fresh Envoy with the listener configured, no connections. */
  rssStart: number;
  /** Per connection, bytes: RSS growth with N connections open and idle. */
  bytesPerIdleConnection: number;
  /** Per connection, bytes: RSS growth after one call on each of them. */
  bytesPerConnectionAfterCall: number;
  /** Upstream connections Envoy held while the N client connections were idle. */
  upstreamConnections: number;
}

async function settle(envoy: Envoy): Promise<number> {
  // RSS after the last allocation: wait until two reads 300 ms apart agree within 64 KiB.
  let last = rssBytes(envoy.pid);
  for (let i = 0; i < 10; i++) {
    await sleep(300);
    const now = rssBytes(envoy.pid);
    if (Math.abs(now - last) < 65536) return now;
    last = now;
  }
  return last;
}

export async function envoyIdleMemory(binary: string, workDir: string, cpus: string | null, protocol: ProtocolBench,
  backendPort: number, listener: Omit<ListenerSpec, "port">, connections: number): Promise<EnvoyIdleMemory> {
  const adminPort = await freePort();
  const spec: ListenerSpec = { ...listener, port: await freePort() };
  const envoy = await startEnvoy(binary, bootstrapYaml(adminPort, backendPort, [spec]), workDir, `idle-${protocol.name}-${spec.name}`, cpus, adminPort);
  const sockets: net.Socket[] = [];
  try {
    const rssStart = await settle(envoy);
    for (let i = 0; i < connections; i += 100) {
      const batch: Array<Promise<net.Socket>> = [];
      for (let j = i; j < Math.min(connections, i + 100); j++) batch.push(openConnection(spec.port));
      sockets.push(...(await Promise.all(batch)));
    }
    const activeStat = new RegExp(`^listener\\.127\\.0\\.0\\.1_${spec.port}\\.downstream_cx_active$`);
    if (!(await waitFor(async () => (await envoy.statSum(activeStat)) >= connections, 20_000))) {
      throw new Error(`Envoy did not report ${connections} active connections on ${spec.name}`);
    }
    const upstreamCluster = upstreamClusterOf(spec, backendPort).replace(/[.|]/g, (c) => `\\${c}`);
    const upstreamStat = new RegExp(`^cluster\\.${upstreamCluster}\\.upstream_cx_active$`);
    await waitFor(async () => (await envoy.statSum(upstreamStat)) >= connections, 3000);
    const rssIdle = await settle(envoy);
    const upstreamConnections = await envoy.statSum(upstreamStat);
    for (let i = 0; i < sockets.length; i += 50) {
      await Promise.all(sockets.slice(i, i + 50).map((s, k) => oneCall(protocol, s, i + k)));
    }
    const rssAfterCall = await settle(envoy);
    return {
      target: spec.name,
      connections,
      rssStart,
      bytesPerIdleConnection: (rssIdle - rssStart) / connections,
      bytesPerConnectionAfterCall: (rssAfterCall - rssStart) / connections,
      upstreamConnections,
    };
  } finally {
    for (const s of sockets) s.destroy();
    await envoy.stop();
  }
}
