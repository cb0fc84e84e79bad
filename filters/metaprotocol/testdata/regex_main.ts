// A test module (the line codec's filter) exposing the policy regex engine to the host: regex_matches(pattern, text) with
// both strings passed as UTF-16 in guest memory (see runtime/regex.test.ts).
export * from "../index";
import { useCodec } from "../root";
import { LineCodec } from "./line_codec";
import { Regex } from "../runtime/regex";

useCodec(new LineCodec());

let lastError = "";

/** 1 match, 0 no match, -1 the pattern was refused (regex_error gives why). */
export function regex_matches(patternPtr: usize, patternUnits: i32, textPtr: usize, textUnits: i32): i32 {
  const pattern = String.UTF16.decodeUnsafe(patternPtr, <usize>patternUnits << 1);
  const text = String.UTF16.decodeUnsafe(textPtr, <usize>textUnits << 1);
  const regex = new Regex(pattern);
  lastError = regex.error;
  if (regex.error.length > 0) return -1;
  return regex.matches(text) ? 1 : 0;
}
