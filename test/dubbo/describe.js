#!/usr/bin/env node
'use strict';
/*
 * Lists the Dubbo frames of recordings made by test/lib/capture.js (16-byte header: magic
 * 0xdabb, flag, status, 8-byte request id, 4-byte body length): offset, length, request id,
 * type, serialization id, and for requests service/method/attachment keys, for responses the
 * status and the hessian2 response flag.
 *
 *   node test/dubbo/describe.js [--json] FILE...
 */
const fs = require('fs');


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
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const files = args.filter((a) => !a.startsWith('--'));
  if (files.length === 0) {
    console.log('usage: describe.js [--json] FILE...');
    process.exit(args.includes('--help') ? 0 : 2);
  }
  const all = files.map(describeFile);
  if (json) console.log(JSON.stringify(all, (k, v) => (typeof v === 'bigint' ? v.toString() : v), 2));
  else all.forEach(printDescription);
}

if (require.main === module) {
  try { main(); } catch (e) { console.error(e.message); process.exit(2); }
}

module.exports = { describeFile };
