// Envoy's API types, loaded with protobufjs from the FileDescriptorSet that `./build.sh setup` writes
// from the PyPI package xds-protos (control-plane/xds/descriptors.py). Field names are snake_case, as
// in Envoy's YAML; `google.protobuf.Any` values are written `{ "@type": "type.googleapis.com/...", ... }`.
import * as fs from "fs";
import * as path from "path";
import * as protobuf from "protobufjs";
import * as descriptorProtos from "protobufjs/ext/descriptor";

export const XDS_PROTOS_VERSION = "1.85.0";

export const TYPE_URL_PREFIX = "type.googleapis.com/";

/** The repository root: the nearest folder above this file with the project's package.json. */
export function repoRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    const manifest = path.join(dir, "package.json");
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, "utf8")).name === "metaproto") return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no metaproto package.json above ${from}`);
    dir = parent;
  }
}

export function descriptorFile(): string {
  return process.env.METAPROTO_XDS_DESCRIPTORS ??
    path.join(repoRoot(), "build", `xds-protos-${XDS_PROTOS_VERSION}`, "envoy-api.pb");
}

let loaded: protobuf.Root | undefined;

/** The Envoy API root (loaded once). */
export function envoyApi(): protobuf.Root {
  if (loaded) return loaded;
  const file = descriptorFile();
  if (!fs.existsSync(file)) {
    throw new Error(`Envoy API descriptors not found at ${file}: run ./build.sh setup (it installs xds-protos ` +
      `${XDS_PROTOS_VERSION} into .venv and writes them), or set METAPROTO_XDS_DESCRIPTORS`);
  }
  const bytes = fs.readFileSync(file);
  const root = (protobuf.Root as unknown as { fromDescriptor(d: Uint8Array): protobuf.Root }).fromDescriptor(bytes);
  restoreMapFields(root, mapEntryTypes(bytes));
  root.resolveAll();
  loaded = root;
  return root;
}

// Encoding walks every field of every resource: a type looked up by name, or asked for its full name
// (protobufjs builds that string anew from the parents on every read), once per reload and field would
// be a tenth of a large reload. Both are remembered: the descriptors do not change once loaded.
const typesByName = new Map<string, protobuf.Type>();
const fullNames = new WeakMap<protobuf.ReflectionObject, string>();

function fullNameOf(type: protobuf.ReflectionObject): string {
  let name = fullNames.get(type);
  if (name === undefined) fullNames.set(type, (name = type.fullName));
  return name;
}

/** The message type named by a full name ("envoy.config.listener.v3.Listener") or a type URL. */
export function messageType(nameOrUrl: string): protobuf.Type {
  let type = typesByName.get(nameOrUrl);
  if (!type) {
    const name = nameOrUrl.startsWith(TYPE_URL_PREFIX) ? nameOrUrl.slice(TYPE_URL_PREFIX.length) : nameOrUrl;
    typesByName.set(nameOrUrl, (type = envoyApi().lookupType(name)));
  }
  return type;
}

/** Encodes a plain object (snake_case fields, "@type" Anys) as the named message; unknown fields are errors. */
export function encodeMessage(typeName: string, value: object): Uint8Array {
  const type = messageType(typeName);
  const problem = verifyDeep(type, value, "");
  if (problem) throw new Error(`${type.fullName}: ${problem}`);
  return type.encode(type.fromObject(withStructs(type, value) as object)).finish();
}

// protobufjs reads a google.protobuf.Struct only in its message form ({ fields: { k: { string_value } } })
// and silently encodes a plain object as an empty Struct; Envoy's YAML form is the plain JSON object
// (endpoint metadata, for one). Plain objects under Struct fields are turned into the message form.
function withStructs(type: protobuf.Type, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  if (fullNameOf(type) === ".google.protobuf.Struct") return structMessage(value as Record<string, unknown>);
  const record = value as Record<string, unknown>;
  if (fullNameOf(type) === ".google.protobuf.Any") {
    if (typeof record["@type"] !== "string") return value;
    const inner = messageType(record["@type"]);
    if (fullNameOf(inner).startsWith(".google.protobuf.") && fullNameOf(inner) !== ".google.protobuf.Struct") return value;
    const { "@type": url, ...rest } = record;
    return { "@type": url, ...(withStructs(inner, rest) as object) };
  }
  const out: Record<string, unknown> = {};
  for (const [key, fieldValue] of Object.entries(record)) {
    const field = type.fields[key];
    field?.resolve();
    if (!field || !(field.resolvedType instanceof protobuf.Type) || fieldValue === null) {
      out[key] = fieldValue;
      continue;
    }
    const fieldType = field.resolvedType;
    if (field.repeated) out[key] = (fieldValue as unknown[]).map((item) => withStructs(fieldType, item));
    else if (field.map) out[key] = Object.fromEntries(Object.entries(fieldValue as object).map(([k, v]) => [k, withStructs(fieldType, v)]));
    else out[key] = withStructs(fieldType, fieldValue);
  }
  return out;
}

function structMessage(value: Record<string, unknown>): { fields: Record<string, unknown> } {
  return { fields: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, structValue(v)])) };
}

function structValue(value: unknown): Record<string, unknown> {
  if (value === null || value === undefined) return { null_value: "NULL_VALUE" };
  if (typeof value === "string") return { string_value: value };
  if (typeof value === "number") return { number_value: value };
  if (typeof value === "boolean") return { bool_value: value };
  if (Array.isArray(value)) return { list_value: { values: value.map(structValue) } };
  return { struct_value: structMessage(value as Record<string, unknown>) };
}

/** Decodes bytes of the named message into a plain object in the same form encodeMessage takes. */
export function decodeMessage(typeName: string, bytes: Uint8Array): Record<string, unknown> {
  const type = messageType(typeName);
  return type.toObject(type.decode(bytes), { enums: String, longs: Number, bytes: String, json: true, defaults: false }) as Record<string, unknown>;
}

/** An Any carrying value encoded as typeName (for xDS resources). */
export function packAny(typeName: string, value: object): { type_url: string; value: Uint8Array } {
  const type = messageType(typeName);
  // protobufjs full names start with "."; a type URL's name does not (Envoy rejects ".envoy...").
  const name = type.fullName.replace(/^\./, "");
  return { type_url: TYPE_URL_PREFIX + name, value: encodeMessage(name, value) };
}

// protobufjs' fromObject silently drops fields it does not know; a typo in generated config must fail
// here, not reach Envoy as a default.
function verifyDeep(type: protobuf.Type, value: unknown, at: string): string | null {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return `${at || "message"}: expected an object`;
  const record = value as Record<string, unknown>;
  if (fullNameOf(type) === ".google.protobuf.Any") {
    const url = record["@type"];
    if (typeof url !== "string") return `${at}: an Any needs "@type"`;
    const inner = messageType(url);
    const { "@type": _ignored, ...rest } = record;
    if (fullNameOf(inner).startsWith(".google.protobuf.") && "value" in rest && Object.keys(rest).length === 1) return null;
    return verifyDeep(inner, rest, at);
  }
  for (const [key, fieldValue] of Object.entries(record)) {
    const field = type.fields[key];
    if (!field) return `${at ? at + "." : ""}${key}: no such field in ${type.fullName.slice(1)}`;
    field.resolve();
    if (!(field.resolvedType instanceof protobuf.Type) || fieldValue === null) continue;
    const fieldType = field.resolvedType;
    if (fullNameOf(fieldType).startsWith(".google.protobuf.") && fullNameOf(fieldType) !== ".google.protobuf.Any") continue;
    const items = field.repeated ? (fieldValue as unknown[]) : field.map ? Object.values(fieldValue as object) : [fieldValue];
    for (let i = 0; i < items.length; i++) {
      const problem = verifyDeep(fieldType, items[i], `${at ? at + "." : ""}${key}${field.repeated ? `[${i}]` : ""}`);
      if (problem) return problem;
    }
  }
  return null;
}

type DescriptorMessage = { name: string; nestedType?: DescriptorMessage[]; options?: { mapEntry?: boolean } };

// protobufjs 7's Root.fromDescriptor loses `map_entry` (it marks the parent type), so map fields
// (e.g. DeltaDiscoveryRequest.initial_resource_versions) load as repeated entry messages and reject
// objects. The descriptor still says which nested types are map entries: turn their fields back into maps.
function mapEntryTypes(bytes: Uint8Array): Set<string> {
  const descriptorSet = (descriptorProtos as unknown as { FileDescriptorSet: protobuf.Type }).FileDescriptorSet;
  const set = descriptorSet.toObject(descriptorSet.decode(bytes)) as { file: { package?: string; messageType?: DescriptorMessage[] }[] };
  const entries = new Set<string>();
  const visit = (scope: string, message: DescriptorMessage) => {
    const name = `${scope}.${message.name}`;
    if (message.options?.mapEntry) entries.add(name);
    for (const nested of message.nestedType ?? []) visit(name, nested);
  };
  for (const file of set.file) for (const message of file.messageType ?? []) visit(file.package ? `.${file.package}` : "", message);
  return entries;
}

function restoreMapFields(namespace: protobuf.NamespaceBase, entries: Set<string>): void {
  for (const nested of namespace.nestedArray) {
    if (nested instanceof protobuf.Type) {
      for (const field of [...nested.fieldsArray]) {
        if (!field.repeated || !entries.has(field.type)) continue;
        const entry = nested.root.lookupType(field.type);
        nested.remove(field);
        nested.add(new protobuf.MapField(field.name, field.id, entry.fields.key.type, entry.fields.value.type));
      }
    }
    if (nested instanceof protobuf.Namespace) restoreMapFields(nested, entries);
  }
}
