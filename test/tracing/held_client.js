// Opens one TCP connection to a Redis listener, sends the commands given, prints its own address
// (LOCAL ip port) once the replies came, and keeps the connection open until stdin closes, so the rig
// can see it with `ss` while it compares flow logs with it.
//   node test/tracing/held_client.js PORT 'SET k v' 'GET k' ...
const net = require("net");
const [port, ...commands] = process.argv.slice(2);
const encode = (line) => {
  const words = line.split(" ");
  return `*${words.length}\r\n` + words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join("");
};
const socket = net.connect(+port, "127.0.0.1", () => socket.write(commands.map(encode).join("")));
let seen = "";
socket.on("data", (d) => {
  seen += d.toString("latin1");
  // One reply line per command is enough here: the commands used answer in one line.
  if (seen.split("\r\n").length - 1 >= commands.length && !socket.reported) {
    socket.reported = true;
    process.stdout.write(`LOCAL ${socket.localAddress} ${socket.localPort}\n`);
  }
});
socket.on("error", (e) => { process.stderr.write(String(e) + "\n"); process.exit(1); });
process.stdin.on("end", () => socket.end(() => process.exit(0)));
process.stdin.resume();
