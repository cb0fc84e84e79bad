// Reads the Prometheus text exposition format (version 0.0.4, what Envoy's /stats/prometheus writes)
// into samples. The one npm parser of it (parse-prometheus-text-format 1.1.1) keeps a histogram's
// buckets only when the histogram has no labels, and every MetaProto histogram has labels; the format
// is line based, so it is read here: `name{label="value",...} value [timestamp]`, `# TYPE name type`.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  samples: Sample[];
  /** Metric family → its `# TYPE` (counter, gauge, histogram, summary, untyped). */
  types: Map<string, string>;
}

export function parsePrometheusText(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (!line) continue;
    if (line.startsWith("#")) {
      const type = /^#\s+TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (type) types.set(type[1], type[2]);
      continue;
    }
    try {
      samples.push(parseSampleLine(line));
    } catch (err) {
      throw new Error(`line ${n + 1}: ${(err as Error).message}: ${line.slice(0, 200)}`);
    }
  }
  return { samples, types };
}

function parseSampleLine(line: string): Sample {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (!name) throw new Error("no metric name");
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === "{") {
    at++;
    for (;;) {
      while (line[at] === " " || line[at] === ",") at++;
      if (line[at] === "}") { at++; break; }
      const label = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(at))?.[0];
      if (!label) throw new Error(`bad label name at column ${at + 1}`);
      at += label.length;
      if (line[at] !== "=" || line[at + 1] !== '"') throw new Error(`expected ="..." after ${label}`);
      at += 2;
      let value = "";
      for (;;) {
        const c = line[at++];
        if (c === undefined) throw new Error(`unterminated value of ${label}`);
        if (c === '"') break;
        if (c === "\\") {
          const escaped = line[at++];
          value += escaped === "n" ? "\n" : escaped;
        } else {
          value += c;
        }
      }
      labels[label] = value;
    }
  }
  const [valueText] = line.slice(at).trim().split(/\s+/);
  const value = parseValue(valueText ?? "");
  return { name, labels, value };
}

function parseValue(text: string): number {
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  const value = Number(text);
  if (text === "" || Number.isNaN(value)) throw new Error(`bad value '${text}'`);
  return value;
}
