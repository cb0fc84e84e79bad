// Reads configuration files into a validated model. Every error names the file, the document
// (index in its file, kind, name), the field path with its line, and what to do about it.
import * as fs from "fs";
import * as path from "path";
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
  node: YAML.Document.Parsed;
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

// Parsing dominates a reload (about 0.5 s for 2,000 documents): a file whose text did not change since
// the last load is not parsed again. The parsed documents are only read afterwards.
type ParsedFile = YAML.Document.Parsed[] | YAML.EmptyStream;
const lastParse = new Map<string, { text: string; documents: ParsedFile }>();

function parseCached(file: string, text: string): ParsedFile {
  const cached = lastParse.get(file);
  if (cached?.text === text) return cached.documents;
  const documents: ParsedFile = YAML.parseAllDocuments(text, { prettyErrors: false });
  lastParse.set(file, { text, documents });
  return documents;
}

export function loadSources(sources: { file: string; text: string }[]): LoadResult {
  const errors: ConfigError[] = [];
  const services = new Map<string, Located<ServiceDocument>>();
  const routers = new Map<string, Located<MetaRouterDocument>>();
  const telemetry = new Map<string, Located<TelemetryDocument>>();
  const parsedByKey = new Map<string, ParsedDocument>();

  for (const { file, text } of sources) {
    // Positions are needed only for errors: computed then, not counted while parsing (a tenth of the parse).
    const position = (offset: number) => {
      const before = text.slice(0, offset);
      const line = before.split("\n").length;
      return { line, col: offset - before.lastIndexOf("\n") };
    };
    const documents = parseCached(file, text);
    if (!Array.isArray(documents)) continue; // an empty file
    documents.forEach((node, i) => {
      const parsed: ParsedDocument = { file, index: i + 1, node, position };
      if (node.errors.length) {
        for (const e of node.errors) {
          const at = position(e.pos[0]);
          errors.push({ file, document: parsed.index, path: [], line: at.line, column: at.col, message: `YAML syntax: ${e.message.split("\n")[0]}` });
        }
        return;
      }
      const value = node.toJS();
      if (value === null || value === undefined) return; // an empty document (e.g. after a trailing ---)
      parsed.kind = typeof value.kind === "string" ? value.kind : undefined;
      parsed.name = typeof value.metadata?.name === "string" ? value.metadata.name : undefined;
      const report = (fieldPath: FieldPath, message: string) => errors.push(locate(parsed, fieldPath, message));
      if (!parsed.kind || !(parsed.kind in KINDS)) {
        report(["kind"], `${parsed.kind ? `unknown kind "${parsed.kind}"` : "is required"}: use one of ${Object.keys(KINDS).join(", ")}`);
        return;
      }
      const result = KINDS[parsed.kind as Kind].safeParse(value);
      if (!result.success) {
        for (const issue of result.error.issues) report(issuePath(issue), issueMessage(issue));
        return;
      }
      const registry: Map<string, Located<unknown>> = parsed.kind === "Service" ? services : parsed.kind === "Telemetry" ? telemetry : routers;
      const earlier = registry.get(result.data.metadata.name);
      if (earlier) {
        report(["metadata", "name"], `another ${parsed.kind} has this name (${earlier.file} document ${earlier.document}): names must be unique per kind`);
        return;
      }
      registry.set(result.data.metadata.name, { file, document: parsed.index, value: result.data });
      parsedByKey.set(`${parsed.kind}/${result.data.metadata.name}`, parsed);
    });
  }

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
  const parent = fieldPath.length ? parsed.node.getIn(fieldPath.slice(0, -1), true) : undefined;
  let node: unknown = YAML.isMap(parent)
    ? parent.items.find((pair) => YAML.isScalar(pair.key) && pair.key.value === fieldPath[fieldPath.length - 1])?.key
    : undefined;
  for (let depth = fieldPath.length; depth >= 0 && !node; depth--) {
    node = depth === 0 ? parsed.node.contents : parsed.node.getIn(fieldPath.slice(0, depth), true);
  }
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  if (range) {
    const at = parsed.position(range[0]);
    error.line = at.line;
    error.column = at.col;
  }
  return error;
}
