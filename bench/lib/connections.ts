// Plain client connections for readiness probes and idle-connection measurements.
import * as net from "net";
import type { ProtocolBench, Wire } from "./protocol";

export function openConnection(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    s.setNoDelay(true);
    s.once("connect", () => {
      s.removeListener("error", reject);
      s.on("error", () => s.destroy());
      resolve(s);
    });
    s.once("error", reject);
  });
}

/**
 * Makes one call on an open connection with the protocol's driver request; resolves when its reply is in.
 * For a server-first protocol the connection logs in first (the wire's handshake).
 */
export async function oneCall(protocol: ProtocolBench, socket: net.Socket, connectionIndex: number, timeoutMs = 5000): Promise<void> {
  const wire = protocol.wire(connectionIndex);
  if (wire.handshake) await wire.handshake(socket, timeoutMs);
  return callOnce(wire, socket, timeoutMs);
}

function callOnce(wire: Wire, socket: net.Socket, timeoutMs: number): Promise<void> {
  const request = Buffer.alloc(wire.requestLength);
  wire.writeRequest(7, request, 0);
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      let replied = false;
      let failed = false;
      wire.parse(buf, (_seq, ok) => {
        replied = true;
        failed = !ok;
      });
      if (replied) {
        cleanup();
        if (failed) reject(new Error("the reply says the call failed"));
        else resolve();
      }
    };
    const onClose = () => {
      cleanup();
      reject(new Error("connection closed before the reply"));
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.removeListener("data", onData);
      socket.removeListener("close", onClose);
    };
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.write(request);
  });
}

/** Opens a connection, makes one call, closes: proves a target answers. */
export async function probeTarget(protocol: ProtocolBench, port: number): Promise<void> {
  const s = await openConnection(port);
  try {
    await oneCall(protocol, s, 0);
  } finally {
    s.destroy();
  }
}
