// Host functions driven with exact raw arguments, through small hand-built modules that forward
// their exports straight to the imports (testdata/wasm_builder.ts).
import { deflateSync } from "zlib";
import { HostLoadError, ProcExit, ProxyTestHost, VmTrap, WasmResult } from "./index";
import type { HostOptions } from "./index";
import { I32, I64, ImportSpec, buildModule, forwardingModule, op } from "./testdata/wasm_builder";

const env = (name: string, params: number[], results = [I32]): ImportSpec => ({ module: "env", name, params, results });
const wasi = (name: string, params: number[], results = [I32]): ImportSpec => ({ module: "wasi_snapshot_preview1", name, params, results });
const i32s = (n: number) => new Array<number>(n).fill(I32);

const IMPORTS: ImportSpec[] = [
  env("proxy_log", i32s(3)),
  env("proxy_get_log_level", i32s(1)),
  env("proxy_define_metric", i32s(4)),
  env("proxy_increment_metric", [I32, I64]),
  env("proxy_record_metric", [I32, I64]),
  env("proxy_get_metric", i32s(2)),
  env("proxy_get_property", i32s(4)),
  env("proxy_set_property", i32s(4)),
  env("proxy_get_buffer_bytes", i32s(5)),
  env("proxy_get_buffer_status", i32s(3)),
  env("proxy_set_buffer_bytes", i32s(5)),
  env("proxy_get_shared_data", i32s(5)),
  env("proxy_set_shared_data", i32s(5)),
  env("proxy_register_shared_queue", i32s(3)),
  env("proxy_resolve_shared_queue", i32s(5)),
  env("proxy_dequeue_shared_queue", i32s(3)),
  env("proxy_enqueue_shared_queue", i32s(3)),
  env("proxy_set_effective_context", i32s(1)),
  env("proxy_continue_stream", i32s(1)),
  env("proxy_done", []),
  env("proxy_call_foreign_function", i32s(6)),
  env("proxy_http_call", i32s(10)),
  env("proxy_get_current_time_nanoseconds", i32s(1)),
  wasi("fd_write", i32s(4)),
  wasi("proc_exit", [I32], []),
  wasi("clock_time_get", [I32, I64, I32]),
  wasi("environ_sizes_get", i32s(2)),
  wasi("environ_get", i32s(2)),
];

const RAW = forwardingModule(IMPORTS);

class Raw {
  constructor(readonly host: ProxyTestHost) {}
  /** Calls the forwarding export for `proxy_xxx` / WASI `xxx`. */
  call(name: string, ...args: Array<number | bigint>): number {
    return Number(this.host.call(`call_${name}`, ...args));
  }
  str(s: string): [number, number] {
    const bytes = new TextEncoder().encode(s);
    return [this.host.writeGuestBytes(bytes), bytes.length];
  }
  out(size = 8): number {
    return this.host.writeGuestBytes(new Uint8Array(size));
  }
  u32(ptr: number): number {
    return new DataView(this.host.readGuestBytes(ptr, 4).buffer).getUint32(0, true);
  }
  u64(ptr: number): bigint {
    return new DataView(this.host.readGuestBytes(ptr, 8).buffer).getBigUint64(0, true);
  }
  /** Reads a (ptr, size) pair the host returned through out-params. */
  returned(ptrPtr: number, sizePtr: number): Uint8Array {
    return this.host.readGuestBytes(this.u32(ptrPtr), this.u32(sizePtr));
  }
}

async function raw(opts: HostOptions = {}): Promise<Raw> {
  const host = await ProxyTestHost.load(RAW, opts);
  host.start();
  return new Raw(host);
}

