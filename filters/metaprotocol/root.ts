// The per-plugin root: parses configuration and creates a connection filter per connection.
import { ConnectionFilter, RootFilter, registerRootFilter } from "./runtime/filter";
import { Codec } from "../../api/assembly/codec";
import { LogLevel, getProperty, log, logEnabled, nowNanos, refreshLogLevel } from "./runtime/host";
import { FilterConfig, parseConfig } from "./config";
import { publishPolicy } from "./policy/chain";
import { seedRandom } from "./policy/fault";
import { releaseDue, setIdleTick } from "./delays";
import { flowLogExporter, seedIds, spanExporter } from "./tracing/observer";
import { MetaProtocolConnection } from "./connection";
import { defaultPendingCalls } from "./pending_calls";
import { ProtocolStats } from "./stats";

let activeCodec: Codec | null = null;
/** How often the root's timer looks at the telemetry queues: a full batch waits at most this long. */
const TELEMETRY_TICK_MILLIS: u32 = 100;
// One per VM: every root context (each configuration ECDS brings) counts into the same series,
// so the label bounds hold for the VM's lifetime.
let vmStats: ProtocolStats | null = null;

function statsFor(codec: Codec): ProtocolStats {
  let stats = vmStats;
  if (stats == null) {
    stats = new ProtocolStats(codec.name());
    vmStats = stats;
  }
  return stats;
}

/** The plugin's name and root id: what keeps the live policies of plugins sharing a VM apart. */
function pluginKey(): string {
  return propertyText("plugin_name") + "/" + propertyText("plugin_root_id");
}

function propertyText(name: string): string {
  const value = getProperty([name]);
  return value == null ? "" : String.UTF8.decode(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
}

export class MetaProtocolRoot extends RootFilter {
  private config: FilterConfig = new FilterConfig();
  private stats: ProtocolStats;
  private key: string = "";

  constructor(contextId: u32, private codec: Codec) {
    super(contextId);
    this.stats = statsFor(codec);
  }

  onConfigure(configuration: Uint8Array): bool {
    const text = String.UTF8.decode(configuration.buffer.slice(configuration.byteOffset, configuration.byteOffset + configuration.byteLength));
    this.key = pluginKey();
    const parsed = parseConfig(text, this.key, this.codec.name());
    if (parsed.error.length > 0) {
      log(LogLevel.Error, "metaproto " + this.codec.name() + ": configuration rejected: " + parsed.error);
      return false;
    }
    this.config = parsed.config;
    this.stats.limits = this.config.labelLimits;
    // Connections opened under an earlier configuration read the policy per request: this
    // reaches them too (the VM, and so this module state, is shared with their old root).
    publishPolicy(this.key, this.config.policy);
    seedRandom(nowNanos());
    this.startTelemetry();
    log(LogLevel.Info, "metaproto " + this.codec.name() + ": configured");
    return true;
  }

  /** Points the VM's exporters at this configuration's collectors and keeps the timer that sends. */
  private startTelemetry(): void {
    const tracing = this.config.tracing;
    const flowLogs = this.config.flowLogs;
    let tick: u32 = 0;
    if (tracing != null) {
      spanExporter.configure(tracing.export);
      tick = min(tracing.export.flushIntervalMillis, TELEMETRY_TICK_MILLIS);
    }
    if (flowLogs != null) {
      flowLogExporter.configure(flowLogs.export);
      const t = min(flowLogs.export.flushIntervalMillis, TELEMETRY_TICK_MILLIS);
      tick = tick == 0 ? t : min(tick, t);
    }
    seedIds(nowNanos() ^ (<u64>this.contextId << 32));
    if (tick != 0) setIdleTick(tick);
  }

  onTick(): void {
    releaseDue();
    const now = nowNanos();
    spanExporter.onTick(now);
    flowLogExporter.onTick(now);
  }

  newConnection(contextId: u32): ConnectionFilter {
    refreshLogLevel();
    const policy = this.config.policy;
    // Envoy creates connections under the current configuration's root. It may be one it made
    // earlier and reuses without a new on_configure (a configuration changed back to one seen
    // before): publishing here makes that revert reach open connections too, from the next
    // connection on.
    publishPolicy(this.key, policy);
    // Attributes are decoded only when something reads them: the debug log or a policy rule.
    // Tracing reads and writes trace context; flow logs report x-request-id and the server's error text.
    this.codec.attributesWanted = logEnabled(LogLevel.Debug) || (policy != null && policy.readsAttributes) ||
      this.config.tracing != null || this.config.flowLogs != null;
    this.codec.maxBufferedBytes = this.config.maxBufferedBytes;
    this.codec.maxPendingCalls = this.config.maxPendingCalls > 0 ? this.config.maxPendingCalls : defaultPendingCalls(this.codec.pairing());
    return new MetaProtocolConnection(contextId, this.codec, this.config, this.stats, this.key);
  }
}

function createRoot(contextId: u32): RootFilter {
  return new MetaProtocolRoot(contextId, activeCodec!);
}

/** Makes this module a MetaProtocol filter for `codec`. Call once from a codec's main.ts. */
export function useCodec(codec: Codec): void {
  activeCodec = codec;
  registerRootFilter(createRoot);
}
