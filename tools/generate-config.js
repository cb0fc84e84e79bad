#!/usr/bin/env node
'use strict';
// Generates, from the configuration messages in api/proto (the one definition of every field),
// the two readers of the JSON the filters are configured with:
//   control-plane/model/filter_config.generated.ts       zod schemas + types (the control plane)
//   filters/metaprotocol/config_spec.generated.ts        AssemblyScript classes + readers (the filters)
// Both refuse the same documents with the same field paths; control-plane/model/codec_options.test.ts
// proves it case by case through the compiled filter. ./build.sh and jest's global setup run this;
// it rewrites a file only when its text changes.
const fs = require('fs');
const path = require('path');
const protobuf = require('protobufjs');

const REPO = path.resolve(__dirname, '..');
const PROTO_ROOT = 'api/proto';
const SOURCES = ['metaproto/filter/v1alpha1/filter_config.proto', 'metaproto/filter/v1alpha1/bridge_config.proto'];
const TS_OUT = 'control-plane/model/filter_config.generated.ts';
const AS_OUT = 'filters/metaprotocol/config_spec.generated.ts';
const PACKAGE = 'metaproto.filter.v1alpha1';

const NUMBER_TYPES = {
  uint32: { as: 'u32', min: 0, max: 4294967295, whole: true },
  uint64: { as: 'u64', min: 0, max: Number.MAX_SAFE_INTEGER, whole: true },
  int32: { as: 'i32', min: -2147483648, max: 2147483647, whole: true },
  int64: { as: 'i64', min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, whole: true },
  double: { as: 'f64', min: -Number.MAX_VALUE, max: Number.MAX_VALUE, whole: false },
};

/** The options of a field, message or oneof as one object ({"(validate.rules)": {...}, ...}). */
function optionsOf(element) {
  return Object.assign({}, ...(element.parsedOptions ?? []));
}

function refuse(where, what) {
  throw new Error(`${where}: ${what} (tools/generate-config.js knows: (validate.rules) numbers gte/lte, string in/min_len/max_len/pattern, bool const, repeated unique/items, oneof (validate.required), (google.api.field_behavior) REQUIRED, (metaproto.api.field), (metaproto.api.message))`);
}

function onlyKeys(where, object, known) {
  for (const key of Object.keys(object ?? {})) if (!known.includes(key)) refuse(where, `unsupported rule ${key}`);
}

