// Reads configuration files into a validated model. Every error names the file, the document
// (index in its file, kind, name), the field path with its line, and what to do about it.
import * as fs from "fs";
import * as path from "path";
import { RE2JS } from "re2js";
import * as YAML from "yaml";
import type { z } from "zod";
import { KINDS, Kind, MetaRouterDocument, ServiceDocument } from "./schema";

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
  lines: YAML.LineCounter;
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

export function loadSources(sources: { file: string; text: string }[]): LoadResult {
  const errors: ConfigError[] = [];
  const services = new Map<string, Located<ServiceDocument>>();
  const routers = new Map<string, Located<MetaRouterDocument>>();
  const parsedByKey = new Map<string, ParsedDocument>();

  for (const { file, text } of sources) {
    const lines = new YAML.LineCounter();
    const documents = YAML.parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
    if (!Array.isArray(documents)) continue; // an empty file
    documents.forEach((node, i) => {
      const parsed: ParsedDocument = { file, index: i + 1, node, lines };
      if (node.errors.length) {
        for (const e of node.errors) {
          const at = lines.linePos(e.pos[0]);
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
      const registry: Map<string, Located<unknown>> = parsed.kind === "Service" ? services : routers;
      const earlier = registry.get(result.data.metadata.name);
      if (earlier) {
        report(["metadata", "name"], `another ${parsed.kind} has this name (${earlier.file} document ${earlier.document}): names must be unique per kind`);
        return;
      }
      registry.set(result.data.metadata.name, { file, document: parsed.index, value: result.data });
      parsedByKey.set(`${parsed.kind}/${result.data.metadata.name}`, parsed);
    });
  }

  const model: Model = { services: services as Model["services"], routers: routers as Model["routers"] };
  for (const [fieldPath, message, kind, name] of crossCheck(model)) {
    errors.push(locate(parsedByKey.get(`${kind}/${name}`)!, fieldPath, message));
  }
  return errors.length ? { errors } : { model, errors };
}

type Finding = [FieldPath, string, Kind, string];

function crossCheck(model: Model): Finding[] {
  const findings: Finding[] = [];
  const listeners = new Map<string, string>();
  for (const [name, { value }] of model.services) {
    const { spec } = value;
    const clash = [...listeners].find(([key]) => {
      const [address, port] = key.split("|");
      return Number(port) === spec.port && (address === spec.address || address === "0.0.0.0" || spec.address === "0.0.0.0" || address === "::" || spec.address === "::");
    });
    if (clash) findings.push([["spec", "port"], `port ${spec.port} is already the listener of Service ${clash[1]}: give each Service its own port`, "Service", name]);
    listeners.set(`${spec.address}|${spec.port}`, name);
    const subsetNames = new Set<string>();
    spec.subsets.forEach((subset, i) => {
      if (subsetNames.has(subset.name)) findings.push([["spec", "subsets", i, "name"], `subset "${subset.name}" is defined twice: rename one`, "Service", name]);
      subsetNames.add(subset.name);
    });
  }

  const routedHosts = new Map<string, string>();
  for (const [name, { value }] of model.routers) {
    const at = (fieldPath: FieldPath, message: string) => findings.push([["spec", ...fieldPath], message, "MetaRouter", name]);
    value.spec.hosts.forEach((host, i) => {
      const service = model.services.get(host);
      if (!service) at(["hosts", i], `no Service named "${host}": define it or fix the name (Services: ${[...model.services.keys()].join(", ") || "none"})`);
      else if (routedHosts.has(host)) at(["hosts", i], `MetaRouter ${routedHosts.get(host)} already routes "${host}": put its routes in one MetaRouter`);
      routedHosts.set(host, name);
    });
    value.spec.routes.forEach((route, r) => {
      const routeAt = (fieldPath: FieldPath, message: string) => at(["routes", r, ...fieldPath], message);
      const checkMatches = (attributes: Record<string, { exact?: string; prefix?: string; regex?: string }> | undefined, base: FieldPath) => {
        for (const [attribute, match] of Object.entries(attributes ?? {})) {
          if (match.regex === undefined) continue;
          try { RE2JS.compile(match.regex); } catch (err) {
            routeAt([...base, attribute, "regex"], `not a valid RE2 regex (${(err as Error).message}): Envoy uses RE2 syntax (no lookaround or backreferences)`);
          }
        }
      };
      checkMatches(route.match?.attributes, ["match", "attributes"]);
      route.localRateLimit?.conditions?.forEach((condition, c) => checkMatches(condition.match.attributes, ["localRateLimit", "conditions", c, "match", "attributes"]));
      checkMatches(route.globalRateLimit?.match?.attributes, ["globalRateLimit", "match", "attributes"]);

      const hostProtocols = new Set(value.spec.hosts.map((h) => model.services.get(h)?.value.spec.protocol).filter(Boolean));
      route.route.forEach(({ destination }, d) => {
        const service = model.services.get(destination.host);
        if (!service) {
          routeAt(["route", d, "destination", "host"], `no Service named "${destination.host}": define it or fix the name`);
          return;
        }
        if (hostProtocols.size && !hostProtocols.has(service.value.spec.protocol)) {
          routeAt(["route", d, "destination", "host"], `Service "${destination.host}" speaks ${service.value.spec.protocol}, not ${[...hostProtocols].join("/")}: route to a Service of the same protocol`);
        }
        const subsets = service.value.spec.subsets;
        const subset = destination.subset === undefined ? undefined : subsets.find((s) => s.name === destination.subset);
        if (destination.subset !== undefined && !subset) {
          routeAt(["route", d, "destination", "subset"], `Service "${destination.host}" has no subset "${destination.subset}" (it has: ${subsets.map((s) => s.name).join(", ")})`);
          return;
        }
        const endpoints = (subset ? [subset] : subsets).flatMap((s) => s.endpoints);
        if (destination.port !== undefined && !endpoints.some((e) => e.port === destination.port)) {
          routeAt(["route", d, "destination", "port"], `no endpoint of ${destination.host}${subset ? `/${subset.name}` : ""} listens on port ${destination.port}: use one of ${[...new Set(endpoints.map((e) => e.port))].join(", ")} or leave port out`);
        }
      });
      if (route.route.length > 1) {
        const missing = route.route.findIndex((d) => d.weight === undefined);
        const total = route.route.reduce((sum, d) => sum + (d.weight ?? 0), 0);
        if (missing >= 0) routeAt(["route", missing, "weight"], "is required when a route has several destinations: give each a weight, summing to 100");
        else if (total !== 100) routeAt(["route"], `weights sum to ${total}: make them sum to 100`);
      }
      if (route.route.length === 1 && route.route[0].weight === 0) routeAt(["route", 0, "weight"], "the only destination has weight 0: give it 100 or add another destination");

      const routerOnly = "only router mode can honour it, and router mode does not exist yet: remove it (sidecar mode routes whole connections)";
      if (route.weightsPer === "request") routeAt(["weightsPer"], `per-request weights on one connection: ${routerOnly}`);
      if (route.mirror) routeAt(["mirror"], `mirroring: ${routerOnly}`);
      if (route.mirrorPercentage) routeAt(["mirrorPercentage"], `mirroring: ${routerOnly}`);
      if (route.globalRateLimit) routeAt(["globalRateLimit"], `global rate limit: ${routerOnly}`);
      const notYet = "the MetaProto filter does not apply it yet (its policy stages are not built): remove it for now";
      if (route.match) routeAt(["match"], `matching calls by attribute: ${notYet}; the route then applies to every connection`);
      if (route.requestMutation) routeAt(["requestMutation"], `request mutation: ${notYet}`);
      if (route.responseMutation) routeAt(["responseMutation"], `response mutation: ${notYet}`);
      if (route.localRateLimit) routeAt(["localRateLimit"], `local rate limit: ${notYet}`);
    });
    if (value.spec.routes.length > 1) {
      at(["routes", 1], "sidecar mode without attribute matching uses one route per MetaRouter: merge the routes (weights choose a destination per new connection)");
    }
  }
  return findings;
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
    const at = parsed.lines.linePos(range[0]);
    error.line = at.line;
    error.column = at.col;
  }
  return error;
}
