// The per-plugin root: parses configuration and creates a connection filter per connection.
import { ConnectionFilter, RootFilter, registerRootFilter } from "./runtime/filter";
import { Codec } from "../../api/assembly/codec";
import { LogLevel, getProperty, log, logEnabled, nowNanos, refreshLogLevel } from "./runtime/host";
import { FilterConfig, parseConfig } from "./config";
import { publishPolicy } from "./policy/chain";
import { seedRandom } from "./policy/fault";
import { releaseDue } from "./delays";
import { MetaProtocolConnection } from "./connection";
import { defaultPendingCalls } from "./pending_calls";
import { ProtocolStats } from "./stats";

let activeCodec: Codec | null = null;
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
    const parsed = parseConfig(text, this.key);
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
    log(LogLevel.Info, "metaproto " + this.codec.name() + ": configured");
    return true;
  }

  onTick(): void {
    releaseDue();
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
    this.codec.attributesWanted = logEnabled(LogLevel.Debug) || (policy != null && policy.readsAttributes);
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
