#!/usr/bin/env node
'use strict';
/*
 * Tiny TCP relay that records a Dubbo (or any) session byte-exactly, plus a
 * frame lister for the recordings.
 *
 * Relay:
 *   node test/dubbo/capture.js --listen 21000 --target 127.0.0.1:20880 \
 *        --prefix codecs/dubbo/fixtures/java-consumer [--once]
 *   - listens on 127.0.0.1:<listen>, prints "CAPTURE READY <port>";
 *   - for each accepted connection opens one to <target> and relays both ways;
 *   - client->server bytes go to <prefix>.request.bin, server->client bytes to
 *     <prefix>.response.bin (exact bytes, in arrival order, truncated at start);
 *     the 2nd, 3rd... connection go to <prefix>.connN.{request,response}.bin;
 *   - prints "CAPTURE CLOSED conn=N c2s=<bytes> s2c=<bytes>" when a connection ends;
 *   - --once: exit 0 after the first connection has closed on both sides.
 *
 * Describe:
 *   node test/dubbo/capture.js --describe FILE...
 *   lists each Dubbo frame (16-byte header: magic 0xdabb, flag, status,
 *   8-byte request id, 4-byte body length): offset, length, request id, type,
 *   serialization id, and for requests service/method/attachment keys, for
 *   responses the status and the hessian2 response flag. --json for JSON.
 */
const fs = require('fs');
const net = require('net');

function parseArgs(argv) {
  const o = { describe: [], once: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--listen') o.listen = Number(argv[++i]);
    else if (a === '--target') o.target = argv[++i];
    else if (a === '--prefix') o.prefix = argv[++i];
    else if (a === '--once') o.once = true;
    else if (a === '--json') o.json = true;
    else if (a === '--describe') o.describeMode = true;
    else if (!a.startsWith('--')) o.describe.push(a);
    else throw new Error(`unknown argument ${a}`);
  }
  if (o.describe.length && !o.describeMode) throw new Error(`unexpected argument ${o.describe[0]}`);
  if (o.describeMode && !o.describe.length) throw new Error('--describe needs FILE...');
  return o;
}

// ---------------------------------------------------------------- relay

