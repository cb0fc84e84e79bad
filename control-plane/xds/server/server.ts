// The ADS gRPC server: state-of-the-world and delta streams over one snapshot cache.
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { SnapshotCache } from "../cache";
import { DeltaStream } from "./delta";
import { adsServiceDefinition } from "./messages";
import { SotwStream } from "./sotw";
import { StatusRegistry } from "./status";

export class XdsServer {
  readonly status = new StatusRegistry();
  private readonly server = new grpc.Server();

  constructor(readonly cache: SnapshotCache, private readonly log: Logger) {
    const ctx = { cache, status: this.status, log };
    const sotw: grpc.handleBidiStreamingCall<never, never> = (call) => new SotwStream(call, ctx);
    const delta: grpc.handleBidiStreamingCall<never, never> = (call) => new DeltaStream(call, ctx);
    this.server.addService(adsServiceDefinition(), { StreamAggregatedResources: sotw, DeltaAggregatedResources: delta });
  }

  /** Listens on address:port (port 0 picks one); resolves to the port. */
  listen(address: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${address}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
        if (err) reject(new Error(`cannot listen for xDS on ${address}:${port}: ${err.message}`));
        else resolve(bound);
      });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }

  /** Ends every stream at once (Envoys reconnect). */
  forceStop(): void {
    this.server.forceShutdown();
  }
}
