// The ADS gRPC service, its messages encoded with protobufjs from the xds-protos descriptors.
import * as grpc from "@grpc/grpc-js";
import { Writer } from "protobufjs";
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
  /** The response but its nonce, as encodeDiscoveryResponseBody made it: when given, used instead of the fields above. */
  encodedBody?: Uint8Array;
  /** The whole response, nonce included (encodeDiscoveryResponse): when given, sent as it is. */
  encoded?: Buffer;
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
  /** encoded: the Resource message as encodeDeltaResource made it, used instead of the other fields when given. */
  resources: { name: string; version: string; resource: Any; anyBytes?: Uint8Array; encoded?: Uint8Array }[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
}

/** An Any's wire encoding (type_url = 1, value = 2): encoded once per resource, copied into every response. */
export function encodeAny(any: Any): Uint8Array {
  return Writer.create().uint32(10).string(any.type_url).uint32(18).bytes(any.value).finish();
}

// One change goes to every connected Envoy: a response is assembled from the resources' cached Any
// encodings (field numbers from envoy/service/discovery/v3/discovery.proto) instead of re-encoding each
// resource, and everything but the nonce is encoded once for all the streams that get the same
// resources (Snapshot.responseBody). messages.test.ts checks them against protobufjs.
export function encodeDiscoveryResponseBody(version: string, typeUrl: string, encodedResources: Uint8Array[]): Uint8Array {
  const writer = Writer.create().uint32(10).string(version);
  for (const any of encodedResources) writer.uint32(18).bytes(any);
  return writer.uint32(34).string(typeUrl).finish();
}

/** A body and a nonce (field 5): protobuf fields may come in any order, so the nonce simply follows. */
export function encodeDiscoveryResponse(response: DiscoveryResponse & { encodedBody: Uint8Array }): Buffer {
  return Buffer.concat([response.encodedBody, Writer.create().uint32(42).string(response.nonce).finish()]);
}

/** A delta Resource (name = 3, version = 1, resource = 2): the same bytes for every stream it goes to. */
export function encodeDeltaResource(r: { name: string; version: string; resource: Any; anyBytes?: Uint8Array }): Uint8Array {
  return Writer.create().uint32(26).string(r.name).uint32(10).string(r.version).uint32(18).bytes(r.anyBytes ?? encodeAny(r.resource)).finish();
}

export function encodeDeltaDiscoveryResponse(response: DeltaDiscoveryResponse): Buffer {
  const writer = Writer.create().uint32(10).string(response.system_version_info);
  for (const r of response.resources) writer.uint32(18).bytes(r.encoded ?? encodeDeltaResource(r));
  writer.uint32(34).string(response.type_url);
  for (const name of response.removed_resources) writer.uint32(50).string(name);
  return Buffer.from(writer.uint32(42).string(response.nonce).finish());
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
      responseSerialize: (response: DiscoveryResponse) => response.encoded ??
        (response.encodedBody ? encodeDiscoveryResponse(response as DiscoveryResponse & { encodedBody: Uint8Array }) : sotwResponse.serialize(response)),
      responseDeserialize: sotwResponse.deserialize,
    },
    DeltaAggregatedResources: {
      path: `${ADS}DeltaAggregatedResources`, requestStream: true, responseStream: true,
      requestSerialize: deltaRequest.serialize, requestDeserialize: deltaRequest.deserialize,
      responseSerialize: encodeDeltaDiscoveryResponse, responseDeserialize: deltaResponse.deserialize,
    },
  };
}
