import * as path from "path";
import { readFileSync } from "fs";
import {
  ConfigRejected,
  FilterStatus,
  ProxyTestHost,
  VmFailed,
  VmTrap,
  WasmResult,
  compileAssemblyScript,
  decodeSetEnvoyFilterStateArguments,
  repoRoot,
} from "./index";
import type { HostOptions } from "./index";

// The echo test module (testdata/assembly/echo_filter.ts) is built with the SDK's own
// RootContext/Context classes, which log through WASI: testdata/asconfig.json adds the WASI shim.
const WASM = "build/proxytest/echo_filter.wasm";
let compiled: WebAssembly.Module;

beforeAll(async () => {
  await compileAssemblyScript("api/proxytest/testdata/assembly/echo_filter.ts", WASM, "api/proxytest/testdata/asconfig.json");
  compiled = new WebAssembly.Module(readFileSync(path.join(repoRoot(), WASM)));
}, 120_000);

const text = (b: Uint8Array): string => Buffer.from(b).toString("latin1");

async function startedHost(opts: HostOptions = {}): Promise<ProxyTestHost> {
  const host = await ProxyTestHost.load(compiled, { pluginConfig: "pause_until=4", ...opts });
  host.start();
  return host;
}

describe("loading and start-up", () => {
  test("loads from a path, runs _initialize, and the SDK logs through WASI stdout", async () => {
    const host = await ProxyTestHost.load(path.join(repoRoot(), WASM), { pluginConfig: "pause_until=4" });
    expect(host.logs).toEqual([]);
    host.start();
    // SDK 1.2.3's log() writes "[LEVEL]: msg" with fd_write (it never calls proxy_log); Envoy logs stdout at info.
    expect(host.logs).toContainEqual({ level: "info", message: "[INFO]: configured: pause_until=4", source: "stdout", contextId: 1 });
    expect(WebAssembly.Module.imports(compiled).map((i) => `${i.module}.${i.name}`)).toEqual(
      expect.arrayContaining(["wasi_snapshot_preview1.fd_write", "env.proxy_log"]),
    );
  });

  test("on_configure returning 0 surfaces as ConfigRejected with the module's output", async () => {
    const host = await ProxyTestHost.load(compiled, { pluginConfig: "reject", logLevel: "critical" });
    let error: unknown;
    try {
      host.start();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigRejected);
    expect((error as ConfigRejected).phase).toBe("configure");
    expect((error as Error).message).toContain("rejecting configuration: reject");
    expect(() => host.newConnection()).toThrow(/start/);
  });

  test("connections need a started host", async () => {
    const host = await ProxyTestHost.load(compiled);
    expect(() => host.newConnection()).toThrow(/host.start\(\)/);
  });
});

describe("upstream buffer edits follow Envoy's set_buffer_bytes rules", () => {
  test.each([
    ["prepend (start 0, length 0)", "Phello", "<<Phello"],
    ["replace the front (start 0, length 1)", "Rhello", "r!hello"],
    ["append (start = length)", "Ahello", "Ahello>>"],
    ["append (start beyond the end)", "Xhi", "Xhi@@"],
    ["a middle write is BadArgument (2) and changes nothing", "Mhello", "Mhello[2]"],
  ])("%s", async (_label, input, expected) => {
    const host = await startedHost();
    const c = host.newConnection();
    const r = c.upstream(input);
    expect(r.status).toBe(FilterStatus.Continue);
    expect(text(r.forwarded)).toBe(expected);
    expect(text(c.toClient)).toBe(expected);
  });
});

