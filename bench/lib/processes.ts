// Child processes of a benchmark run: started pinned to a CPU set, recorded by PID, stopped by
// PID (never by name), also when the run is interrupted.
import { ChildProcess, spawn } from "child_process";
import { createWriteStream, readFileSync } from "fs";
import * as net from "net";
import { log } from "./log";

export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (or 128 + signal number) when the child ends. */
  exited: Promise<number>;
}

const children: Child[] = [];

/** `taskset -c <cpus>` in front of a command when a CPU set is given. */
export function pinned(cpus: string | null, command: string, args: string[]): [string, string[]] {
  return cpus ? ["taskset", ["-c", cpus, command, ...args]] : [command, args];
}

/** Starts a long-running child whose output goes to `logFile`. */
export function startChild(name: string, cpus: string | null, command: string, args: string[], logFile: string,
  env: NodeJS.ProcessEnv = process.env): Child {
  const [cmd, argv] = pinned(cpus, command, args);
  const out = createWriteStream(logFile);
  const proc = spawn(cmd, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout!.pipe(out);
  proc.stderr!.pipe(out);
  if (proc.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
  const exited = new Promise<number>((resolve) => {
    proc.on("exit", (code, signal) => resolve(code ?? 128 + (signal ? (require("os").constants.signals[signal] ?? 0) : 0)));
    proc.on("error", () => resolve(127));
  });
  const child: Child = { name, pid: proc.pid, process: proc, logFile, exited };
  children.push(child);
  log(`started ${name} (pid ${proc.pid}${cpus ? `, cpu ${cpus}` : ""}, log ${logFile})`);
  return child;
}

/** Stops one child by PID: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: Child, graceMs = 5000): Promise<void> {
  const index = children.indexOf(child);
  if (index >= 0) children.splice(index, 1);
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  try {
    process.kill(child.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try { process.kill(child.pid, "SIGKILL"); } catch { /* already gone */ }
  }, graceMs);
  await child.exited;
  clearTimeout(timer);
}

export async function stopAllChildren(): Promise<void> {
  for (const child of [...children].reverse()) await stopChild(child);
}

/** Last-resort cleanup when the run dies: signal every recorded child by PID. */
export function killAllChildrenNow(): void {
  for (const child of children) {
    try { process.kill(child.pid, "SIGKILL"); } catch { /* already gone */ }
  }
}

export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, capturing its output. */
export function runToCompletion(cpus: string | null, command: string, args: string[], timeoutMs: number,
  env: NodeJS.ProcessEnv = process.env): Promise<Finished> {
  const [cmd, argv] = pinned(cpus, command, args);
  return new Promise((resolve) => {
    const proc = spawn(cmd, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
    const child: Child = { name: command, pid: proc.pid ?? -1, process: proc, logFile: "", exited: Promise.resolve(0) };
    if (proc.pid !== undefined) children.push(child);
    let stdout = "";
    let stderr = "";
    proc.stdout!.on("data", (d) => (stdout += d));
    proc.stderr!.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n[bench] timed out after ${timeoutMs} ms, killed\n`;
      try { process.kill(proc.pid!, "SIGKILL"); } catch { /* gone */ }
    }, timeoutMs);
    const done = (code: number) => {
      clearTimeout(timer);
      const i = children.indexOf(child);
      if (i >= 0) children.splice(i, 1);
      resolve({ code, stdout, stderr });
    };
    proc.on("exit", (code, signal) => done(code ?? (signal ? 137 : 1)));
    proc.on("error", (err) => {
      stderr += String(err);
      done(127);
    });
  });
}

/** A TCP port on 127.0.0.1 nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every 100 ms until it returns true; false after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return true;
    } catch { /* not yet */ }
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
}

/** True once the child's log contains `text`. */
export function logContains(child: Child, text: string): boolean {
  try {
    return readFileSync(child.logFile, "utf8").includes(text);
  } catch {
    return false;
  }
}

export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** True if something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
}

/**
 * Runs a benchmark's `main` as the process: its children are stopped on every way out (its end, an
 * error, Ctrl-C or SIGTERM), and the exit code is main's.
 */
export function runMain(main: () => Promise<number>): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      log(`${signal}: stopping children`);
      killAllChildrenNow();
      process.exit(130);
    });
  }
  main().then(
    async (code) => {
      await stopAllChildren();
      process.exit(code);
    },
    async (err) => {
      log(`ERROR ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      await stopAllChildren();
      process.exit(1);
    },
  );
}