describe("loading", () => {
  test("imports Envoy does not provide fail the load, listed together", async () => {
    const module = forwardingModule([
      env("not_in_envoy", []),
      env("proxy_get_configuration", i32s(2)), // ABI 0.1.0 only
      wasi("not_a_wasi_fn", []),
      { module: "foo", name: "bar", params: [], results: [] },
    ]);
    const load = ProxyTestHost.load(module);
    await expect(load).rejects.toBeInstanceOf(HostLoadError);
    await expect(ProxyTestHost.load(module)).rejects.toThrow(
      /env\.not_in_envoy[\s\S]*env\.proxy_get_configuration[\s\S]*wasi_snapshot_preview1\.not_a_wasi_fn[\s\S]*foo\.bar/,
    );
  });

  test("a module without the ABI marker or malloc is refused", async () => {
    const bare = buildModule({ imports: [], funcs: [] });
    await expect(ProxyTestHost.load(bare)).rejects.toThrow(/proxy_abi_version_0_2_1[\s\S]*malloc/);
  });

  test("host calls other than logging/clock/random during _initialize trap, as in Envoy", async () => {
    const imports = [env("proxy_define_metric", i32s(4)), env("proxy_log", i32s(3))];
    const defineAtStart = forwardingModule(imports, [
      {
        export: "_initialize",
        params: [],
        results: [],
        body: [...op.i32Const(0), ...op.i32Const(0), ...op.i32Const(0), ...op.i32Const(0), ...op.call(0), ...op.drop],
      },
    ]);
    await expect(ProxyTestHost.load(defineAtStart)).rejects.toThrow(/restricted_callback: env\.proxy_define_metric called during _initialize/);

    const logAtStart = forwardingModule(imports, [
      {
        export: "_initialize",
        params: [],
        results: [],
        // proxy_log(info, ptr 0, len 0)
        body: [...op.i32Const(2), ...op.i32Const(0), ...op.i32Const(0), ...op.call(1), ...op.drop],
      },
    ]);
    const host = await ProxyTestHost.load(logAtStart);
    expect(host.logs).toEqual([{ level: "info", message: "", source: "proxy_log", contextId: 0 }]);
  });

  test("callbacks a module does not export are skipped", async () => {
    const host = await ProxyTestHost.load(forwardingModule([]));
    host.start();
    const c = host.newConnection();
    expect(c.onNewConnectionStatus).toBe(0);
    expect(c.downstream("abc")).toEqual({ status: 0, forwarded: new TextEncoder().encode("abc"), buffered: 0 });
    expect(c.upstream("xyz").forwarded.length).toBe(3);
    host.tick();
    c.close();
    expect(c.closed).toBe(true);
    host.shutdown();
  });
});

describe("metrics", () => {
  test("ids, types and Envoy's argument rules", async () => {
    const r = await raw();
    const [name, len] = r.str("calls");
    const out = r.out();
    const define = (type: number) => {
      expect(r.call("proxy_define_metric", type, name, len, out)).toBe(WasmResult.Ok);
      return r.u32(out);
    };
    const counter = define(0);
    expect(define(0)).toBe(counter); // same name and type: same id
    const gauge = define(1);
    const histogram = define(2);
    expect([counter & 3, gauge & 3, histogram & 3]).toEqual([0, 1, 2]);
    expect(r.call("proxy_define_metric", 3, name, len, out)).toBe(WasmResult.BadArgument);

    expect(r.call("proxy_increment_metric", counter, 0n)).toBe(WasmResult.BadArgument); // counters: offset must be > 0
    expect(r.call("proxy_increment_metric", counter, -1n)).toBe(WasmResult.BadArgument);
    expect(r.call("proxy_increment_metric", counter, 5n)).toBe(WasmResult.Ok);
    expect(r.call("proxy_record_metric", counter, 2n)).toBe(WasmResult.Ok); // record on a counter adds
    expect(r.call("proxy_increment_metric", gauge, 10n)).toBe(WasmResult.Ok);
    expect(r.call("proxy_increment_metric", gauge, -3n)).toBe(WasmResult.Ok);
    expect(r.call("proxy_increment_metric", histogram, 1n)).toBe(WasmResult.BadArgument);
    expect(r.call("proxy_record_metric", histogram, 7n)).toBe(WasmResult.Ok);
    expect(r.call("proxy_record_metric", histogram, 9n)).toBe(WasmResult.Ok);
    expect(r.call("proxy_increment_metric", counter + 400, 1n)).toBe(WasmResult.NotFound);

    expect(r.call("proxy_get_metric", counter, out)).toBe(WasmResult.Ok);
    expect(r.u64(out)).toBe(7n);
    expect(r.call("proxy_get_metric", gauge, out)).toBe(WasmResult.Ok);
    expect(r.u64(out)).toBe(7n);
    expect(r.call("proxy_get_metric", histogram, out)).toBe(WasmResult.BadArgument);

    expect(r.host.metrics()).toEqual([
      { name: "calls", type: "counter", value: 7 },
      { name: "calls", type: "gauge", value: 7 },
      { name: "calls", type: "histogram", value: 2, samples: [7, 9] },
    ]);
    expect(r.host.counterValue("calls")).toBe(7);
    expect(r.host.counterValue("nope")).toBeUndefined();
  });
});

