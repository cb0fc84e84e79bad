// What both ADS variants do the same way: a stream belongs to the node named in its first request,
// watches that node's snapshot, counts itself in the status and stops watching when it ends.
import type * as grpc from "@grpc/grpc-js";
import { adminAddressOfNode } from "../../status_page/envoy_admin";
import type { Snapshot } from "../cache";
import type { ServerContext } from "./context";

interface NodeRequest {
  node?: { id?: string; cluster?: string; metadata?: { fields?: Record<string, { string_value?: string }> } | null } | null;
}

export abstract class AdsStream<Request extends NodeRequest, Response> {
  protected nodeId?: string;
  protected snapshot?: Snapshot;
  protected nonce = 0;
  private unwatch?: () => void;

  constructor(protected readonly call: grpc.ServerDuplexStream<Request, Response>, protected readonly ctx: ServerContext, private readonly variant: string) {
    call.on("data", (request: Request) => {
      this.attach(request);
      this.onRequest(request);
    });
    call.on("end", () => { this.close(); call.end(); });
    call.on("error", () => this.close());
    call.on("cancelled", () => this.close());
  }

  protected abstract onRequest(request: Request): void;

  protected abstract onSnapshot(next: Snapshot): void;

  /** The first request names the node: from then on the stream follows its snapshot. */
  private attach(request: Request): void {
    if (this.nodeId !== undefined) return;
    this.nodeId = request.node?.id ?? "";
    const node = this.ctx.status.node(this.nodeId);
    node.streams++;
    node.admin = adminAddressOfNode(request.node) ?? node.admin;
    this.ctx.log.info({ node: this.nodeId, cluster: request.node?.cluster }, `xDS stream opened (${this.variant})`);
    this.snapshot = this.ctx.cache.getSnapshot(this.nodeId);
    this.unwatch = this.ctx.cache.watch(this.nodeId, (snapshot) => this.onSnapshot(snapshot));
  }

  private close(): void {
    if (!this.unwatch) return;
    this.unwatch();
    this.unwatch = undefined;
    this.ctx.status.node(this.nodeId!).streams--;
    this.ctx.log.info({ node: this.nodeId }, "xDS stream closed");
  }
}