describe("pausing the downstream direction", () => {
  test("paused bytes stay in the read buffer and are re-offered with the next bytes", async () => {
    const host = await startedHost();
    const c = host.newConnection();
    const first = c.downstream("ab");
    expect(first).toEqual({ status: FilterStatus.Pause, forwarded: new Uint8Array(0), buffered: 2 });
    expect(text(c.pendingDownstream)).toBe("ab");
    const second = c.downstream("cdef");
    expect(second.status).toBe(FilterStatus.Continue);
    expect(text(second.forwarded)).toBe("abcdef");
    expect(second.buffered).toBe(0);
    expect(text(c.toUpstream)).toBe("abcdef");
    // The callback saw the accumulated length each time.
    expect(host.metric("echo_chunk_size")).toEqual({ name: "echo_chunk_size", type: "histogram", value: 2, samples: [2, 6] });
    expect(host.counterValue("echo_downstream_bytes_total")).toBe(6);
  });

  test("an empty read reaches the filter only if bytes are held or the stream ends", async () => {
    const host = await startedHost();
    const c = host.newConnection();
    expect(c.downstream("").status).toBe(FilterStatus.Continue);
    expect(host.metric("echo_chunk_size")?.samples).toEqual([]);
    c.downstream("ab");
    expect(c.downstream("").status).toBe(FilterStatus.Pause); // re-offered: 2 bytes held
    expect(host.metric("echo_chunk_size")?.samples).toEqual([2, 2]);
    expect(text(c.downstream("", { endOfStream: true }).forwarded)).toBe("ab");
  });

  test("end of stream is passed to the callback", async () => {
    const host = await startedHost();
    const c = host.newConnection();
    const r = c.downstream("x", { endOfStream: true });
    expect(r.status).toBe(FilterStatus.Continue);
    expect(text(r.forwarded)).toBe("x");
  });

  test("proxy_continue_stream from a tick (after set_effective_context) releases the paused bytes", async () => {
    const host = await startedHost({ pluginConfig: "" });
    const c = host.newConnection();
    expect(c.downstream("HOLD").status).toBe(FilterStatus.Pause);
    expect(c.toUpstream.length).toBe(0);
    host.tick();
    expect(text(c.toUpstream)).toBe("HOLD");
    expect(c.pendingDownstream.length).toBe(0);
    expect(host.logMessages()).toContain(`released ${c.id} result=0`);
    expect(host.metric("echo_ticks")?.value).toBe(1);
    // The connection goes on normally afterwards.
    expect(text(c.downstream("more").forwarded)).toBe("more");
  });

  test("advanceTime fires the ticks that fall due and moves the clock", async () => {
    const host = await startedHost({ nowMs: 1_700_000_000_000 });
    expect(host.tickPeriodMs).toBe(1000);
    host.advanceTime(999);
    expect(host.metric("echo_ticks")?.value).toBe(0);
    host.advanceTime(1);
    expect(host.metric("echo_ticks")?.value).toBe(1);
    host.advanceTime(3000);
    expect(host.metric("echo_ticks")?.value).toBe(4);
    expect(host.nowMs).toBe(1_700_000_004_000);
  });
});

describe("foreign functions", () => {
  test("set_envoy_filter_state stores the value on the connection", async () => {
    const host = await startedHost();
    const c = host.newConnection();
    c.downstream("ROUTE backend_v2\n");
    expect(c.filterState.get("envoy.tcp_proxy.cluster")).toBe("backend_v2");
    expect(host.foreignCalls).toHaveLength(1);
    const call = host.foreignCalls[0];
    expect(call).toMatchObject({ name: "set_envoy_filter_state", contextId: c.id, result: WasmResult.Ok });
    expect(decodeSetEnvoyFilterStateArguments(call.argument)).toEqual({ path: "envoy.tcp_proxy.cluster", value: "backend_v2", span: 2 });
    expect(host.logMessages()).toContain("route backend_v2 result=0");
  });

  test("an unknown function is NotFound and recorded", async () => {
    const host = await startedHost();
    const c = host.newConnection();
    c.downstream("NOFN");
    expect(host.foreignCalls.map((f) => [f.name, f.result])).toEqual([["no_such_function", WasmResult.NotFound]]);
    expect(host.logs).toContainEqual(expect.objectContaining({ level: "warn", message: "no_such_function result=1" }));
  });
});

