// Progress lines on stderr, so stdout stays free for machine-readable output of child tools.
export function log(message: string): void {
  const now = new Date();
  const hh = String(now.getHours()).padStart(2, "0");
  const mm = String(now.getMinutes()).padStart(2, "0");
  const ss = String(now.getSeconds()).padStart(2, "0");
  process.stderr.write(`${hh}:${mm}:${ss} [bench] ${message}\n`);
}