describe("logging, time and status codes", () => {
  test("proxy_get_log_level reports the host level; proxy_log filters by it", async () => {
    const r = await raw({ logLevel: "warn" });
    const out = r.out();
    expect(r.call("proxy_get_log_level", out)).toBe(WasmResult.Ok);
    expect(r.u32(out)).toBe(3);
    const [p, n] = r.str("hello");
    r.call("proxy_log", 2, p, n);
    r.call("proxy_log", 4, p, n);
    expect(r.host.logs).toEqual([{ level: "error", message: "hello", source: "proxy_log", contextId: 1 }]);
    expect(r.call("proxy_log", 6, p, n)).toBe(WasmResult.BadArgument);
  });

  test("fd_write to stdout/stderr is logged at info/error without the trailing newline", async () => {
    const r = await raw();
    const [p, n] = r.str("oops\n");
    const iov = r.host.writeGuestBytes(new Uint8Array(new Uint32Array([p, n]).buffer));
    const written = r.out();
    expect(r.call("fd_write", 2, iov, 1, written)).toBe(0);
    expect(r.u32(written)).toBe(5);
    expect(r.call("fd_write", 7, iov, 1, written)).toBe(8); // EBADF
    expect(r.host.logs).toEqual([{ level: "error", message: "oops", source: "stderr", contextId: 1 }]);
  });

  test("the clock is the host's and only moves with advanceTime", async () => {
    const r = await raw({ nowMs: 1000 });
    const out = r.out();
    r.call("proxy_get_current_time_nanoseconds", out);
    expect(r.u64(out)).toBe(1_000_000_000n);
    r.call("clock_time_get", 1, 0n, out);
    const mono = r.u64(out);
    r.host.advanceTime(2.5);
    r.call("proxy_get_current_time_nanoseconds", out);
    expect(r.u64(out)).toBe(1_002_500_000n);
    r.call("clock_time_get", 0, 0n, out);
    expect(r.u64(out)).toBe(1_002_500_000n);
    r.call("clock_time_get", 1, 0n, out);
    expect(r.u64(out) - mono).toBe(2_500_000n);
  });

  test("WASI environment comes from the env option", async () => {
    const r = await raw({ env: { A: "1", BB: "two" } });
    const sizes = r.out();
    r.call("environ_sizes_get", sizes, sizes + 4);
    expect([r.u32(sizes), r.u32(sizes + 4)]).toEqual([2, 11]); // "A=1\0" + "BB=two\0"
    const ptrs = r.out(8);
    const buf = r.out(11);
    expect(r.call("environ_get", ptrs, buf)).toBe(0);
    expect(Buffer.from(r.host.readGuestBytes(r.u32(ptrs + 4), 7)).toString()).toBe("BB=two\0");
  });

  test("unimplemented host functions return Unimplemented and are recorded", async () => {
    const r = await raw();
    expect(r.call("proxy_http_call", ...new Array(10).fill(0))).toBe(WasmResult.Unimplemented);
    expect(r.host.unimplementedCalls).toEqual([expect.objectContaining({ module: "env", name: "proxy_http_call", contextId: 1 })]);
  });

  test("out-of-bounds pointers get InvalidMemoryAccess, are recorded, and do not kill the VM", async () => {
    const r = await raw();
    expect(r.call("proxy_log", 2, 0x7ffffff0, 64)).toBe(WasmResult.InvalidMemoryAccess);
    expect(r.host.memoryFaults).toEqual([{ function: "env.proxy_log", ptr: 0x7ffffff0, length: 64, contextId: 1 }]);
    expect(r.host.failed).toBe(false);
  });

  test("proc_exit surfaces as a VmTrap caused by ProcExit", async () => {
    const r = await raw();
    let error: unknown;
    try {
      r.call("proc_exit", 3);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VmTrap);
    expect((error as VmTrap).cause).toBeInstanceOf(ProcExit);
    expect(((error as VmTrap).cause as ProcExit).code).toBe(3);
  });
});