function relay(o) {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(o.target || '');
  if (!o.listen || !m || !o.prefix) {
    throw new Error('usage: capture.js --listen PORT --target HOST:PORT --prefix PATH [--once]');
  }
  const [, thost, tport] = m;
  let conns = 0;
  let open = 0;
  const server = net.createServer((client) => {
    const n = ++conns;
    open++;
    const base = n === 1 ? o.prefix : `${o.prefix}.conn${n}`;
    const reqFd = fs.openSync(`${base}.request.bin`, 'w');
    const resFd = fs.openSync(`${base}.response.bin`, 'w');
    let c2s = 0;
    let s2c = 0;
    let ended = 0;
    const upstream = net.connect({ host: thost, port: Number(tport) });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // Record synchronously before forwarding so the files are in arrival order.
    client.on('data', (d) => { fs.writeSync(reqFd, d); c2s += d.length; upstream.write(d); });
    upstream.on('data', (d) => { fs.writeSync(resFd, d); s2c += d.length; client.write(d); });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', (e) => { console.error(`capture conn=${n} client error: ${e.message}`); upstream.destroy(); });
    upstream.on('error', (e) => { console.error(`capture conn=${n} upstream error: ${e.message}`); client.destroy(); });
    const done = () => {
      if (++ended < 2) return;
      fs.closeSync(reqFd);
      fs.closeSync(resFd);
      open--;
      console.log(`CAPTURE CLOSED conn=${n} c2s=${c2s} s2c=${s2c}`);
      if (o.once && n === 1) {
        server.close();
        process.exit(0);
      }
    };
    client.on('close', done);
    upstream.on('close', done);
  });
  server.listen(o.listen, '127.0.0.1', () => console.log(`CAPTURE READY ${server.address().port}`));
  const stop = () => { server.close(); process.exit(open ? 1 : 0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// ---------------------------------------------------------------- describe

const RESPONSE_FLAGS = {
  0: 'EXCEPTION', 1: 'VALUE', 2: 'NULL_VALUE',
  3: 'EXCEPTION_WITH_ATTACHMENTS', 4: 'VALUE_WITH_ATTACHMENTS', 5: 'NULL_VALUE_WITH_ATTACHMENTS',
};

function describeBody(frame, body) {
  let hessian;
  try { hessian = require('hessian.js'); } catch (e) { return { note: 'hessian.js not installed' }; }
  const out = {};
  const d = new hessian.DecoderV2(body);
  try {
    if (frame.isRequest && frame.isEvent) {
      const v = d.read();
      out.event = v === null ? 'heartbeat (null)' : JSON.stringify(v);
    } else if (frame.isRequest) {
      out.dubboVersion = d.read();
      out.service = d.read();
      out.version = d.read();
      out.method = d.read();
      out.paramTypes = d.read();
      try {
        const nargs = countParams(out.paramTypes);
        for (let i = 0; i < nargs; i++) d.read();
        const att = d.read();
        if (att && typeof att === 'object') out.attachments = att;
      } catch (e) {
        out.argsNote = `args not decoded by hessian.js: ${e.message}`;
      }
    } else if (frame.isEvent) {
      const v = d.read();
      out.event = v === null ? 'heartbeat (null)' : JSON.stringify(v);
    } else if (frame.status === 20) {
      const flag = d.read();
      out.responseFlag = `${flag} ${RESPONSE_FLAGS[flag] || '?'}`;
      try {
        if (flag === 0 || flag === 3) {
          const ex = d.read();
          out.exception = ex && (ex.name || (ex.$class)) ? `${ex.name}: ${ex.message}` : JSON.stringify(ex);
        } else if (flag === 1 || flag === 4) {
          const v = d.read();
          out.value = typeof v === 'string' ? v : `<${typeof v}>`;
        }
        if (flag >= 3) out.attachments = d.read();
      } catch (e) {
        out.valueNote = `value not decoded by hessian.js: ${e.message}`;
      }
    } else {
      // Non-OK responses carry an error string.
      out.error = d.read();
    }
  } catch (e) {
    out.note = `body not decoded: ${e.message}`;
  }
  return out;
}

// Number of parameters in a JVM method descriptor like "Ljava/lang/String;[IJ".
function countParams(desc) {
  if (!desc) return 0;
  let n = 0;
  for (let i = 0; i < desc.length; i++) {
    const c = desc[i];
    if (c === '[') continue;
    if (c === 'L') i = desc.indexOf(';', i);
    n++;
  }
  return n;
}

function describeFile(file) {
  const buf = fs.readFileSync(file);
  const frames = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 16) {
      frames.push({ offset: off, error: `trailing ${buf.length - off} bytes (short header)` });
      break;
    }
    if (buf[off] !== 0xda || buf[off + 1] !== 0xbb) {
      frames.push({ offset: off, error: `bad magic 0x${buf.readUInt16BE(off).toString(16)}` });
      break;
    }
    const flag = buf[off + 2];
    const status = buf[off + 3];
    const id = buf.readBigUInt64BE(off + 4);
    const bodyLen = buf.readUInt32BE(off + 12);
    const f = {
      offset: off,
      length: 16 + bodyLen,
      bodyLength: bodyLen,
      id: id.toString(),
      flag: `0x${flag.toString(16).padStart(2, '0')}`,
      serialization: flag & 0x1f,
      isRequest: (flag & 0x80) !== 0,
      twoWay: (flag & 0x40) !== 0,
      isEvent: (flag & 0x20) !== 0,
      status,
    };
    if (f.isRequest) {
      f.type = f.isEvent ? `event request${f.twoWay ? ' (two-way)' : ''}` : (f.twoWay ? 'request two-way' : 'request oneway');
    } else {
      f.type = f.isEvent ? `event response status=${status}` : `response status=${status}`;
    }
    if (off + 16 + bodyLen > buf.length) {
      f.error = `truncated body: have ${buf.length - off - 16} of ${bodyLen}`;
      frames.push(f);
      break;
    }
    Object.assign(f, describeBody(f, buf.subarray(off + 16, off + 16 + bodyLen)));
    frames.push(f);
    off += 16 + bodyLen;
  }
  return { file, size: buf.length, frames };
}

function printDescription(d) {
  console.log(`${d.file}: ${d.size} bytes, ${d.frames.length} frames`);
  console.log('  offset  length      id  ser  type                         detail');
  for (const f of d.frames) {
    if (f.error && f.type === undefined) { console.log(`  ${String(f.offset).padStart(6)}  ${f.error}`); continue; }
    let detail = '';
    if (f.service) {
      detail = `${f.service}#${f.method} (${f.paramTypes || ''}) dubbo=${f.dubboVersion} version=${f.version}`;
      if (f.attachments) detail += ` attachments={${Object.keys(f.attachments).sort().join(',')}}`;
    } else if (f.event) detail = f.event;
    else if (f.responseFlag) {
      detail = `flag=${f.responseFlag}`;
      if (f.exception) detail += ` ${f.exception}`;
      if (f.value !== undefined) detail += ` ${JSON.stringify(f.value)}`;
      if (f.attachments) detail += ` attachments=${JSON.stringify(f.attachments)}`;
    } else if (f.error !== undefined) detail = `error=${JSON.stringify(f.error)}`;
    for (const k of ['note', 'argsNote', 'valueNote']) if (f[k]) detail += ` [${f[k]}]`;
    console.log(`  ${String(f.offset).padStart(6)}  ${String(f.length).padStart(6)}  ${f.id.padStart(6)}  ${String(f.serialization).padStart(3)}  ${f.type.padEnd(27)}  ${detail}`);
  }
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.describeMode) {
    const all = o.describe.map(describeFile);
    if (o.json) {
      console.log(JSON.stringify(all, (k, v) => (typeof v === 'bigint' ? v.toString() : v), 2));
    } else {
      all.forEach(printDescription);
    }
    return;
  }
  relay(o);
}

if (require.main === module) {
  try { main(); } catch (e) { console.error(e.message); process.exit(2); }
}

module.exports = { describeFile };
