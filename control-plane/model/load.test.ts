import * as fs from "fs";
import * as jsYaml from "js-yaml";
import * as path from "path";
import * as YAML from "yaml";
import { CORE_SCHEMA, formatError, loadFiles, loadSources } from "./load";

const service = (name: string, port: number, extra = "") => `apiVersion: metaproto.io/v1alpha1
kind: Service
metadata: { name: ${name} }
spec:
  protocol: redis
  port: ${port}
  codec: { on_decode_error: close }
  subsets:
  - name: v1
    labels: { version: v1 }
    endpoints: [{ address: 127.0.0.1, port: 6379 }]
  - name: v2
    endpoints: [{ address: 127.0.0.1, port: 6479 }]
${extra}`;

const router = (routes: string) => `apiVersion: metaproto.io/v1alpha1
kind: MetaRouter
metadata: { name: cache-routes }
spec:
  hosts: [cache]
  routes:
${routes}`;

const load = (...texts: string[]) => loadSources(texts.map((text, i) => ({ file: `f${i}.yaml`, text })));
const messages = (...texts: string[]) => load(...texts).errors.map(formatError);

describe("config model", () => {
  test("a Service and its MetaRouter load with defaults filled in", () => {
    const result = load(`${service("cache", 6380)}---\n${router(`  - route:
    - { destination: { host: cache, subset: v1 }, weight: 30 }
    - { destination: { host: cache, subset: v2 }, weight: 70 }`)}`);
    expect(result.errors).toEqual([]);
    const cache = result.model!.services.get("cache")!;
    expect(cache.value.spec).toMatchObject({ address: "127.0.0.1", failurePolicy: "FAIL_RELOAD", codec: { on_decode_error: "close" } });
    expect(result.model!.routers.get("cache-routes")!.document).toBe(2);
  });

  test("the shipped examples are valid", () => {
    const { model, errors } = loadFiles([path.join(__dirname, "..", "examples", "redis.yaml")]);
    expect(errors.map(formatError)).toEqual([]);
    expect([...model!.services.keys(), ...model!.routers.keys()]).toEqual(["cache", "cache"]);
    expect(loadFiles([path.join(__dirname, "..", "examples", "up.yaml")]).errors.map(formatError)).toEqual([]);
  });

  test("a schema error names the file, line, document, kind, name and field path", () => {
    const bad = service("cache", 6380).replace("port: 6479", "port: 70000");
    expect(messages(bad)).toEqual(["f0.yaml:13:39: document 1 (Service cache) spec.subsets[1].endpoints[0].port: must be a whole number from 1 to 65535"]);
    expect(messages(service("cache", 6380).replace("on_decode_error: close", "on_decode_eror: close")))
      .toEqual(["f0.yaml:7:12: document 1 (Service cache) spec.codec.on_decode_eror: unknown field: remove it or check its spelling"]);
    expect(messages(service("cache", 6380).replace("  protocol: redis\n", ""))[0]).toMatch(/spec\.protocol: is required/);
    expect(messages("kind: Gateway\nmetadata: { name: x }\n")).toEqual(['f0.yaml:1:1: document 1 (Gateway x) kind: unknown kind "Gateway": use one of Service, MetaRouter, Telemetry']);
  });

  test("a file loaded again is read again when its text changed, and unchanged when not", () => {
    const file = "again.yaml";
    expect(loadSources([{ file, text: service("cache", 6380) }]).errors).toEqual([]);
    expect(loadSources([{ file, text: service("cache", 6380) }]).model!.services.get("cache")!.value.spec.port).toBe(6380);
    expect(loadSources([{ file, text: service("cache", 6381) }]).model!.services.get("cache")!.value.spec.port).toBe(6381);
    expect(loadSources([{ file, text: service("cache", 0) }]).errors.map(formatError)[0]).toContain("spec.port");
  });

  test("documents are parsed one by one and reused while unchanged: positions and numbering stay those of the whole file", () => {
    const file = "docs.yaml";
    const bad = service("c", 6390).replace("port: 6479", "port: 70000");
    const text = (extraLines: string) => `# leading comment\n---\n${service("a", 6380)}${extraLines}---  # a comment on the marker\n${service("b", 6381)}---\n${bad}---\n`;
    const errorsOf = (t: string) => loadSources([{ file, text: t }]).errors.map(formatError);
    const lineOfBadPort = (t: string) => t.split("\n").findIndex((line) => line.includes("port: 70000")) + 1;
    const first = text("");
    expect(errorsOf(first)).toEqual([`docs.yaml:${lineOfBadPort(first)}:39: document 3 (Service c) spec.subsets[1].endpoints[0].port: must be a whole number from 1 to 65535`]);
    // The first document grows by two lines: the unchanged third one's error moves with it.
    const grown = text("# two more\n# lines\n");
    expect(errorsOf(grown)).toEqual([`docs.yaml:${lineOfBadPort(grown)}:39: document 3 (Service c) spec.subsets[1].endpoints[0].port: must be a whole number from 1 to 65535`]);
    expect(lineOfBadPort(grown)).toBe(lineOfBadPort(first) + 2);
    // The same numbering as a parse of the whole file, which `...` or a directive falls back to.
    const whole = `%YAML 1.2\n${first}`;
    expect(errorsOf(whole)).toEqual([`docs.yaml:${lineOfBadPort(whole)}:39: document 3 (Service c) spec.subsets[1].endpoints[0].port: must be a whole number from 1 to 65535`]);
    const fixed = loadSources([{ file, text: first.replace("port: 70000", "port: 6479") }]);
    expect([...fixed.model!.services.keys()]).toEqual(["a", "b", "c"]);
    expect(fixed.model!.services.get("c")!.document).toBe(3);
  });

  test("documents are read as the yaml package's YAML 1.2 core schema reads them", () => {
    const scalars = ["0b101", "0o17", "017", "0x1F", "1_000", "+12", "-0x1", "-12", ".inf", "-.Inf", "+.INF", ".NaN", "1e3", "1.5e-3", "+.5", "1.", ".5",
      "12:30", "2024-01-01", "yes", "on", "~", "Null", "NULL", "", "TRUE", "True", "tRue", "'1'", '"2"', "1s", "0", "00", "09", "0.1.2", "1e", "0xG", "<<"];
    const text = scalars.map((scalar, i) => `k${i}: ${scalar}\n`).join("") + "tagged: !!str 1\nlist: [1, two, 3.0, null]\nmerge: { <<: { a: 1 } }\n";
    expect(jsYaml.load(text, { schema: CORE_SCHEMA })).toEqual(YAML.parse(text));
    // And every configuration shipped in the repository.
    const root = path.join(__dirname, "..", "..");
    for (const file of [path.join(root, "control-plane/examples"), path.join(root, "examples/redis-policy"), path.join(root, "examples/tinyrpc")]
      .flatMap((dir) => fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(dir, f)))) {
      const yamlText = fs.readFileSync(file, "utf8");
      expect([file, jsYaml.loadAll(yamlText, undefined, { schema: CORE_SCHEMA })]).toEqual([file, YAML.parseAllDocuments(yamlText).map((d) => d.toJS())]);
    }
  });

  test("a document js-yaml refuses is read by the yaml package, whose errors name the line; comments alone are no document", () => {
    // A duplicate key: both refuse it, the error comes from yaml with its line.
    expect(messages(`# only a comment\n---\n${service("a", 6380)}---\nkind: Service\nkind: Service\n`)).toEqual([
      "f0.yaml:18:1: document 2 YAML syntax: Map keys must be unique"]);
    // A local tag: js-yaml refuses it, yaml keeps the value; the document is yaml's and loads.
    const tagged = service("a", 6380).replace("protocol: redis", "protocol: !local redis");
    expect(() => jsYaml.load(tagged, { schema: CORE_SCHEMA })).toThrow();
    expect(load(tagged).model?.services.get("a")?.value.spec.protocol).toBe("redis");
  });

  test("YAML syntax errors give their line", () => {
    expect(messages("kind: Service\nspec: [\n")[0]).toMatch(/^f0\.yaml:\d+:\d+: document 1 YAML syntax:/);
  });

  test("cross-document checks: references, ports, names, subsets", () => {
    expect(messages(service("cache", 6380), service("store", 6380))).toEqual([
      "f1.yaml:6:3: document 1 (Service store) spec.port: port 6380 is already the listener of Service cache: give each Service its own port",
    ]);
    expect(messages(service("cache", 6380), service("cache", 6381))[0]).toContain("metadata.name: another Service has this name (f0.yaml document 1)");
    expect(messages(service("cache", 6380), router(`  - route: [{ destination: { host: cache, subset: v3 } }]`))).toEqual([
      'f1.yaml:7:43: document 1 (MetaRouter cache-routes) spec.routes[0].route[0].destination.subset: Service "cache" has no subset "v3" (it has: v1, v2)',
    ]);
    expect(messages(router(`  - route: [{ destination: { host: cache } }]`))[0]).toContain('spec.hosts[0]: no Service named "cache"');
    expect(messages(service("cache", 6380), router(`  - route: [{ destination: { host: cache, subset: v1, port: 1234 } }]`))[0])
      .toContain("destination.port: no endpoint of cache/v1 listens on port 1234: use one of 6379 or leave port out");
  });

  test("weights of several destinations must sum to 100", () => {
    expect(messages(service("cache", 6380), router(`  - route:
    - { destination: { host: cache, subset: v1 }, weight: 30 }
    - { destination: { host: cache, subset: v2 }, weight: 30 }`))).toEqual([
      "f1.yaml:7:5: document 1 (MetaRouter cache-routes) spec.routes[0].route: weights sum to 60: make them sum to 100",
    ]);
  });

  test("a regex that RE2 does not accept is rejected", () => {
    const routes = `  - route: [{ destination: { host: cache } }]
    localRateLimit:
      conditions:
      - match: { attributes: { method: { regex: "(?=GET)" } } }
        tokenBucket: { maxTokens: 1, fillInterval: 1s }`;
    const [first] = messages(service("cache", 6380), router(routes));
    expect(first).toContain("spec.routes[0].localRateLimit.conditions[0].match.attributes.method.regex: not a valid RE2 regex");
  });

  test("a route without a match takes every connection: one after it is never chosen", () => {
    const routes = `  - route: [{ destination: { host: cache, subset: v1 } }]
  - match: { attributes: { method: { exact: READONLY } } }
    route: [{ destination: { host: cache, subset: v2 } }]`;
    expect(messages(service("cache", 6380), router(routes))).toEqual([
      expect.stringContaining("spec.routes[1]: never chosen: route 0 has no match and takes every connection; move the route without a match to the end"),
    ]);
  });

  test("a server-first protocol's connections cannot be routed by their first request", () => {
    const routes = `  - match: { attributes: { method: { prefix: "COM_QUERY" } } }
    route: [{ destination: { host: cache, subset: v2 } }]
  - route: [{ destination: { host: cache, subset: v1 } }]`;
    expect(messages(service("cache", 6380).replace("protocol: redis", "protocol: mysql"), router(routes))).toEqual([
      expect.stringContaining("spec.routes[0].match: cache speaks mysql, whose server speaks first"),
    ]);
  });

  test("what only router mode can honour is rejected and says so", () => {
    const routes = `  - route: [{ destination: { host: cache, subset: v1 } }]
    weightsPer: request
    mirror: { host: cache, subset: v2 }
    globalRateLimit: { domain: d, rateLimitService: rls }`;
    const found = messages(service("cache", 6380), router(routes));
    expect(found).toEqual([
      expect.stringContaining("spec.routes[0].weightsPer: per-request weights on one connection: only router mode can honour it"),
      expect.stringContaining("spec.routes[0].mirror: mirroring: only router mode can honour it"),
      expect.stringContaining("spec.routes[0].globalRateLimit: global rate limit: only router mode can honour it"),
    ]);
  });
});
