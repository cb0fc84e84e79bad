// Facts about the machine and the software under test, for the report.
import { execFileSync } from "child_process";
import { readFileSync } from "fs";
import { cpus as osCpus, totalmem } from "os";

export interface MachineFacts {
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  kernel: string;
  envoyVersion: string;
  node: string;
  date: string;
  gitCommit: string;
  gitDirty: boolean;
}

function sh(cmd: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", cwd, stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
}

export function machineFacts(repo: string, envoyVersion: string): MachineFacts {
  let cpuModel = "unknown";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) cpuModel = m[1].trim();
  } catch { /* not Linux */ }
  const hypervisor = /Hypervisor vendor:\s*(\S+)/.exec(sh("lscpu", []));
  if (hypervisor) cpuModel += ` (${hypervisor[1]} guest)`;
  return {
    cpuModel,
    cpus: osCpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: sh("uname", ["-r"]),
    envoyVersion,
    node: process.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    gitCommit: sh("git", ["rev-parse", "--short=12", "HEAD"], repo) || "unknown",
    gitDirty: sh("git", ["status", "--porcelain", "--untracked-files=no"], repo).length > 0,
  };
}