describe("closing", () => {
  const closeLog = (host: ProxyTestHost) => host.logMessages().filter((m) => /^(downstream close|upstream close|done|log|delete) /.test(m));

  test("client close: downstream close (remote), then done, log, delete", async () => {
    const host = await startedHost();
    const c = host.newConnection();
    c.close("downstream");
    expect(closeLog(host)).toEqual([`downstream close ${c.id} peer=2`, `done ${c.id}`, `log ${c.id}`, `delete ${c.id}`]);
    expect(c.closedBy).toBe("downstream");
    expect(() => c.downstream("x")).toThrow(/closed/);
    expect(host.openConnections()).toEqual([]);
  });

  test("upstream close: upstream close (unknown), then the client side closes locally", async () => {
    const host = await startedHost();
    const c = host.newConnection();
    c.close("upstream");
    expect(closeLog(host)).toEqual([
      `upstream close ${c.id} peer=0`,
      `downstream close ${c.id} peer=1`,
      `done ${c.id}`,
      `log ${c.id}`,
      `delete ${c.id}`,
    ]);
  });

  test("upstream end of stream reports the upstream close once", async () => {
    const host = await startedHost();
    const c = host.newConnection();
    expect(text(c.upstream("Ahi", { endOfStream: true }).forwarded)).toBe("Ahi>>");
    expect(closeLog(host)).toEqual([`upstream close ${c.id} peer=0`]);
    c.close("upstream");
    expect(closeLog(host).filter((m) => m.startsWith("upstream close"))).toHaveLength(1);
  });

  test("proxy_close_stream closes the connection after the callback and drops that callback's bytes", async () => {
    const host = await startedHost();
    const c = host.newConnection();
    const r = c.downstream("CLOSE");
    expect(c.closedByFilter).toBe(true);
    expect(r.forwarded.length).toBe(0);
    expect(closeLog(host)).toEqual([`downstream close ${c.id} peer=1`, `done ${c.id}`, `log ${c.id}`, `delete ${c.id}`]);

    const d = host.newConnection();
    d.upstream("Cbye");
    expect(d.closedByFilter).toBe(true);
    expect(d.toClient.length).toBe(0);
  });
});

describe("traps", () => {
  test("a trap in a callback is a VmTrap carrying the module's output, and the VM is dead afterwards", async () => {
    const host = await startedHost();
    const c = host.newConnection();
    let error: unknown;
    try {
      c.downstream(new Uint8Array([1, 2, 0xff]));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VmTrap);
    const trap = error as VmTrap;
    expect(trap.callback).toBe("proxy_on_downstream_data");
    expect(trap.contextId).toBe(c.id);
    // With the repo's asconfig (extends the WASI shim) `throw` goes to the shim's wasi_abort, not the
    // SDK's abort_proc_exit: it writes "abort: <msg> in <file>(line:col)" to stderr (Envoy logs it at
    // error) and calls proc_exit(255). Envoy's proc_exit returns and the next instruction traps;
    // the emulator stops at proc_exit.
    expect(trap.message).toMatch(/ProcExit: WASI proc_exit\(255\)/);
    expect(trap.message).toContain("[error] abort: trap byte in downstream data in api/proxytest/testdata/assembly/echo_filter.ts(");
    expect(trap.logs).toContainEqual(expect.objectContaining({ source: "stderr", level: "error" }));
    expect(host.traps).toHaveLength(1);
    expect(host.failed).toBe(true);
    expect(() => c.downstream("x")).toThrow(VmFailed);
    expect(() => host.newConnection()).toThrow(/VM trapped earlier/);
    expect(() => host.tick()).toThrow(/VM trapped earlier/);
  });

  test("extra exports run through the same trap handling", async () => {
    const host = await startedHost();
    const ptr = host.writeGuestBytes(new Uint8Array([1, 2, 3, 4]));
    expect(host.call("echo_trap_if", ptr, 4, 9)).toBe(4);
    expect(() => host.call("echo_trap_if", ptr, 4, 3)).toThrow(/VM trapped in echo_trap_if .*RuntimeError: unreachable/);
    expect(host.traps[0].callback).toBe("echo_trap_if");
    expect(host.traps[0].error).toBeInstanceOf(WebAssembly.RuntimeError);
  });

  test("VM shutdown reproduces SDK 1.2.3's proxy_on_done trap for the root context", async () => {
    const host = await startedHost();
    const c = host.newConnection();
    expect(() => host.shutdown()).toThrow(/Key does not exist/);
    // Open connections were closed locally first.
    expect(c.closedBy).toBe("shutdown");
    expect(host.logMessages()).toContain(`downstream close ${c.id} peer=1`);
  });
});

