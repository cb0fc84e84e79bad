// Measurements of a compiled codec module in Node's V8 through the host emulator (api/proxytest):
// decode rate (the codec micro-benchmark) and guest memory per idle connection.
import { performance } from "perf_hooks";
import { Connection, ProxyTestHost } from "../../api/proxytest";
import type { CodecCall, CodecSample } from "./protocol";

export interface DecodeRate {
  name: string;
  /** Bytes of one request + its response. */
  callBytes: number;
  messagesPerSec: number;
  megabytesPerSec: number;
  /** metaproto_requests_total the module counted / calls fed: 1 means every call was decoded and paired. */
  countedRatio: number;
}

const ROTATE_EVERY = 256; // calls per connection: the emulator keeps every forwarded chunk of a connection

function requestsCounted(host: ProxyTestHost): number {
  return host.metrics().filter((m) => m.name.startsWith("metaproto_requests_total;")).reduce((s, m) => s + Number(m.value ?? 0), 0);
}

/** A new connection with the protocol's preamble (server-first handshake) already through it. */
function connect(host: ProxyTestHost, preamble: CodecSample[]): Connection {
  const c = host.newConnection();
  for (const m of preamble) {
    if (m.direction === "downstream") c.downstream(m.bytes);
    else c.upstream(m.bytes);
  }
  return c;
}

/** Feeds the calls (request downstream, response upstream) in a loop for `seconds`. */
export async function decodeRate(module: WebAssembly.Module, pluginConfig: string, name: string, calls: CodecCall[], seconds: number,
  preamble: CodecSample[] = []): Promise<DecodeRate> {
  const host = await ProxyTestHost.load(module, { pluginConfig, logLevel: "info" });
  host.start();
  let conn: Connection = connect(host, preamble);
  const callBytes = calls.reduce((s, c) => s + c.request.length + c.response.length, 0) / calls.length;
  // Warm V8's tiers for both the module and the emulator before timing.
  for (let i = 0; i < 200; i++) for (const c of calls) { conn.downstream(c.request); conn.upstream(c.response); }
  conn.close("downstream");
  const countedBefore = requestsCounted(host);
  conn = connect(host, preamble);
  let fed = 0;
  let bytes = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (const c of calls) {
      conn.downstream(c.request);
      conn.upstream(c.response);
      bytes += c.request.length + c.response.length;
    }
    fed += calls.length;
    if (fed % ROTATE_EVERY < calls.length) {
      conn.close("downstream");
      conn = connect(host, preamble);
    }
    now = performance.now();
  }
  conn.close("downstream");
  const elapsed = (now - start) / 1000;
  if (host.traps.length > 0) throw new Error(`the module trapped during the micro-benchmark: ${JSON.stringify(host.traps[0])}`);
  return {
    name,
    callBytes,
    messagesPerSec: (fed * 2) / elapsed,
    megabytesPerSec: bytes / elapsed / 1e6,
    countedRatio: (requestsCounted(host) - countedBefore) / fed,
  };
}

/**
 * Heap bytes the guest uses, found by allocating 1 KiB blocks through the module's malloc until its
 * linear memory has to grow: used = memory size - what still fitted. (Linear memory itself grows in
 * doubling steps, too coarse to see per-connection costs.) Destroys the host's usefulness afterwards.
 */
function probeUsedBytes(host: ProxyTestHost): number {
  const chunk = new Uint8Array(1024);
  const size0 = host.guestMemoryBytes();
  let fitted = 0;
  while (host.guestMemoryBytes() === size0) {
    host.writeGuestBytes(chunk);
    fitted++;
  }
  // The footprint of one block (payload + headers + alignment): fill the grown region too.
  const size1 = host.guestMemoryBytes();
  let more = 0;
  while (host.guestMemoryBytes() === size1) {
    host.writeGuestBytes(chunk);
    more++;
  }
  const footprint = (size1 - size0) / more;
  return size0 - (fitted - 1) * footprint;
}

export interface IdleMemory {
  connections: number;
  /** Live heap growth per connection (probe), bytes. */
  heapBytesPerConnection: number;
  /** Same, after one call (request + response) on each connection. */
  heapBytesPerConnectionAfterCall: number;
  /** host.guestMemoryBytes() before and after opening the connections (linear memory, 64 KiB pages, grows by doubling). */
  linearMemoryBefore: number;
  linearMemoryAfter: number;
}

async function startedHost(module: WebAssembly.Module, pluginConfig: string, warm: CodecCall, preamble: CodecSample[]): Promise<ProxyTestHost> {
  const host = await ProxyTestHost.load(module, { pluginConfig, logLevel: "info" });
  host.start();
  // One finished call first, so per-worker state (metric ids, label maps) is not charged to connections.
  const c = connect(host, preamble);
  c.downstream(warm.request);
  c.upstream(warm.response);
  c.close("downstream");
  return host;
}

export async function idleMemory(module: WebAssembly.Module, pluginConfig: string, call: CodecCall, connections: number,
  preamble: CodecSample[] = []): Promise<IdleMemory> {
  const base = probeUsedBytes(await startedHost(module, pluginConfig, call, preamble));

  const idle = await startedHost(module, pluginConfig, call, preamble);
  const linearMemoryBefore = idle.guestMemoryBytes();
  const open: Connection[] = [];
  for (let i = 0; i < connections; i++) open.push(connect(idle, preamble));
  const linearMemoryAfter = idle.guestMemoryBytes();
  const idleUsed = probeUsedBytes(idle);

  const used = await startedHost(module, pluginConfig, call, preamble);
  const afterCall: Connection[] = [];
  for (let i = 0; i < connections; i++) {
    const c = connect(used, preamble);
    c.downstream(call.request);
    c.upstream(call.response);
    afterCall.push(c);
  }
  const afterCallUsed = probeUsedBytes(used);
  for (const h of [idle, used]) if (h.traps.length > 0) throw new Error(`the module trapped: ${JSON.stringify(h.traps[0])}`);
  return {
    connections,
    heapBytesPerConnection: (idleUsed - base) / connections,
    heapBytesPerConnectionAfterCall: (afterCallUsed - base) / connections,
    linearMemoryBefore,
    linearMemoryAfter,
  };
}
