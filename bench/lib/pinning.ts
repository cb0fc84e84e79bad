// Which CPUs Envoy, the backend and the load generator run on (`taskset -c`).
import { cpus as osCpus } from "os";

export interface Pinning {
  envoy: string | null;
  backend: string | null;
  load: string | null;
  /** One line for the report. */
  description: string;
}

/**
 * Default on 2-3 CPUs: the system under test (Envoy and the backend) shares the last CPU, as a
 * sidecar shares its server's CPU, and the load generator has CPU 0 to itself, so it never competes
 * with what is measured and the proxy's CPU cost shows as lost capacity. (Envoy alone on a CPU that
 * idles between requests measures the hypervisor's wake-up cost on small VMs more than Envoy.)
 * On 4+ CPUs each gets its own. `spec` overrides: `envoy=1,backend=0,load=0`, or `none`.
 */
export function choosePinning(spec: string | undefined): Pinning {
  const cpus = osCpus().length; // all online CPUs, whatever this process is pinned to
  if (spec === "none" || cpus < 2) {
    return { envoy: null, backend: null, load: null, description: "none (all processes float over all CPUs)" };
  }
  let pin: Omit<Pinning, "description">;
  if (spec) {
    const parts = Object.fromEntries(spec.split(",").map((kv) => kv.split("=") as [string, string]));
    pin = { envoy: parts.envoy ?? null, backend: parts.backend ?? null, load: parts.load ?? null };
  } else if (cpus >= 4) {
    pin = { envoy: "1", backend: "2", load: "3" };
  } else {
    pin = { envoy: String(cpus - 1), backend: String(cpus - 1), load: "0" };
  }
  const description = pin.envoy !== null && pin.envoy === pin.backend && pin.load !== pin.envoy
    ? `Envoy (all threads, --concurrency 1) and the backend share CPU ${pin.envoy}, as a sidecar shares its server's CPU; ` +
      `the load generator has CPU ${pin.load ?? "any"} (taskset -c)`
    : `Envoy (all threads, --concurrency 1) on CPU ${pin.envoy ?? "any"}; backend on CPU ${pin.backend ?? "any"}; ` +
      `load generator on CPU ${pin.load ?? "any"} (taskset -c)`;
  return { ...pin, description };
}
