import { decodeMessage, messageType, packAny } from "../api";
import { encodeAny, encodeDeltaDiscoveryResponse, encodeDeltaResource, encodeDiscoveryResponse, encodeDiscoveryResponseBody } from "./messages";

const decoded = (typeName: string, bytes: Uint8Array) => {
  const type = messageType(typeName);
  return type.toObject(type.decode(bytes), { longs: Number, enums: String, defaults: false });
};

describe("responses assembled from cached Any encodings", () => {
  const clusters = ["a", "b"].map((name) => packAny("envoy.config.cluster.v3.Cluster", { name, type: "EDS" }));

  test("an Any's encoding is protobufjs' own", () => {
    const any = messageType("google.protobuf.Any");
    expect(Buffer.from(encodeAny(clusters[0]))).toEqual(Buffer.from(any.encode(any.fromObject(clusters[0])).finish()));
  });

  test("a DiscoveryResponse decodes to what protobufjs would have encoded", () => {
    const response = { version_info: "v1", resources: clusters, type_url: clusters[0].type_url, nonce: "3" };
    const type = messageType("envoy.service.discovery.v3.DiscoveryResponse");
    const reference = type.encode(type.fromObject(response)).finish();
    const assembled = encodeDiscoveryResponse({ ...response, encodedBody: encodeDiscoveryResponseBody("v1", clusters[0].type_url, clusters.map(encodeAny)) });
    expect(decoded(type.fullName, assembled)).toEqual(decoded(type.fullName, reference));
    expect((decoded(type.fullName, assembled) as { resources: { value: Uint8Array }[] }).resources
      .map((r) => decodeMessage("envoy.config.cluster.v3.Cluster", r.value).name)).toEqual(["a", "b"]);
  });

  test("a DeltaDiscoveryResponse decodes to what protobufjs would have encoded", () => {
    const response = {
      system_version_info: "v2", type_url: clusters[0].type_url, nonce: "9", removed_resources: ["gone", "also-gone"],
      resources: clusters.map((resource, i) => ({ name: ["a", "b"][i], version: `h${i}`, resource })),
    };
    const type = messageType("envoy.service.discovery.v3.DeltaDiscoveryResponse");
    const reference = type.encode(type.fromObject(response)).finish();
    const assembled = encodeDeltaDiscoveryResponse({ ...response, resources: response.resources.map((r) => ({ ...r, anyBytes: encodeAny(r.resource) })) });
    expect(decoded(type.fullName, assembled)).toEqual(decoded(type.fullName, reference));
    // Each Resource encoded once, ahead, for every stream it goes to.
    const shared = encodeDeltaDiscoveryResponse({ ...response, resources: response.resources.map((r) => ({ ...r, encoded: encodeDeltaResource(r) })) });
    expect(decoded(type.fullName, shared)).toEqual(decoded(type.fullName, reference));
  });
});
