// Reads configuration files into a validated model. Every error names the file, the document
// (index in its file, kind, name), the field path with its line, and what to do about it.
import * as fs from "fs";
import * as path from "path";
import * as jsYaml from "js-yaml";
import * as YAML from "yaml";
import type { z } from "zod";
import { crossCheck } from "./cross_check";
import { KINDS, Kind, MetaRouterDocument, ServiceDocument, TelemetryDocument } from "./schema";

export type FieldPath = (string | number)[];

export interface ConfigError {
  file: string;
  /** 1-based position of the document in its file; 0 when the error is about the file itself. */
  document: number;
  kind?: string;
  name?: string;
  path: FieldPath;
  line?: number;
  column?: number;
  message: string;
}

export interface Located<T> {
  file: string;
  document: number;
  value: T;
}

export interface Model {
  services: Map<string, Located<ServiceDocument>>;
  routers: Map<string, Located<MetaRouterDocument>>;
  /** At most one (cross_check): the telemetry receiver's options. */
  telemetry: Map<string, Located<TelemetryDocument>>;
}

export interface LoadResult {
  model?: Model;
  errors: ConfigError[];
}

export function formatPath(fieldPath: FieldPath): string {
  return fieldPath.reduce<string>((text, part) =>
    typeof part === "number" ? `${text}[${part}]` : text ? `${text}.${part}` : part, "");
}

export function formatError(error: ConfigError): string {
  const where = error.line ? `${error.file}:${error.line}:${error.column}` : error.file;
  const document = error.document ? ` document ${error.document}` + (error.kind ? ` (${error.kind}${error.name ? ` ${error.name}` : ""})` : "") : "";
  const field = error.path.length ? ` ${formatPath(error.path)}:` : "";
  return `${where}:${document}${field} ${error.message}`;
}

interface ParsedDocument {
  file: string;
  index: number;
  /** The document's syntax tree (for positions), made on first use. */
  node: () => YAML.Document.Parsed;
  /** Line and column (1-based) of an offset in the file. */
  position: (offset: number) => { line: number; col: number };
  kind?: string;
  name?: string;
}

/** Loads YAML files (or every .yaml/.yml file of a directory). */
export function loadFiles(paths: string[]): LoadResult {
  const sources: { file: string; text: string }[] = [];
  const errors: ConfigError[] = [];
  for (const given of paths) {
    let files = [given];
    try {
      if (fs.statSync(given).isDirectory()) {
        files = fs.readdirSync(given).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(given, f));
      }
      for (const file of files) sources.push({ file, text: fs.readFileSync(file, "utf8") });
    } catch (err) {
      errors.push({ file: given, document: 0, path: [], message: `cannot read it (${(err as Error).message}): check the path` });
    }
  }
  if (errors.length) return { errors };
  return loadSources(sources);
}

// Parsing dominates a reload, and a change usually touches one document of many: each document's
// text is parsed and checked against the schema once, and reused while it stays the same. A line that
// starts with `---` (or `...`) is always a document boundary in YAML, even inside a block scalar, so
// splitting on those lines is exact; files with directives (`%YAML`) or `...` markers are parsed whole.
//
// A document is read by js-yaml (ten times faster than the `yaml` package: 1,000 changed documents in
// 40 ms instead of 400) with a schema that resolves plain scalars as `yaml`'s YAML 1.2 core schema does;
// `yaml` builds the syntax tree only where one is needed: a document js-yaml refuses (`yaml` has the
// last word and names the line of each error) and the positions of schema and cross-check errors.
interface CheckedDocument {
  /** The document's text (node ranges are relative to it) and its `yaml` syntax tree, once made. */
  text: string;
  node?: YAML.Document.Parsed;
  /** False for a text of comments only: no document, not counted. */
  holds: boolean;
  /** The document as plain data (undefined when it has syntax errors), and what the schema made of it. */
  value?: unknown;
  checked?: ReturnType<(typeof KINDS)[Kind]["safeParse"]>;
}
let documentCache = new Map<string, CheckedDocument>();
let nextDocumentCache = new Map<string, CheckedDocument>();