describe("guest memory", () => {
  test("writeGuestBytes / readGuestBytes round-trip through malloc", async () => {
    const host = await startedHost();
    const bytes = new Uint8Array([10, 20, 30, 250]);
    const ptr = host.writeGuestBytes(bytes);
    expect(host.readGuestBytes(ptr, 4)).toEqual(bytes);
    expect(host.call("echo_sum", ptr, 4)).toBe(310);
  });

  test("memory growth is observable", async () => {
    const host = await startedHost();
    const before = host.guestMemoryBytes();
    for (let i = 0; i < 4; i++) host.call("echo_retain", 1 << 20);
    expect(host.guestMemoryBytes()).toBeGreaterThanOrEqual(before + 4 * (1 << 20));
  });

  test("a call that leaves memory over the VM limit traps, as the allocation would fail in Envoy", async () => {
    const host = await startedHost({ maxMemoryBytes: 8 * (1 << 20) });
    host.call("echo_retain", 1 << 20);
    expect(host.traps).toEqual([]);
    expect(() => { for (let i = 0; i < 8; i++) host.call("echo_retain", 1 << 20); }).toThrow(VmTrap);
    expect(host.traps[0].message).toMatch(/over the VM limit of 8388608/);
  });

  test("memory per connection can be measured", async () => {
    const host = await startedHost({ pluginConfig: "" });
    const before = host.guestMemoryBytes();
    const chunk = new Uint8Array(4096).fill(7);
    for (let i = 0; i < 100; i++) host.newConnection().downstream(chunk); // each connection stashes its bytes
    const perConnection = (host.guestMemoryBytes() - before) / 100;
    expect(perConnection).toBeGreaterThan(4096);
  });
});

describe("shared data and queues", () => {
  test("set_shared_data from on_configure is visible to the host with its CAS", async () => {
    const host = await startedHost();
    const entry = host.sharedData.get("echo.config");
    expect(entry && text(entry.value)).toBe("pause_until=4");
    expect(entry?.cas).toBe(1);
  });

  test("enqueue wakes the root context with proxy_on_queue_ready", async () => {
    const host = await startedHost({ pluginConfig: "" });
    host.newConnection().downstream("ENQ hello");
    expect(host.logMessages()).toContain("dequeued: hello");
  });
});

describe("properties and log level", () => {
  test("per-connection properties override the defaults; debug lines appear at log level debug", async () => {
    const host = await startedHost({ logLevel: "debug" });
    const a = host.newConnection();
    const b = host.newConnection({ properties: { "source.address": "10.0.0.9:5555" } });
    expect(host.logMessages("debug")).toEqual(
      expect.arrayContaining([`new connection ${a.id} from 127.0.0.1:40001`, `new connection ${b.id} from 10.0.0.9:5555`]),
    );
  });

  test("lines below the host level are dropped, as Envoy does", async () => {
    const host = await startedHost({ logLevel: "info" });
    host.newConnection();
    expect(host.logs.filter((l) => l.level === "debug")).toEqual([]);
  });
});
