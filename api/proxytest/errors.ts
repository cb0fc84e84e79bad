// Errors the host emulator throws, named after what Envoy would do in the same case.
import type { LogEntry } from "./types";

/** The VM trapped (or threw) inside a callback or export. The VM is dead afterwards, as in Envoy. */
export class VmTrap extends Error {
  constructor(
    message: string,
    readonly callback: string,
    readonly contextId: number,
    readonly logs: LogEntry[],
    cause: unknown,
  ) {
    super(message, { cause });
    this.name = "VmTrap";
  }
}

/** Any call after a trap: the VM is failed, as Envoy marks it (fail-closed connections, no more callbacks). */
export class VmFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VmFailed";
  }
}

/** `proxy_on_vm_start` or `proxy_on_configure` returned 0; Envoy would reject the plugin. `logs`: the module's output during that call, whatever the log level. */
export class ConfigRejected extends Error {
  constructor(
    readonly phase: "vm_start" | "configure",
    readonly logs: LogEntry[],
  ) {
    super(
      `proxy_on_${phase === "vm_start" ? "vm_start" : "configure"} returned 0: Envoy would reject this plugin` +
        formatLogs(logs),
    );
    this.name = "ConfigRejected";
  }
}

/** Thrown by the WASI `proc_exit` import; surfaces as the `cause` of a {@link VmTrap}. */
export class ProcExit extends Error {
  constructor(readonly code: number) {
    super(`WASI proc_exit(${code}) called`);
    this.name = "ProcExit";
  }
}

/** The module cannot be loaded the way Envoy would load it (imports Envoy does not provide, no malloc, no ABI marker). */
export class HostLoadError extends Error {
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(message + "\n  " + problems.join("\n  "));
    this.name = "HostLoadError";
  }
}

export class RestrictedCallback extends Error {
  constructor(name: string, phase: string) {
    super(`restricted_callback: ${name} called during ${phase}; Envoy traps the VM (only logging, clock, random and env/args are allowed there)`);
    this.name = "RestrictedCallback";
  }
}

export class OutOfBounds extends Error {
  constructor(
    readonly ptr: number,
    readonly length: number,
  ) {
    super(`out-of-bounds guest memory access [${ptr}, ${ptr}+${length})`);
  }
}


export function formatLogs(logs: LogEntry[]): string {
  if (logs.length === 0) return "";
  const shown = logs.slice(-20);
  return "\nmodule output during the call:\n" + shown.map((l) => `  [${l.level}] ${l.message}`).join("\n");
}