const scalarType = (tag: string, test: RegExp, construct: (text: string) => unknown) =>
  new jsYaml.Type(`tag:yaml.org,2002:${tag}`, { kind: "scalar", resolve: (text: string) => test.test(text), construct });

/** Plain scalars as the `yaml` package's YAML 1.2 core schema reads them (its yaml/dist/schema/core tests), nothing else implicit. */
export const CORE_SCHEMA = jsYaml.FAILSAFE_SCHEMA.extend({
  implicit: [
    scalarType("null", /^(?:~|[Nn]ull|NULL)?$/, () => null),
    scalarType("bool", /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/, (text) => text[0] === "t" || text[0] === "T"),
    scalarType("int", /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/,
      (text) => (text[1] === "o" ? parseInt(text.slice(2), 8) : text[1] === "x" ? parseInt(text.slice(2), 16) : parseInt(text, 10))),
    scalarType("float", /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+|[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*))$/,
      (text) => (/nan$/i.test(text) ? NaN : /inf$/i.test(text) ? (text[0] === "-" ? -Infinity : Infinity) : parseFloat(text))),
  ],
});

const COMMENTS_ONLY = /^(\s*(#.*)?\n)*\s*(#.*)?$/;

function fromTree(node: YAML.Document.Parsed, text = ""): CheckedDocument {
  return { text, node, holds: node.errors.length > 0 || node.contents !== null || Boolean(node.directives.docStart),
    value: node.errors.length ? undefined : node.toJS() };
}

function parseDocument(text: string): CheckedDocument {
  try {
    return { text, holds: /^---(\s|$)/m.test(text) || !COMMENTS_ONLY.test(text), value: jsYaml.load(text, { schema: CORE_SCHEMA }) ?? null };
  } catch {
    return fromTree(YAML.parseDocument(text, { prettyErrors: false }) as YAML.Document.Parsed, text);
  }
}

const treeOf = (document: CheckedDocument) => (document.node ??= YAML.parseDocument(document.text, { prettyErrors: false }) as YAML.Document.Parsed);

/** A file's documents: each with its text's offset in the file (node ranges are relative to it). */
function splitDocuments(text: string): { offset: number; text: string }[] | null {
  if (/^(%|\.\.\.(\s|$))/m.test(text)) return null;
  const starts = [0];
  const marker = /^---(\s|$)/gm;
  for (let match = marker.exec(text); match; match = marker.exec(text)) if (match.index > 0) starts.push(match.index);
  const chunks = starts.map((offset, i) => ({ offset, text: text.slice(offset, starts[i + 1] ?? text.length) }));
  // What comes before the first marker is a document only if it holds more than comments.
  if (chunks.length > 1 && COMMENTS_ONLY.test(chunks[0].text)) {
    chunks[1] = { offset: 0, text: chunks[0].text + chunks[1].text };
    chunks.shift();
  }
  return chunks;
}

function parsedDocuments(text: string): { offset: number; document: CheckedDocument }[] {
  const chunks = splitDocuments(text);
  if (!chunks) {
    return (YAML.parseAllDocuments(text, { prettyErrors: false }) as YAML.Document.Parsed[]).map((node) => ({ offset: 0, document: fromTree(node) }));
  }
  return chunks.map(({ offset, text: chunk }) => {
    let document = documentCache.get(chunk) ?? nextDocumentCache.get(chunk);
    if (!document) document = parseDocument(chunk);
    nextDocumentCache.set(chunk, document);
    return { offset, document };
  });
}

export function loadSources(sources: { file: string; text: string }[]): LoadResult {
  const errors: ConfigError[] = [];
  const services = new Map<string, Located<ServiceDocument>>();
  const routers = new Map<string, Located<MetaRouterDocument>>();
  const telemetry = new Map<string, Located<TelemetryDocument>>();
  const parsedByKey = new Map<string, ParsedDocument>();

  nextDocumentCache = new Map();
  for (const { file, text } of sources) {
    // Positions are needed only for errors: computed then, not counted while parsing (a tenth of the parse).
    const filePosition = (offset: number) => {
      const before = text.slice(0, offset);
      const line = before.split("\n").length;
      return { line, col: offset - before.lastIndexOf("\n") };
    };
    let index = 0;
    for (const { offset, document } of parsedDocuments(text)) {
      const position = (at: number) => filePosition(offset + at);
      // A text holding no document (only comments) is not counted, as YAML.parseAllDocuments does not.
      if (!document.holds) continue;
      const parsed: ParsedDocument = { file, index: ++index, node: () => treeOf(document), position };
      const syntaxErrors = document.node?.errors ?? [];
      if (syntaxErrors.length) {
        for (const e of syntaxErrors) {
          const at = position(e.pos[0]);
          errors.push({ file, document: parsed.index, path: [], line: at.line, column: at.col, message: `YAML syntax: ${e.message.split("\n")[0]}` });
        }
        continue;
      }
      const value = document.value as { kind?: unknown; metadata?: { name?: unknown } } | null | undefined;
      if (value === null || value === undefined) continue; // an empty document (e.g. after a trailing ---)
      parsed.kind = typeof value.kind === "string" ? value.kind : undefined;
      parsed.name = typeof value.metadata?.name === "string" ? value.metadata.name : undefined;
      const report = (fieldPath: FieldPath, message: string) => errors.push(locate(parsed, fieldPath, message));
      if (!parsed.kind || !(parsed.kind in KINDS)) {
        report(["kind"], `${parsed.kind ? `unknown kind "${parsed.kind}"` : "is required"}: use one of ${Object.keys(KINDS).join(", ")}`);
        continue;
      }
      const result = document.checked ?? KINDS[parsed.kind as Kind].safeParse(value);
      document.checked = result;
      if (!result.success) {
        for (const issue of result.error.issues) report(issuePath(issue), issueMessage(issue));
        continue;
      }
      const registry: Map<string, Located<unknown>> = parsed.kind === "Service" ? services : parsed.kind === "Telemetry" ? telemetry : routers;
      const earlier = registry.get(result.data.metadata.name);
      if (earlier) {
        report(["metadata", "name"], `another ${parsed.kind} has this name (${earlier.file} document ${earlier.document}): names must be unique per kind`);
        continue;
      }
      registry.set(result.data.metadata.name, { file, document: parsed.index, value: result.data });
      parsedByKey.set(`${parsed.kind}/${result.data.metadata.name}`, parsed);
    }
  }
  // Only the documents of this load are kept for the next: the cache holds one configuration.
  documentCache = nextDocumentCache;

  const model: Model = { services: services as Model["services"], routers: routers as Model["routers"], telemetry };
  for (const [fieldPath, message, kind, name] of crossCheck(model)) {
    errors.push(locate(parsedByKey.get(`${kind}/${name}`)!, fieldPath, message));
  }
  return errors.length ? { errors } : { model, errors };
}

function issuePath(issue: z.core.$ZodIssue): FieldPath {
  const base = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  return issue.code === "unrecognized_keys" ? [...base, issue.keys[0]] : base;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return `unknown field${issue.keys.length > 1 ? `s ${issue.keys.join(", ")}` : ""}: remove it or check its spelling`;
  }
  if (issue.code === "invalid_type" && issue.message.endsWith("received undefined")) return `is required (${issue.expected})`;
  return issue.message;
}

function locate(parsed: ParsedDocument, fieldPath: FieldPath, message: string): ConfigError {
  const error: ConfigError = { file: parsed.file, document: parsed.index, kind: parsed.kind, name: parsed.name, path: fieldPath, message };
  // A field is pointed at by its key (its value may be far away, or the field may be the problem).
  const tree = parsed.node();
  const parent = fieldPath.length ? tree.getIn(fieldPath.slice(0, -1), true) : undefined;
  let node: unknown = YAML.isMap(parent)
    ? parent.items.find((pair) => YAML.isScalar(pair.key) && pair.key.value === fieldPath[fieldPath.length - 1])?.key
    : undefined;
  for (let depth = fieldPath.length; depth >= 0 && !node; depth--) {
    node = depth === 0 ? tree.contents : tree.getIn(fieldPath.slice(0, depth), true);
  }
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  if (range) {
    const at = parsed.position(range[0]);
    error.line = at.line;
    error.column = at.col;
  }
  return error;
}