describe("properties, buffers and contexts from the root context", () => {
  test("properties: built-ins, NUL-separated paths matching dotted keys, NotFound", async () => {
    const r = await raw({ rootId: "metaproto", properties: { "node.metadata.region": "eu", "listener_direction": new Uint8Array([1]) } });
    const out = r.out();
    const get = (path: string) => {
      const [p, n] = r.str(path);
      const result = r.call("proxy_get_property", p, n, out, out + 4);
      return result === WasmResult.Ok ? Buffer.from(r.returned(out, out + 4)).toString("latin1") : result;
    };
    expect(get("plugin_root_id")).toBe("metaproto");
    expect(get("node\0metadata\0region")).toBe("eu");
    expect(get("listener_direction")).toBe("\x01");
    expect(get("source\0address")).toBe(WasmResult.NotFound); // connection properties only exist on connections
    const [p, n] = r.str("x");
    expect(r.call("proxy_set_property", p, n, p, n)).toBe(WasmResult.NotFound); // no stream info on the root
  });

  test("buffers outside a data callback", async () => {
    const r = await raw({ vmConfig: "vm-cfg", pluginConfig: "plugin-cfg" });
    const out = r.out();
    expect(r.call("proxy_get_buffer_bytes", 6, 0, 100, out, out + 4)).toBe(WasmResult.Ok);
    expect(Buffer.from(r.returned(out, out + 4)).toString()).toBe("vm-cfg");
    expect(r.call("proxy_get_buffer_bytes", 6, 3, 100, out, out + 4)).toBe(WasmResult.Ok);
    expect(Buffer.from(r.returned(out, out + 4)).toString()).toBe("cfg");
    // Plugin configuration is only there while Envoy configures the plugin.
    expect(r.call("proxy_get_buffer_bytes", 7, 0, 100, out, out + 4)).toBe(WasmResult.NotFound);
    // Network buffers outside a callback: empty and immutable.
    expect(r.call("proxy_get_buffer_status", 2, out, out + 4)).toBe(WasmResult.Ok);
    expect(r.u32(out)).toBe(0);
    const [p, n] = r.str("x");
    expect(r.call("proxy_set_buffer_bytes", 2, 0, 0, p, n)).toBe(WasmResult.BadArgument);
    expect(r.call("proxy_set_buffer_bytes", 6, 0, 0, p, n)).toBe(WasmResult.BadArgument);
    expect(r.call("proxy_get_buffer_bytes", 9, 0, 1, out, out + 4)).toBe(WasmResult.BadArgument);
  });

  test("effective context, continue_stream and proxy_done codes", async () => {
    const r = await raw();
    expect(r.call("proxy_set_effective_context", 99)).toBe(WasmResult.BadArgument);
    expect(r.call("proxy_set_effective_context", 1)).toBe(WasmResult.Ok);
    expect(r.call("proxy_continue_stream", 3)).toBe(WasmResult.Unimplemented); // upstream cannot be resumed
    expect(r.call("proxy_continue_stream", 4)).toBe(WasmResult.BadArgument);
    expect(r.call("proxy_done")).toBe(WasmResult.NotFound);
  });
});

test("shutdown: proxy_on_done returning 0 defers deletion until the module calls proxy_done", async () => {
  const module = forwardingModule(
    [env("proxy_done", [])],
    [{ export: "proxy_on_done", params: [I32], results: [I32], body: op.i32Const(0) }],
  );
  const host = await ProxyTestHost.load(module);
  host.start();
  expect(Number(host.call("call_proxy_done"))).toBe(WasmResult.NotFound);
  host.shutdown();
  expect(Number(host.call("call_proxy_done"))).toBe(WasmResult.Ok);
  expect(Number(host.call("call_proxy_done"))).toBe(WasmResult.NotFound);
  expect(() => host.newConnection()).toThrow(/shut down/);
});

