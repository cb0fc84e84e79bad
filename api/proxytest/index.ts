/**
 * proxytest: run compiled proxy-wasm network-filter modules under an emulated Envoy host.
 * See README.md in this folder.
 */
export {
  ProxyTestHost,
  Connection,
  SharedData,
  VmTrap,
  VmFailed,
  ConfigRejected,
  ProcExit,
  HostLoadError,
  WasmResult,
  FilterStatus,
  LOG_LEVELS,
  decodeSetEnvoyFilterStateArguments,
} from "./host";
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
} from "./host";
export { compileAssemblyScript, repoRoot } from "./compile";
export {
  bytewise, compiledCodec, decodedMessages, feed, metricName, metricValues, split, startedHost,
} from "./codec_harness";
export type { Decoded, Direction } from "./codec_harness";
