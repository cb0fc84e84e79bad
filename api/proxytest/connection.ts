// One emulated downstream connection: the state the host drives and the facade tests hold.
import { EMPTY, concat, toBytes } from "./bytes";
import { FilterStatus } from "./types";
import type { DataResult } from "./types";

/** Per-connection state shared by {@link Connection} (read-only facade) and the host (which drives it). */
export class ConnState {
  readBuffer: Uint8Array = EMPTY;
  writeBuffer: Uint8Array = EMPTY;
  /** Envoy's network_downstream_data_buffer_ is set: during the callback, and kept after a pause. */
  readAttached = false;
  writeAttached = false;
  contextCreated = false;
  upstreamCloseNotified = false;
  newConnectionStatus: FilterStatus = FilterStatus.Continue;
  closedBy: "downstream" | "upstream" | "filter" | "shutdown" | null = null;
  readonly upstreamChunks: Uint8Array[] = [];
  readonly clientChunks: Uint8Array[] = [];
  readonly filterState = new Map<string, string>();
  readonly moduleProperties = new Map<string, Uint8Array>();
  constructor(
    readonly id: number,
    readonly properties: Map<string, Uint8Array>,
  ) {}

  forwardRead(): void {
    if (this.readBuffer.length > 0) this.upstreamChunks.push(this.readBuffer);
    this.readBuffer = EMPTY;
  }

  forwardWrite(): void {
    if (this.writeBuffer.length > 0) this.clientChunks.push(this.writeBuffer);
    this.writeBuffer = EMPTY;
  }
}

/** What a {@link Connection} needs from its host; not exported. */
export interface ConnectionDriver {
  feed(state: ConnState, direction: "downstream" | "upstream", bytes: Uint8Array, eos: boolean): DataResult;
  close(state: ConnState, side: "downstream" | "upstream"): void;
}



/**
 * One downstream connection through the filter (one stream context in the VM), created by
 * {@link ProxyTestHost.newConnection}. Bytes fed with {@link downstream} travel client → upstream
 * (Envoy's read side), bytes fed with {@link upstream} travel upstream → client (the write side).
 */
export class Connection {
  /** @internal */
  constructor(
    private readonly state: ConnState,
    private readonly driver: ConnectionDriver,
  ) {}

  /** The context id the VM knows this connection by. */
  get id(): number {
    return this.state.id;
  }

  /** What `proxy_on_new_connection` returned (0 Continue, anything else Pause). */
  get onNewConnectionStatus(): FilterStatus {
    return this.state.newConnectionStatus;
  }

  /** Filter state set through the `set_envoy_filter_state` foreign function: key → value. */
  get filterState(): ReadonlyMap<string, string> {
    return this.state.filterState;
  }

  /** Values the module stored with `proxy_set_property` (Envoy keeps them as `wasm.<path>` filter state). */
  get moduleProperties(): ReadonlyMap<string, Uint8Array> {
    return this.state.moduleProperties;
  }

  /** True once the connection is closed (by either peer, by the filter, or by host shutdown). */
  get closed(): boolean {
    return this.state.closedBy !== null;
  }

  /** Who closed the connection, or null while it is open. */
  get closedBy(): "downstream" | "upstream" | "filter" | "shutdown" | null {
    return this.state.closedBy;
  }

  /** True if the module closed the connection with `proxy_close_stream`. */
  get closedByFilter(): boolean {
    return this.state.closedBy === "filter";
  }

  /** Every byte that has reached the upstream so far (client → upstream direction). */
  get toUpstream(): Uint8Array {
    return concat(this.state.upstreamChunks);
  }

  /** Every byte that has reached the client so far (upstream → client direction). */
  get toClient(): Uint8Array {
    return concat(this.state.clientChunks);
  }

  /** Bytes held in the read buffer because the filter paused the downstream direction. */
  get pendingDownstream(): Uint8Array {
    return this.state.readBuffer.slice();
  }

  /** Bytes held on the write side because the filter paused the upstream direction (Envoy never resumes those except with new data). */
  get pendingUpstream(): Uint8Array {
    return this.state.writeBuffer.slice();
  }

  /**
   * Bytes from the client arrive: they are appended to the read buffer (which still holds any
   * paused bytes) and `proxy_on_downstream_data(id, bufferLength, endOfStream)` runs. On Continue
   * the whole buffer goes upstream; on Pause it stays for the next call or a `proxy_continue_stream`.
   */
  downstream(bytes: Uint8Array | string, opts: { endOfStream?: boolean } = {}): DataResult {
    return this.driver.feed(this.state, "downstream", toBytes(bytes), opts.endOfStream === true);
  }

  /**
   * Bytes from the upstream arrive on their way to the client: `proxy_on_upstream_data` runs on the
   * write buffer. With `endOfStream`, Envoy then also calls `proxy_on_upstream_connection_close(id, 0)`.
   */
  upstream(bytes: Uint8Array | string, opts: { endOfStream?: boolean } = {}): DataResult {
    return this.driver.feed(this.state, "upstream", toBytes(bytes), opts.endOfStream === true);
  }

  /**
   * Closes the connection the way Envoy reports it to the filter:
   * - `"downstream"` (the client closed): `proxy_on_downstream_connection_close(id, 2 = remote)`;
   * - `"upstream"` (the upstream closed, tcp_proxy then closes the client):
   *   `proxy_on_upstream_connection_close(id, 0 = unknown)` unless already reported, then
   *   `proxy_on_downstream_connection_close(id, 1 = local)`;
   *
   * then `proxy_on_done(id)`, `proxy_on_log(id)`, `proxy_on_delete(id)`.
   */
  close(side: "downstream" | "upstream" = "downstream"): void {
    this.driver.close(this.state, side);
  }
}