/** One field as both generators need it. */
function fieldModel(message, field) {
  const where = `${message.fullName}.${field.name}`;
  const options = optionsOf(field);
  onlyKeys(where, options, ['(validate.rules)', '(google.api.field_behavior)', '(metaproto.api.field)']);
  const rules = options['(validate.rules)'] ?? {};
  const extra = options['(metaproto.api.field)'] ?? {};
  onlyKeys(`${where} (metaproto.api.field)`, extra, ['inline', 'default_number', 'default_bool', 'not_above', 'pattern_hint']);
  const behavior = options['(google.api.field_behavior)'];
  if (behavior !== undefined && behavior !== 'REQUIRED') refuse(where, `field_behavior ${behavior}`);
  const model = {
    name: field.name,
    repeated: field.repeated,
    required: behavior === 'REQUIRED',
    oneof: field.partOf ? field.partOf.name : undefined,
    inline: extra.inline === true,
    notAbove: extra.not_above,
    patternHint: extra.pattern_hint,
    default: extra.default_number ?? extra.default_bool,
  };
  let scalarRules = rules;
  if (field.map) {
    if (field.keyType !== 'string' || field.type !== 'string') refuse(where, 'only map<string, string> is supported');
    onlyKeys(where, rules, []);
    return { ...model, kind: 'map' };
  }
  if (field.repeated) {
    onlyKeys(where, rules, ['repeated']);
    onlyKeys(`${where} repeated`, rules.repeated, ['unique', 'items']);
    model.unique = rules.repeated?.unique === true;
    scalarRules = rules.repeated?.items ?? {};
  }
  if (field.type in NUMBER_TYPES) {
    onlyKeys(where, scalarRules, [field.type]);
    onlyKeys(`${where} ${field.type}`, scalarRules[field.type], ['gte', 'lte']);
    const type = NUMBER_TYPES[field.type];
    return { ...model, kind: 'number', asType: type.as, whole: type.whole,
      min: scalarRules[field.type]?.gte ?? type.min, max: scalarRules[field.type]?.lte ?? type.max };
  }
  if (field.type === 'string') {
    onlyKeys(where, scalarRules, ['string']);
    const s = scalarRules.string ?? {};
    onlyKeys(`${where} string`, s, ['in', 'min_len', 'max_len', 'pattern']);
    if (s.pattern !== undefined && model.patternHint === undefined) refuse(where, 'a pattern needs (metaproto.api.field).pattern_hint: the error says what the value must look like');
    return { ...model, kind: 'string', in: s.in === undefined ? undefined : [].concat(s.in), minLen: s.min_len, maxLen: s.max_len, pattern: s.pattern };
  }
  if (field.type === 'bool') {
    onlyKeys(where, scalarRules, ['bool']);
    onlyKeys(`${where} bool`, scalarRules.bool, ['const']);
    return { ...model, kind: 'bool', mustBeTrue: scalarRules.bool?.const === true };
  }
  const type = message.lookupType(field.type);
  if (!type) refuse(where, `unknown type ${field.type}`);
  onlyKeys(where, rules, field.repeated ? ['repeated'] : []);
  return { ...model, kind: 'message', message: type.name };
}

function messageModel(message) {
  const options = optionsOf(message);
  onlyKeys(message.fullName, options, ['(metaproto.api.message)']);
  const rules = options['(metaproto.api.message)'] ?? {};
  onlyKeys(`${message.fullName} (metaproto.api.message)`, rules, ['at_least_one_of']);
  const fields = message.fieldsArray.map((field) => fieldModel(message, field));
  const oneofs = message.oneofsArray.map((oneof) => {
    const oneofOptions = optionsOf(oneof);
    onlyKeys(`${message.fullName}.${oneof.name}`, oneofOptions, ['(validate.required)']);
    return { name: oneof.name, fields: oneof.fieldsArray.map((f) => f.name), required: oneofOptions['(validate.required)'] === true };
  });
  const atLeastOneOf = rules.at_least_one_of === undefined ? [] : [].concat(rules.at_least_one_of);
  for (const name of atLeastOneOf) if (!fields.some((f) => f.name === name)) refuse(message.fullName, `at_least_one_of names no field ${name}`);
  for (const f of fields) {
    if (f.notAbove !== undefined && !fields.some((g) => g.name === f.notAbove && g.kind === 'number')) refuse(`${message.fullName}.${f.name}`, `not_above names no number field ${f.notAbove}`);
    if (f.inline && (f.kind !== 'message' || f.repeated)) refuse(`${message.fullName}.${f.name}`, 'only a singular message field can be inline');
  }
  return { name: message.name, fields, oneofs, atLeastOneOf };
}

/** The messages of the configuration protos, each after the ones it uses. */
function loadModel(repo = REPO) {
  const root = new protobuf.Root();
  for (const source of SOURCES) protobuf.parse(fs.readFileSync(path.join(repo, PROTO_ROOT, source), 'utf8'), root, { keepCase: true });
  const ns = root.lookup(PACKAGE);
  const byName = new Map(ns.nestedArray.filter((n) => n instanceof protobuf.Type).map((t) => [t.name, messageModel(t)]));
  const ordered = [];
  const visit = (name, trail) => {
    if (ordered.some((m) => m.name === name)) return;
    if (trail.includes(name)) throw new Error(`${PACKAGE}: messages refer to each other in a cycle: ${[...trail, name].join(' -> ')}`);
    const message = byName.get(name);
    for (const f of message.fields) if (f.kind === 'message') visit(f.message, [...trail, name]);
    ordered.push(message);
  };
  for (const name of byName.keys()) visit(name, []);
  return { messages: ordered, byName };
}

