'use strict';
// tinyrpc frames (codecs/tinyrpc/tinyrpc_codec.ts has the layout): what the client, the server and
// the benchmark write and read.
const HEADER = 16;
const MAGIC = 0x7472;
const Kind = { request: 0, oneway: 1, response: 2, ping: 3, pong: 4 };
const Status = { ok: 0, clientError: 1, serverError: 2 };

function frame(kind, status, id, body) {
  const out = Buffer.alloc(HEADER + body.length);
  out.writeUInt16BE(MAGIC, 0);
  out.writeUInt8(kind, 2);
  out.writeUInt8(status, 3);
  out.writeUInt32BE(body.length, 4);
  out.writeBigUInt64BE(BigInt(id), 8);
  body.copy(out, HEADER);
  return out;
}

/** A request (or oneway call); service "" means "this connection's previous service". */
function request(id, service, method, payload = Buffer.alloc(0), oneway = false) {
  const s = Buffer.from(service);
  const m = Buffer.from(method);
  if (s.length > 255 || m.length > 255) throw new Error('service and method names are at most 255 bytes');
  const body = Buffer.concat([Buffer.from([s.length]), s, Buffer.from([m.length]), m, Buffer.from(payload)]);
  return frame(oneway ? Kind.oneway : Kind.request, 0, id, body);
}

const response = (id, status, payload) => frame(Kind.response, status, id, Buffer.from(payload));
const ping = (id) => frame(Kind.ping, 0, id, Buffer.alloc(0));
const pong = (id) => frame(Kind.pong, 0, id, Buffer.alloc(0));

/**
 * Reads whole frames from a byte stream: push(chunk) returns the frames completed so far as
 * {kind, status, id, body, service, method, payload} (names for requests only).
 */
class FrameReader {
  constructor() { this.buffer = Buffer.alloc(0); }

  push(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const frames = [];
    while (this.buffer.length >= HEADER) {
      if (this.buffer.readUInt16BE(0) !== MAGIC) throw new Error('not a tinyrpc frame (bad magic)');
      const length = HEADER + this.buffer.readUInt32BE(4);
      if (this.buffer.length < length) break;
      const f = this.buffer.subarray(0, length);
      this.buffer = this.buffer.subarray(length);
      const out = { kind: f[2], status: f[3], id: Number(f.readBigUInt64BE(8)), body: f.subarray(HEADER) };
      if (out.kind === Kind.request || out.kind === Kind.oneway) {
        const serviceLength = out.body[0];
        const methodAt = 1 + serviceLength;
        out.service = out.body.toString('utf8', 1, methodAt);
        out.method = out.body.toString('utf8', methodAt + 1, methodAt + 1 + out.body[methodAt]);
        out.payload = out.body.subarray(methodAt + 1 + out.body[methodAt]);
      }
      frames.push(out);
    }
    return frames;
  }
}

module.exports = { HEADER, Kind, Status, FrameReader, request, response, ping, pong };
