// proxy-wasm shared data, as Envoy keeps it per vm_id.
import { toBytes } from "./bytes";
import { WasmResult } from "./types";

/** The proxy-wasm shared-data store (per vm_id in Envoy; one instance per host unless shared explicitly). */
export class SharedData {
  /** Current entries: key → value and CAS. */
  readonly entries = new Map<string, { value: Uint8Array; cas: number }>();
  private nextCas = 1;

  /** Sets a value as `proxy_set_shared_data` does: `cas` 0 always writes; otherwise it must match. */
  set(key: string, value: string | Uint8Array, cas = 0): WasmResult {
    const existing = this.entries.get(key);
    if (existing && cas !== 0 && cas !== existing.cas) return WasmResult.CasMismatch;
    this.entries.set(key, { value: toBytes(value).slice(), cas: this.takeCas() });
    return WasmResult.Ok;
  }

  /** The value for `key`, or undefined. */
  get(key: string): { value: Uint8Array; cas: number } | undefined {
    return this.entries.get(key);
  }

  private takeCas(): number {
    const cas = this.nextCas;
    this.nextCas = (this.nextCas + 1) >>> 0;
    if (this.nextCas === 0) this.nextCas = 1;
    return cas;
  }
}