/** The JSON keys of a message: its own fields and those of its inline fields. */
function jsonKeys(model, message) {
  return message.fields.flatMap((f) => (f.inline ? jsonKeys(model, model.byName.get(f.message)) : [f.name]));
}

const HEADER = (comment) => `${comment} Generated by tools/generate-config.js from ${SOURCES.map((s) => `${PROTO_ROOT}/${s}`).join(', ')}:
${comment} edit those, not this file.
`;

// ---- TypeScript (zod) ----

function zodField(f) {
  const required = f.required;
  let expr;
  switch (f.kind) {
    case 'number': expr = `spec.number(${f.min}, ${f.max}, ${f.whole}, ${required})`; break;
    case 'string':
      expr = f.in ? `spec.oneOfStrings(${JSON.stringify(f.in)}, ${required})`
        : `spec.string({ required: ${required}${f.minLen !== undefined ? `, minLength: ${f.minLen}` : ''}${f.maxLen !== undefined ? `, maxLength: ${f.maxLen}` : ''}${f.pattern !== undefined ? `, pattern: ${JSON.stringify(f.pattern)}, hint: ${JSON.stringify(f.patternHint)}` : ''} })`;
      break;
    case 'bool': expr = `spec.bool(${f.mustBeTrue}, ${required})`; break;
    case 'map': expr = 'spec.stringMap()'; break;
    case 'message': expr = f.message; break;
  }
  if (f.repeated) expr = `spec.list(${expr}, ${f.unique === true})`;
  return required ? expr : `${expr}.optional()`;
}

function zodChecks(message) {
  const checks = [];
  for (const f of message.fields) {
    if (f.inline) checks.push(`...${f.message}Checks`);
    if (f.notAbove !== undefined) {
      const other = message.fields.find((g) => g.name === f.notAbove);
      checks.push(`spec.notAbove(${JSON.stringify(f.name)}, ${JSON.stringify(f.notAbove)}, ${other.default ?? 'undefined'})`);
    }
  }
  for (const o of message.oneofs) checks.push(`spec.exactlyOneOf(${JSON.stringify(o.fields)}, ${o.required})`);
  if (message.atLeastOneOf.length) {
    const fields = message.atLeastOneOf.map((name) => {
      const f = message.fields.find((g) => g.name === name);
      return [name, f.repeated || f.kind === 'map'];
    });
    checks.push(`spec.atLeastOneOf(${JSON.stringify(fields)})`);
  }
  return checks;
}

function generateTypeScript(model) {
  const out = [HEADER('//'), 'import { z } from "zod";', 'import * as spec from "./spec_rules";', ''];
  for (const m of model.messages) {
    const shape = m.fields.map((f) => (f.inline ? `  ...${f.message}Shape,` : `  ${f.name}: ${zodField(f)},`));
    out.push(`const ${m.name}Shape = {`, ...shape, '};');
    out.push(`const ${m.name}Checks: spec.Check[] = [${zodChecks(m).join(', ')}];`);
    out.push(`export const ${m.name} = spec.section(${m.name}Shape, ${m.name}Checks);`);
    out.push(`export type ${m.name} = z.infer<typeof ${m.name}>;`, '');
  }
  return out.join('\n');
}

// ---- AssemblyScript ----

const asClass = (name) => `${name}Spec`;
// Field names AssemblyScript cannot take as property names: the class gets `<name>_` (the JSON key stays).
const AS_RESERVED = new Set(['set', 'get', 'delete', 'default', 'function', 'class', 'new', 'this', 'type', 'in', 'is', 'of']);
const asField = (name) => (AS_RESERVED.has(name) ? `${name}_` : name);
const constName = (message, field, what) => `${message}_${field}_${what}`.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

