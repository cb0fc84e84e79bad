// One long-lived Redis connection driven line by line: each stdin line is sent as an inline command
// and its reply printed as one line ("+OK", "v1", "(nil)", "-ERR ..."). A rig keeps it open across
// configuration changes to see what happens to a connection opened before them.
// Usage: node line_client.js PORT
const net = require("net");
const readline = require("readline");

const socket = net.connect(Number(process.argv[2]), "127.0.0.1");
let buffered = Buffer.alloc(0);

function takeReply() {
  const end = buffered.indexOf("\r\n");
  if (end < 0) return null;
  const head = buffered.subarray(0, end).toString();
  if (head[0] !== "$") {
    buffered = buffered.subarray(end + 2);
    return head;
  }
  const length = Number(head.slice(1));
  if (length < 0) {
    buffered = buffered.subarray(end + 2);
    return "(nil)";
  }
  if (buffered.length < end + 2 + length + 2) return null;
  const value = buffered.subarray(end + 2, end + 2 + length).toString();
  buffered = buffered.subarray(end + 2 + length + 2);
  return value;
}

socket.on("data", (chunk) => {
  buffered = Buffer.concat([buffered, chunk]);
  for (let reply = takeReply(); reply !== null; reply = takeReply()) process.stdout.write(`${reply}\n`);
});
socket.on("close", () => {
  process.stdout.write("(closed)\n");
  process.exit(0);
});
socket.on("error", (err) => process.stdout.write(`(error ${err.code})\n`));
readline.createInterface({ input: process.stdin }).on("line", (line) => socket.write(`${line}\r\n`));
