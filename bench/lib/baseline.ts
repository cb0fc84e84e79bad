// The numbers a run is compared with: bench/baseline.json holds what an earlier full run measured
// (MetaProto's throughput over tcp_proxy, the Envoy CPU split per shape, the codec decode rates), so
// the report can show before and after side by side. Replace it when a change of the data plane's
// cost is done with and its run is the new reference.
import { existsSync, readFileSync } from "fs";
import * as path from "path";

export interface ProtocolBaseline {
  /** metaproto throughput / tcp_proxy throughput, per shape. */
  throughputVsTcpProxy: Record<string, number>;
  /** Envoy CPU per request, µs: what the empty Wasm filter adds to tcp_proxy, and what MetaProto adds to that. */
  cpuSplit: Record<string, { floorMinusTcpUs: number; metaprotoMinusFloorUs: number }>;
  /** Codec micro-benchmark messages/s, per message mix. */
  decodeRate: Record<string, number>;
}

export interface Baseline {
  /** Which run the numbers come from. */
  label: string;
  /** What changed in the data plane since that run and what each change bought, for the report. */
  changes?: string[];
  protocols: Record<string, ProtocolBaseline>;
}

export const BASELINE_FILE = "bench/baseline.json";

export function loadBaseline(repo: string): Baseline | undefined {
  const file = path.join(repo, BASELINE_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Baseline) : undefined;
}
