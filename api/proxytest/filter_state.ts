// The protobuf argument of `set_envoy_filter_state`, decoded as Envoy does.
import { strictUtf8 } from "./bytes";

export interface DecodedFilterState {
  path: string;
  value: string;
  span: number;
}

/** Decodes `SetEnvoyFilterStateArguments {string path = 1; string value = 2; LifeSpan span = 3;}`. */
export function decodeSetEnvoyFilterStateArguments(bytes: Uint8Array): DecodedFilterState | null {
  let at = 0;
  const varint = (): number | null => {
    let result = 0;
    let shift = 0;
    while (at < bytes.length) {
      const b = bytes[at++];
      if (shift < 53) result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) return null;
    }
    return null;
  };
  const out: DecodedFilterState = { path: "", value: "", span: 0 };
  try {
    while (at < bytes.length) {
      const key = varint();
      if (key === null) return null;
      const field = Math.floor(key / 8);
      const wire = key % 8;
      if (field === 0) return null;
      if (wire === 2) {
        const len = varint();
        if (len === null || at + len > bytes.length) return null;
        const body = bytes.subarray(at, at + len);
        at += len;
        if (field === 1) out.path = strictUtf8.decode(body);
        else if (field === 2) out.value = strictUtf8.decode(body);
        else if (field === 3) return null;
      } else if (wire === 0) {
        const v = varint();
        if (v === null) return null;
        if (field === 3) out.span = v;
        else if (field === 1 || field === 2) return null;
      } else if (wire === 1) {
        if (field <= 3) return null;
        at += 8;
      } else if (wire === 5) {
        if (field <= 3) return null;
        at += 4;
      } else {
        return null;
      }
      if (at > bytes.length) return null;
    }
  } catch {
    return null; // invalid UTF-8 in a string field: protobuf parsing fails in Envoy too
  }
  return out;
}
