// Connections held back by a fault delay, and the timer that lets them go. A delayed read is
// paused in Envoy (its bytes, and whatever the client sends meanwhile, stay in Envoy's buffer,
// in order); the root context's tick resumes it once its time has come.
import { HostResult, nowNanos, resumeDownstream, setTickPeriod } from "./runtime/host";

/** How often the timer looks for connections to release while any is held. */
const TICK_MILLIS: u32 = 5;

class Held {
  constructor(public connectionId: u32, public releaseAt: u64) {}
}

const held: Array<Held> = [];
let ticking = false;
/** The period the timer keeps when no connection is held (the telemetry exporters' tick), 0: none. */
let idleTickMillis: u32 = 0;

/** Sets the period the root's timer keeps between delays. */
export function setIdleTick(millis: u32): void {
  idleTickMillis = millis;
  if (!ticking) setTickPeriod(millis);
}

/**
 * Holds connection `connectionId` until `releaseAt` (nanoseconds, the host clock); later calls
 * for the same connection move its release later, never earlier. Must be called from one of the
 * connection's callbacks: the timer is set on its root context.
 */
export function holdUntil(connectionId: u32, releaseAt: u64): void {
  for (let i = 0; i < held.length; i++) {
    const h = unchecked(held[i]);
    if (h.connectionId == connectionId) {
      if (releaseAt > h.releaseAt) h.releaseAt = releaseAt;
      return;
    }
  }
  held.push(new Held(connectionId, releaseAt));
  if (!ticking && setTickPeriod(TICK_MILLIS) == HostResult.Ok) ticking = true;
}

/** True while the connection waits for the timer. */
export function isHeld(connectionId: u32): bool {
  for (let i = 0; i < held.length; i++) if (unchecked(held[i]).connectionId == connectionId) return true;
  return false;
}

/** Forgets a connection (it closed, or let its bytes go itself). */
export function forget(connectionId: u32): void {
  for (let i = 0; i < held.length; i++) {
    if (unchecked(held[i]).connectionId == connectionId) {
      held.splice(i, 1);
      return;
    }
  }
}

/** The timer: resumes every connection whose time has come. */
export function releaseDue(): void {
  const now = nowNanos();
  for (let i = 0; i < held.length;) {
    const h = unchecked(held[i]);
    if (h.releaseAt > now) {
      i++;
      continue;
    }
    held.splice(i, 1);
    // A connection closed meanwhile is simply gone: nothing to resume.
    resumeDownstream(h.connectionId);
  }
  if (held.length == 0 && ticking) {
    setTickPeriod(idleTickMillis);
    ticking = false;
  }
}
