/**
 * A minimal WebAssembly binary writer for the emulator's own tests: modules that call host
 * functions with exact raw arguments (bad pointers, odd metric ids, start-up calls) that a
 * compiled AssemblyScript module would not produce on demand.
 */

export const I32 = 0x7f;
export const I64 = 0x7e;

export interface ImportSpec {
  module: string;
  name: string;
  params: number[];
  results: number[];
}

export interface FuncSpec {
  /** Export name, if exported. */
  export?: string;
  params: number[];
  results: number[];
  /** Body opcodes without the final `end`. */
  body: number[];
}

export interface ModuleSpec {
  imports: ImportSpec[];
  funcs: FuncSpec[];
  memoryPages?: number;
  /** One mutable i32 global (index 0) with this initial value, for a bump allocator. */
  heapStart?: number;
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** Opcodes used by the tests. */
export const op = {
  localGet: (i: number) => [0x20, ...uleb(i)],
  call: (i: number) => [0x10, ...uleb(i)],
  i32Const: (v: number) => [0x41, ...sleb(v)],
  globalGet: (i: number) => [0x23, ...uleb(i)],
  globalSet: (i: number) => [0x24, ...uleb(i)],
  i32Add: [0x6a],
  drop: [0x1a],
  unreachable: [0x00],
};

export function buildModule(spec: ModuleSpec): Uint8Array {
  const types: string[] = [];
  const typeIndex = (params: number[], results: number[]): number => {
    const key = `${params.join(",")}>${results.join(",")}`;
    let i = types.indexOf(key);
    if (i < 0) i = types.push(key) - 1;
    return i;
  };
  const importTypes = spec.imports.map((imp) => typeIndex(imp.params, imp.results));
  const funcTypes = spec.funcs.map((f) => typeIndex(f.params, f.results));
  const typeSection = vec(
    types.map((key) => {
      const [p, r] = key.split(">");
      const ps = p === "" ? [] : p.split(",").map(Number);
      const rs = r === "" ? [] : r.split(",").map(Number);
      return [0x60, ...uleb(ps.length), ...ps, ...uleb(rs.length), ...rs];
    }),
  );
  const importSection = vec(spec.imports.map((imp, i) => [...name(imp.module), ...name(imp.name), 0x00, ...uleb(importTypes[i])]));
  const functionSection = vec(funcTypes.map((t) => uleb(t)));
  const memorySection = vec([[0x00, ...uleb(spec.memoryPages ?? 1)]]);
  const globalSection = spec.heapStart === undefined ? null : vec([[I32, 0x01, ...op.i32Const(spec.heapStart), 0x0b]]);
  const exportEntries: number[][] = [[...name("memory"), 0x02, 0x00]];
  spec.funcs.forEach((f, i) => {
    if (f.export) exportEntries.push([...name(f.export), 0x00, ...uleb(spec.imports.length + i)]);
  });
  const codeSection = vec(
    spec.funcs.map((f) => {
      const body = [0x00 /* no locals */, ...f.body, 0x0b];
      return [...uleb(body.length), ...body];
    }),
  );
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, typeSection),
    ...section(2, importSection),
    ...section(3, functionSection),
    ...section(5, memorySection),
    ...(globalSection ? section(6, globalSection) : []),
    ...section(7, vec(exportEntries)),
    ...section(10, codeSection),
  ];
  return new Uint8Array(bytes);
}

/**
 * A proxy-wasm module that exports `call_<import>` for each import, forwarding its arguments
 * unchanged, plus a bump-allocator `malloc` and the ABI marker. Extra functions can be appended.
 */
export function forwardingModule(imports: ImportSpec[], extra: FuncSpec[] = []): Uint8Array {
  const funcs: FuncSpec[] = [
    {
      export: "malloc",
      params: [I32],
      results: [I32],
      // old = heap; heap = heap + n; return old
      body: [...op.globalGet(0), ...op.globalGet(0), ...op.localGet(0), ...op.i32Add, ...op.globalSet(0)],
    },
    { export: "proxy_abi_version_0_2_1", params: [], results: [], body: [] },
    ...imports.map((imp, i) => ({
      export: `call_${imp.name}`,
      params: imp.params,
      results: imp.results,
      body: [...imp.params.flatMap((_, p) => op.localGet(p)), ...op.call(i)],
    })),
    ...extra,
  ];
  return buildModule({ imports, funcs, memoryPages: 1, heapStart: 32768 });
}
