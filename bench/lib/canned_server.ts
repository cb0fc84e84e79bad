// A reply-only server for the load-driver ceiling check: answers each request with a canned reply at
// once, so the driver (not a real backend) is what limits throughput.
//   node canned_server.js <protocol> <port>   prints "CANNED READY <port>"
import * as net from "net";
import * as path from "path";
import type { ProtocolBench } from "./protocol";

const [protocolName, portText] = process.argv.slice(2);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const protocol: ProtocolBench = require(path.join(__dirname, "..", "protocols", protocolName)).protocol;
const responder = protocol.cannedResponder;
if (!responder) {
  process.stderr.write(`${protocolName} has no canned responder\n`);
  process.exit(2);
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let pending = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    let buf = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    const replies: Buffer[] = [];
    let at = 0;
    for (;;) {
      const n = responder.requestLength(buf, at);
      if (n <= 0) break;
      replies.push(responder.reply(buf.subarray(at, at + n)));
      at += n;
    }
    buf = buf.subarray(at);
    pending = buf.length > 0 ? Buffer.from(buf) : Buffer.alloc(0);
    if (replies.length > 0) socket.write(Buffer.concat(replies));
  });
  socket.on("error", () => socket.destroy());
});
server.listen(Number(portText), "127.0.0.1", () => process.stdout.write(`CANNED READY ${portText}\n`));