function asType(f) {
  const item = f.kind === 'number' ? f.asType : f.kind === 'string' ? 'string' : f.kind === 'bool' ? 'bool' : f.kind === 'map' ? 'Array<Entry>' : asClass(f.message);
  if (f.repeated) return `Array<${item}>`;
  return f.kind === 'message' && !f.inline ? `${item} | null` : item;
}

function asInitial(f) {
  if (f.repeated || f.kind === 'map') return '[]';
  if (f.kind === 'message') return f.inline ? `new ${asClass(f.message)}()` : 'null';
  if (f.kind === 'string') return '""';
  if (f.kind === 'bool') return f.default === true ? 'true' : 'false';
  return String(f.default ?? 0);
}

/** Statements reading one JSON value `value` at path `at` into expression `into` (assign or push). */
function asReadValue(m, f, value, at, store) {
  switch (f.kind) {
    case 'number': return [store(`<${f.asType}>r.number(${value}, ${at}, ${f.min}, ${f.max}, ${f.whole})`)];
    case 'bool': return [store(`r.bool(${value}, ${at}, ${f.mustBeTrue})`)];
    case 'message': return [store(`read${asClass(f.message)}(r, ${value}, ${at})`)];
    case 'map': return [store(`r.stringMap(${value}, ${at})`)];
    case 'string': {
      const lines = [];
      const read = f.in ? `r.string(${value}, ${at}, ${constName(m.name, f.name, 'values')})` : `r.string(${value}, ${at})`;
      if (f.minLen === undefined && f.maxLen === undefined && f.pattern === undefined) return [store(read)];
      lines.push(`const text = ${read};`);
      if (f.minLen !== undefined || f.maxLen !== undefined) lines.push(`r.length(text, ${at}, ${f.minLen ?? 0}, ${f.maxLen ?? 0x7fffffff});`);
      if (f.pattern !== undefined) lines.push(`r.pattern(text, ${at}, ${JSON.stringify(f.pattern)}, ${JSON.stringify(f.patternHint)});`);
      lines.push(store('text'));
      return lines;
    }
  }
}

function asFill(m) {
  const lines = [`function fill${asClass(m.name)}(r: ConfigReader, obj: JsonValue, path: string, spec: ${asClass(m.name)}): void {`, '  let v: JsonValue | null = null;'];
  for (const f of m.fields) {
    if (f.inline) {
      lines.push(`  fill${asClass(f.message)}(r, obj, path, spec.${asField(f.name)});`);
      continue;
    }
    const at = `r.at(path, ${JSON.stringify(f.name)})`;
    lines.push(`  v = obj.get(${JSON.stringify(f.name)});`);
    const body = [];
    if (f.repeated) {
      body.push(`const items = r.array(v, ${at});`);
      body.push(`for (let i = 0; i < items.length; i++) {`);
      body.push(...asReadValue(m, f, 'items[i]', `r.item(path, ${JSON.stringify(f.name)}, i)`, (e) => `spec.${asField(f.name)}.push(${e});`).map((l) => `  ${l}`));
      body.push('}');
      if (f.unique) body.push(`r.unique(spec.${asField(f.name)}, ${at});`);
    } else {
      body.push(...asReadValue(m, f, 'v', at, (e) => `spec.${asField(f.name)} = ${e};`));
      if (f.kind !== 'message' && f.kind !== 'map') body.push(`spec.has_${f.name} = true;`);
    }
    lines.push(`  if (v != null) {`, ...body.map((l) => `    ${l}`), f.required ? `  } else r.fail(${at}, "is required");` : '  }');
  }
  for (const f of m.fields) {
    if (f.notAbove === undefined) continue;
    lines.push(`  if (spec.has_${f.name} && spec.${asField(f.name)} > spec.${asField(f.notAbove)}) r.fail(r.at(path, ${JSON.stringify(f.name)}), "must not exceed ${f.notAbove}");`);
  }
  for (const o of m.oneofs) lines.push(`  r.exactlyOneOf(obj, path, ${constName(m.name, o.name, 'fields')}, ${o.required});`);
  if (m.atLeastOneOf.length) {
    const given = m.atLeastOneOf.map((name) => {
      const f = m.fields.find((g) => g.name === name);
      return f.repeated || f.kind === 'map' ? `spec.${asField(name)}.length > 0` : f.kind === 'message' ? `spec.${asField(name)} != null` : `spec.has_${name}`;
    });
    lines.push(`  if (!(${given.join(' || ')})) r.fail(path, "needs at least one of ${m.atLeastOneOf.join(', ')}");`);
  }
  lines.push('}');
  return lines;
}

