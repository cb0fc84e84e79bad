// CPU time and resident memory of a running process, read from /proc (Linux only).
import { execFileSync } from "child_process";
import { readFileSync } from "fs";

let clockTicks = 0;

/** Kernel clock ticks per second (USER_HZ), the unit of utime/stime in /proc/<pid>/stat. */
export function ticksPerSecond(): number {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of `pid` in seconds (all its threads), or NaN if the process is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces; count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return NaN;
  }
}

/** VmRSS of `pid` in bytes, or NaN if the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Machine-wide CPU seconds from /proc/stat (all CPUs): `tasks` = user+nice+system (time charged to
 * processes), `irq` = irq+softirq (interrupt work, for loopback traffic mostly the benchmark's own),
 * `steal` = time the hypervisor ran something else while a vCPU wanted to run.
 */
export function machineCpuSeconds(): { tasks: number; irq: number; steal: number } {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    const t = ticksPerSecond();
    return { tasks: (user + nice + system) / t, irq: (irq + softirq) / t, steal: (steal || 0) / t };
  } catch {
    return { tasks: NaN, irq: NaN, steal: NaN };
  }
}

/**
 * CPU seconds each watched process spent between construction and `stop()`, plus the machine's
 * `machine_tasks`, `machine_irq` and `machine_steal` seconds, so a report can show how much CPU other
 * processes and the hypervisor took meanwhile.
 */
export class CpuWindow {
  private readonly start: Map<string, number> = new Map();
  private readonly machineStart = machineCpuSeconds();

  constructor(private readonly pids: Record<string, number | undefined>) {
    for (const [name, pid] of Object.entries(pids)) if (pid) this.start.set(name, cpuSeconds(pid));
  }

  stop(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      if (pid && this.start.has(name)) out[name] = cpuSeconds(pid) - this.start.get(name)!;
    }
    const m = machineCpuSeconds();
    out.machine_tasks = m.tasks - this.machineStart.tasks;
    out.machine_irq = m.irq - this.machineStart.irq;
    out.machine_steal = m.steal - this.machineStart.steal;
    return out;
  }
}
