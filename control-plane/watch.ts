// Watches configuration files and calls back once a burst of changes has settled. Editors save by
// writing in place or by renaming a new file over the old one, so the folders are watched, not the files.
// A rename over the file is one event: after a quiet spell, the first event is taken after a short
// settle (SETTLE_MS) instead of the whole debounce, unless more events follow within it; a burst (a
// file written in pieces, a save that moves the old file away first, several files) waits until it
// has been quiet for the debounce.
import * as fs from "fs";
import * as path from "path";

/** How long a lone change waits for company before it is taken. */
export const SETTLE_MS = 20;

export class ConfigWatcher {
  private readonly watchers: fs.FSWatcher[] = [];
  private timer?: NodeJS.Timeout;
  /** When the last event arrived (ms since the epoch). */
  private lastEvent = -Infinity;

  /** In folders, only names matching filesInFolders count. */
  constructor(paths: string[], private readonly debounceMs: number, private readonly onChange: () => void, filesInFolders = /\.ya?ml$/) {
    const folders = new Map<string, Set<string> | "all">();
    for (const given of paths) {
      const resolved = path.resolve(given);
      if (fs.statSync(resolved).isDirectory()) folders.set(resolved, "all");
      else {
        const folder = path.dirname(resolved);
        const names = folders.get(folder);
        if (names !== "all") folders.set(folder, new Set([...(names ?? []), path.basename(resolved)]));
      }
    }
    for (const [folder, names] of folders) {
      this.watchers.push(fs.watch(folder, (_event, name) => {
        if (names === "all" ? !name || filesInFolders.test(String(name)) : !name || names.has(String(name))) this.schedule();
      }));
    }
  }

  private schedule(): void {
    const now = Date.now();
    const afterQuiet = now - this.lastEvent >= this.debounceMs;
    this.lastEvent = now;
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onChange, afterQuiet ? Math.min(SETTLE_MS, this.debounceMs) : this.debounceMs);
  }

  close(): void {
    clearTimeout(this.timer);
    for (const watcher of this.watchers) watcher.close();
  }
}