function generateAssemblyScript(model) {
  const out = [HEADER('//'), 'import { JsonValue } from "./runtime/json";', 'import { ConfigReader, Entry } from "./runtime/config_reader";', ''];
  for (const m of model.messages) {
    out.push(`export const ${constName(m.name, 'json', 'keys')}: Array<string> = ${JSON.stringify(jsonKeys(model, m))};`);
    for (const f of m.fields) if (f.in) out.push(`export const ${constName(m.name, f.name, 'values')}: Array<string> = ${JSON.stringify(f.in)};`);
    for (const o of m.oneofs) out.push(`const ${constName(m.name, o.name, 'fields')}: Array<string> = ${JSON.stringify(o.fields)};`);
    out.push('', `export class ${asClass(m.name)} {`);
    for (const f of m.fields) {
      out.push(`  ${asField(f.name)}: ${asType(f)} = ${asInitial(f)};`);
      if (!f.repeated && f.kind !== 'message' && f.kind !== 'map') out.push(`  has_${f.name}: bool = false;`);
    }
    for (const o of m.oneofs) out.push(`  /** Which of ${o.fields.join(', ')} was given ("" when none). */`, `  get ${o.name}(): string {`,
      ...o.fields.map((name) => `    if (this.has_${name}) return ${JSON.stringify(name)};`), '    return "";', '  }');
    out.push('}', '');
    out.push(`/** One ${m.name} at \`path\` (\`value\` must be an object with only its fields); errors go to \`r\`. */`);
    out.push(`export function read${asClass(m.name)}(r: ConfigReader, value: JsonValue, path: string): ${asClass(m.name)} {`);
    out.push(`  const spec = new ${asClass(m.name)}();`);
    out.push(`  if (r.object(value, path, ${constName(m.name, 'json', 'keys')}) != null) fill${asClass(m.name)}(r, value, path, spec);`);
    out.push('  return spec;', '}', '');
    out.push(...asFill(m), '');
  }
  return out.join('\n');
}

function writeIfChanged(file, text) {
  const full = path.join(REPO, file);
  if (fs.existsSync(full) && fs.readFileSync(full, 'utf8') === text) return false;
  fs.writeFileSync(full, text);
  return true;
}

/** Writes both readers; returns the files it changed. */
function generate() {
  const model = loadModel();
  const changed = [];
  if (writeIfChanged(TS_OUT, generateTypeScript(model))) changed.push(TS_OUT);
  if (writeIfChanged(AS_OUT, generateAssemblyScript(model))) changed.push(AS_OUT);
  return changed;
}

module.exports = { generate, loadModel, generateTypeScript, generateAssemblyScript, PROTO_ROOT, SOURCES, TS_OUT, AS_OUT };

if (require.main === module) {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`Usage: node tools/generate-config.js\n\nWrites ${TS_OUT} and ${AS_OUT} from ${PROTO_ROOT}/${SOURCES.join(', ')}.\n./build.sh build and jest run it; run it by hand after editing a .proto to see the result.\n`);
    process.exit(0);
  }
  try {
    const changed = generate();
    process.stdout.write(changed.length ? `generate-config: wrote ${changed.join(', ')}\n` : 'generate-config: up to date\n');
  } catch (err) {
    process.stderr.write(`generate-config: ${err.message}\n`);
    process.exit(1);
  }
}
