// Rewrites the info headers of a THeader request (the key/value pairs in its header block) and the
// lengths that depend on them: the header size in words (the block zero-padded to a whole word)
// and the frame length. Entries left alone keep their bytes; the protocol id, transform count,
// flags, seqid and the payload (the call itself) are copied untouched.
import { Attribute } from "../../api/assembly/codec";
import { ByteWriter } from "./byte_writer";
import {
  HEADER_BLOCK_START, HEADER_MAGIC_HIGH, HEADER_MAGIC_LOW, HeaderBlock, INFO_KEY_VALUE, INFO_PERSISTENT_KEY_VALUE,
  encodeTHeaderFrame, headerWords,
} from "./theader";

/** The info type that ends the sections: padding is zeros. */
const INFO_PADDING: u64 = 0;

/**
 * `frame` (one whole THeader frame) with the info headers in `set` written as key/value headers
 * (replacing any of the same key, persistent ones too; the last of a key in `set` wins) and the
 * keys in `remove` dropped. Key/value headers come first, in one section (Apache Thrift's readers
 * stop at the first section of another type), then fbthrift's persistent ones in another.
 * Null when the frame is not one this can rewrite: not a whole THeader frame, a transformed
 * payload (zlib...), a header block that contradicts itself, an info section of a type this does
 * not know (its layout is unknown, so its bytes cannot be carried over), or a result longer than
 * THeader's size fields allow.
 */
export function withInfoHeaders(frame: Uint8Array, set: Array<Attribute>, remove: Array<string>): Uint8Array | null {
  const frameLength = frame.byteLength;
  if (frameLength < HEADER_BLOCK_START) return null;
  if (unchecked(frame[4]) != HEADER_MAGIC_HIGH || unchecked(frame[5]) != HEADER_MAGIC_LOW) return null;
  if (readU32(frame, 0) != <u32>(frameLength - 4)) return null;
  const blockEnd = HEADER_BLOCK_START + headerWords(frame) * 4;
  if (blockEnd > frameLength) return null;

  const block = new HeaderBlock(frame, HEADER_BLOCK_START, blockEnd);
  block.varint(); // protocol id
  const transforms = block.varint();
  if (block.failed || transforms != 0) return null;
  const transformsEnd = block.pos;

  const keyValues = new ByteWriter();
  let keyValueCount: u32 = 0;
  const persistent = new ByteWriter();
  let persistentCount: u32 = 0;
  while (!block.atEnd) {
    const infoType = block.varint();
    if (block.failed) return null;
    if (infoType == INFO_PADDING) break;
    if (infoType != INFO_KEY_VALUE && infoType != INFO_PERSISTENT_KEY_VALUE) return null;
    const count = block.varint();
    // Each entry takes at least two bytes: a count past the block fails on the way.
    for (let i: u64 = 0; i < count; i++) {
      const entryStart = block.pos;
      const key = block.string();
      block.skipString();
      if (block.failed) return null;
      if (remove.includes(key) || isSet(set, key)) continue;
      if (infoType == INFO_KEY_VALUE) {
        keyValues.raw(frame.subarray(entryStart, block.pos));
        keyValueCount++;
      } else {
        persistent.raw(frame.subarray(entryStart, block.pos));
        persistentCount++;
      }
    }
    if (block.failed) return null;
  }
  // Past the sections only padding: anything else is not a block this knows how to carry over.
  for (let i = block.pos; i < blockEnd; i++) if (unchecked(frame[i]) != 0) return null;

  const out = new ByteWriter();
  out.raw(frame.subarray(HEADER_BLOCK_START, transformsEnd));
  const written = lastOfEachKey(set);
  if (keyValueCount + <u32>written.length > 0) {
    out.varint(<u32>INFO_KEY_VALUE);
    out.varint(keyValueCount + <u32>written.length);
    out.raw(keyValues.view());
    for (let i = 0; i < written.length; i++) {
      out.varintString(unchecked(written[i]).key);
      out.varintString(unchecked(written[i]).value);
    }
  }
  if (persistentCount > 0) {
    out.varint(<u32>INFO_PERSISTENT_KEY_VALUE);
    out.varint(persistentCount);
    out.raw(persistent.view());
  }
  const flags = <u16>((<u32>unchecked(frame[6]) << 8) | <u32>unchecked(frame[7]));
  return encodeTHeaderFrame(flags, readU32(frame, 8), out, frame.subarray(blockEnd));
}

function readU32(bytes: Uint8Array, at: i32): u32 {
  return (<u32>unchecked(bytes[at]) << 24) | (<u32>unchecked(bytes[at + 1]) << 16) |
    (<u32>unchecked(bytes[at + 2]) << 8) | <u32>unchecked(bytes[at + 3]);
}

function isSet(set: Array<Attribute>, key: string): bool {
  for (let i = 0; i < set.length; i++) if (unchecked(set[i]).key == key) return true;
  return false;
}

/** `set` without entries whose key comes again later (later mutation rules win). */
function lastOfEachKey(set: Array<Attribute>): Array<Attribute> {
  const out = new Array<Attribute>();
  for (let i = 0; i < set.length; i++) {
    let overridden = false;
    for (let j = i + 1; j < set.length && !overridden; j++) overridden = unchecked(set[j]).key == unchecked(set[i]).key;
    if (!overridden) out.push(unchecked(set[i]));
  }
  return out;
}
