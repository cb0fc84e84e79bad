// The per-plugin root: parses configuration and creates a connection filter per connection.
import { ConnectionFilter, RootFilter, registerRootFilter } from "../../api/assembly/filter";
import { Codec } from "../../api/assembly/codec";
import { LogLevel, log, logEnabled, refreshLogLevel } from "../../api/assembly/host";
import { FilterConfig, parseConfig } from "./config";
import { MetaProtocolConnection } from "./connection";
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

export class MetaProtocolRoot extends RootFilter {
  private config: FilterConfig = new FilterConfig();
  private stats: ProtocolStats;

  constructor(contextId: u32, private codec: Codec) {
    super(contextId);
    this.stats = statsFor(codec);
  }

  onConfigure(configuration: Uint8Array): bool {
    const text = String.UTF8.decode(configuration.buffer.slice(configuration.byteOffset, configuration.byteOffset + configuration.byteLength));
    const parsed = parseConfig(text);
    if (parsed.error.length > 0) {
      log(LogLevel.Error, "metaproto " + this.codec.name() + ": configuration rejected: " + parsed.error);
      return false;
    }
    this.config = parsed.config;
    this.stats.limits = this.config.labelLimits;
    log(LogLevel.Info, "metaproto " + this.codec.name() + ": configured");
    return true;
  }

  newConnection(contextId: u32): ConnectionFilter {
    refreshLogLevel();
    // Only the debug log of decoded messages reads attributes in sidecar mode.
    this.codec.attributesWanted = logEnabled(LogLevel.Debug);
    return new MetaProtocolConnection(contextId, this.codec, this.config, this.stats);
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
