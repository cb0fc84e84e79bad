// The ADS gRPC service, its messages encoded with protobufjs from the xds-protos descriptors.
import * as grpc from "@grpc/grpc-js";
import { messageType } from "../api";

export interface Node { id: string; cluster: string }
export interface Any { type_url: string; value: Uint8Array }
export interface Status { code: number; message: string }

export interface DiscoveryRequest {
  version_info: string;
  node: Node | null;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail: Status | null;
}

export interface DiscoveryResponse {
  version_info: string;
  resources: Any[];
  type_url: string;
  nonce: string;
}

export interface DeltaDiscoveryRequest {
  node: Node | null;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail: Status | null;
}

export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: { name: string; version: string; resource: Any }[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
}

function serializer<T>(typeName: string): { serialize: (value: T) => Buffer; deserialize: (bytes: Buffer) => T } {
  const type = messageType(typeName);
  return {
    serialize: (value) => Buffer.from(type.encode(type.fromObject(value as object)).finish()),
    deserialize: (bytes) => type.toObject(type.decode(bytes), { defaults: true, longs: Number, enums: String }) as T,
  };
}

const ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/";

export function adsServiceDefinition(): grpc.ServiceDefinition {
  const sotwRequest = serializer<DiscoveryRequest>("envoy.service.discovery.v3.DiscoveryRequest");
  const sotwResponse = serializer<DiscoveryResponse>("envoy.service.discovery.v3.DiscoveryResponse");
  const deltaRequest = serializer<DeltaDiscoveryRequest>("envoy.service.discovery.v3.DeltaDiscoveryRequest");
  const deltaResponse = serializer<DeltaDiscoveryResponse>("envoy.service.discovery.v3.DeltaDiscoveryResponse");
  return {
    StreamAggregatedResources: {
      path: `${ADS}StreamAggregatedResources`, requestStream: true, responseStream: true,
      requestSerialize: sotwRequest.serialize, requestDeserialize: sotwRequest.deserialize,
      responseSerialize: sotwResponse.serialize, responseDeserialize: sotwResponse.deserialize,
    },
    DeltaAggregatedResources: {
      path: `${ADS}DeltaAggregatedResources`, requestStream: true, responseStream: true,
      requestSerialize: deltaRequest.serialize, requestDeserialize: deltaRequest.deserialize,
      responseSerialize: deltaResponse.serialize, responseDeserialize: deltaResponse.deserialize,
    },
  };
}
