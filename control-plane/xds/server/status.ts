// What each node has accepted and rejected, for `metaproto status` and the log.
export interface Nack {
  version: string;
  message: string;
  /** The resources the error is about, and the YAML documents behind them. */
  resources: string[];
  origins: string[];
  at: Date;
}

export interface TypeStatus {
  sentVersion?: string;
  ackedVersion?: string;
  nack?: Nack;
  responses: number;
}

export interface NodeStatus {
  streams: number;
  /** Its admin endpoint (host:port), when its bootstrap's node metadata names it (status page, Prometheus). */
  admin?: string;
  types: Map<string, TypeStatus>;
}

export class StatusRegistry {
  readonly nodes = new Map<string, NodeStatus>();

  node(nodeId: string): NodeStatus {
    let status = this.nodes.get(nodeId);
    if (!status) this.nodes.set(nodeId, (status = { streams: 0, types: new Map() }));
    return status;
  }

  type(nodeId: string, typeUrl: string): TypeStatus {
    const node = this.node(nodeId);
    let status = node.types.get(typeUrl);
    if (!status) node.types.set(typeUrl, (status = { responses: 0 }));
    return status;
  }
}
