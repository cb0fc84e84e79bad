/**
 * proxytest: run compiled proxy-wasm network-filter modules under an emulated Envoy host.
 * See README.md in this folder.
 */
export { ProxyTestHost } from "./host";
export { Connection } from "./connection";
export { SharedData } from "./shared_data";
export { ConfigRejected, HostLoadError, ProcExit, VmFailed, VmTrap } from "./errors";
export { ENVOY_MAX_VM_MEMORY_BYTES, FilterStatus, LOG_LEVELS, WasmResult } from "./types";
export { decodeSetEnvoyFilterStateArguments } from "./filter_state";
export type {
  HostOptions,
  ConnectionOptions,
  DataResult,
  LogEntry,
  LogLevelName,
  ForeignCall,
  UnimplementedCall,
  MemoryFault,
  TrapRecord,
  MetricSnapshot,
  GrpcCall,
} from "./types";
export { grpcServiceCluster } from "./host";
export { compileAssemblyScript, repoRoot } from "./compile";
export {
  bytewise, compiledCodec, decodedMessages, feed, memoryCurve, metricName, metricValues, split, startedHost,
} from "./codec_harness";
export type { Decoded, Direction } from "./codec_harness";
export { testChunkings } from "./chunkings";
export type { SessionCheck } from "./chunkings";
export { testNeverTraps } from "./never_traps";
export type { CapturedSession, NeverTrapsOptions, Turn } from "./never_traps";
export { decodeLogsExport, decodeTraceExport } from "./otlp";
export type { OtlpLogRecord, OtlpSpan, OtlpValue } from "./otlp";