describe("shared data, queues and foreign functions", () => {
  test("shared data CAS rules", async () => {
    const r = await raw();
    const [k, kn] = r.str("routes");
    const [v, vn] = r.str("v1");
    const out = r.out(12);
    expect(r.call("proxy_get_shared_data", k, kn, out, out + 4, out + 8)).toBe(WasmResult.NotFound);
    expect(r.call("proxy_set_shared_data", k, kn, v, vn, 0)).toBe(WasmResult.Ok);
    expect(r.call("proxy_get_shared_data", k, kn, out, out + 4, out + 8)).toBe(WasmResult.Ok);
    expect(Buffer.from(r.returned(out, out + 4)).toString()).toBe("v1");
    const cas = r.u32(out + 8);
    expect(r.call("proxy_set_shared_data", k, kn, v, vn, cas + 5)).toBe(WasmResult.CasMismatch);
    expect(r.call("proxy_set_shared_data", k, kn, v, vn, cas)).toBe(WasmResult.Ok);
    expect(r.host.sharedData.get("routes")?.cas).toBe(cas + 1);

    // A second host given the same store sees the data (two worker VMs of one vm_id).
    const other = await ProxyTestHost.load(RAW, { sharedData: r.host.sharedData });
    expect(other.sharedData.get("routes")).toBeDefined();
  });

  test("shared queue codes", async () => {
    const r = await raw();
    const [q, qn] = r.str("q");
    const [empty, emptyLen] = r.str("");
    const out = r.out();
    expect(r.call("proxy_resolve_shared_queue", empty, emptyLen, q, qn, out)).toBe(WasmResult.NotFound);
    expect(r.call("proxy_register_shared_queue", q, qn, out)).toBe(WasmResult.Ok);
    const token = r.u32(out);
    expect(r.call("proxy_register_shared_queue", q, qn, out)).toBe(WasmResult.Ok);
    expect(r.u32(out)).toBe(token);
    expect(r.call("proxy_resolve_shared_queue", empty, emptyLen, q, qn, out)).toBe(WasmResult.Ok);
    expect(r.u32(out)).toBe(token);
    expect(r.call("proxy_dequeue_shared_queue", token, out, out + 4)).toBe(WasmResult.Empty);
    expect(r.call("proxy_enqueue_shared_queue", token, q, qn)).toBe(WasmResult.Ok);
    expect(r.call("proxy_dequeue_shared_queue", token, out, out + 4)).toBe(WasmResult.Ok);
    expect(Buffer.from(r.returned(out, out + 4)).toString()).toBe("q");
    expect(r.call("proxy_dequeue_shared_queue", token + 1, out, out + 4)).toBe(WasmResult.NotFound);
  });

  test("foreign functions: filter state needs a connection and a well-formed argument; compress round-trips", async () => {
    const r = await raw();
    const out = r.out();
    const callForeign = (name: string, arg: Uint8Array) => {
      const [np, nn] = r.str(name);
      const ap = r.host.writeGuestBytes(arg);
      return r.call("proxy_call_foreign_function", np, nn, ap, arg.length, out, out + 4);
    };
    const valid = new Uint8Array([0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76]); // path "k", value "v"
    expect(callForeign("set_envoy_filter_state", valid)).toBe(WasmResult.NotFound); // root context
    expect(callForeign("set_envoy_filter_state", new Uint8Array([0x0a, 0x05, 0x6b]))).toBe(WasmResult.BadArgument);
    expect(callForeign("compress", new TextEncoder().encode("hello hello hello"))).toBe(WasmResult.Ok);
    const compressed = r.returned(out, out + 4);
    expect(Buffer.from(compressed)).toEqual(deflateSync("hello hello hello"));
    expect(callForeign("uncompress", compressed)).toBe(WasmResult.Ok);
    expect(Buffer.from(r.returned(out, out + 4)).toString()).toBe("hello hello hello");
    expect(callForeign("nope", new Uint8Array(0))).toBe(WasmResult.NotFound);
    expect(r.host.foreignCalls.map((c) => c.name)).toEqual(["set_envoy_filter_state", "set_envoy_filter_state", "compress", "uncompress", "nope"]);
  });
});
