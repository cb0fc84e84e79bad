// Revisions of each Service's filter configuration: a new one whenever the configuration changes,
// never one handed out before (they start from the time the control plane started), so Envoy
// never takes a configuration for one it has already had (see TranslateOptions.revisionOf).
export class Revisions {
  private readonly last = new Map<string, { configuration: string; revision: string }>();
  private changes = 0;

  constructor(private readonly epoch: number = Date.now()) {}

  of(service: string, configuration: string): string {
    const last = this.last.get(service);
    if (last?.configuration === configuration) return last.revision;
    const revision = `${this.epoch}-${++this.changes}`;
    this.last.set(service, { configuration, revision });
    return revision;
  }
}
