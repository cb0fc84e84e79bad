// The receiver's own metrics, rendered in the Prometheus text format (GET /metrics).
type Labels = Record<string, string>;

interface Family {
  help: string;
  type: "counter" | "gauge";
  series: Map<string, { labels: Labels; value: number | (() => number) }>;
}

function labelKey(labels: Labels): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(",");
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

export class MetricsRegistry {
  private readonly families = new Map<string, Family>();

  private family(name: string, type: Family["type"], help: string): Family {
    let family = this.families.get(name);
    if (!family) this.families.set(name, family = { help, type, series: new Map() });
    return family;
  }

  /** Declares a counter; the returned function adds to one of its series. */
  counter(name: string, help: string): (labels: Labels, by?: number) => void {
    const family = this.family(name, "counter", help);
    return (labels, by = 1) => {
      const key = labelKey(labels);
      const series = family.series.get(key);
      if (series) series.value = (series.value as number) + by;
      else family.series.set(key, { labels, value: by });
    };
  }

  /** A gauge series read when the metrics are rendered. */
  gauge(name: string, help: string, labels: Labels, read: () => number): void {
    this.family(name, "gauge", help).series.set(labelKey(labels), { labels, value: read });
  }

  /** One series' current value (0 when it was never touched); for tests and logs. */
  value(name: string, labels: Labels = {}): number {
    const series = this.families.get(name)?.series.get(labelKey(labels));
    if (!series) return 0;
    return typeof series.value === "function" ? series.value() : series.value;
  }

  /** The sum over every series of a family whose labels include these. */
  sum(name: string, labels: Labels = {}): number {
    let total = 0;
    for (const series of this.families.get(name)?.series.values() ?? []) {
      if (Object.entries(labels).every(([k, v]) => series.labels[k] === v)) {
        total += typeof series.value === "function" ? series.value() : series.value;
      }
    }
    return total;
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, family] of this.families) {
      lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
      for (const { labels, value } of family.series.values()) {
        const text = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
        lines.push(`${name}${text ? `{${text}}` : ""} ${typeof value === "function" ? value() : value}`);
      }
    }
    return `${lines.join("\n")}\n`;
  }
}
