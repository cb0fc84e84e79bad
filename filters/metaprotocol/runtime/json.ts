// A small JSON reader for filter configuration. The AssemblyScript JSON libraries abort
// (trap the VM) on malformed input; a bad configuration must instead be rejected with a
// message, so this reader reports the first error and never throws.

export enum JsonKind { Null, Bool, Number, String, Array, Object }

export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  bool: bool = false;
  number: f64 = 0;
  string: string = "";
  items: Array<JsonValue> = [];
  keys: Array<string> = [];

  get(key: string): JsonValue | null {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] == key) return this.items[i];
    return null;
  }
}

export class JsonParseResult {
  value: JsonValue | null = null;
  error: string = "";
}

const MAX_DEPTH: i32 = 64;

class JsonParser {
  pos: i32 = 0;
  error: string = "";
  constructor(private text: string) {}

  fail(what: string): JsonValue {
    if (this.error.length == 0) this.error = what + " at offset " + this.pos.toString();
    this.pos = this.text.length;
    return new JsonValue();
  }

  skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      this.pos++;
    }
  }

  expectWord(word: string): bool {
    if (this.text.substr(this.pos, word.length) != word) return false;
    this.pos += word.length;
    return true;
  }

  value(depth: i32): JsonValue {
    if (depth > MAX_DEPTH) return this.fail("nesting too deep");
    this.skipSpace();
    if (this.pos >= this.text.length) return this.fail("unexpected end of input");
    const c = this.text.charCodeAt(this.pos);
    const v = new JsonValue();
    if (c == 0x7b) return this.object(depth);
    if (c == 0x5b) return this.array(depth);
    if (c == 0x22) {
      v.kind = JsonKind.String;
      v.string = this.stringLiteral();
      return v;
    }
    if (this.expectWord("true")) { v.kind = JsonKind.Bool; v.bool = true; return v; }
    if (this.expectWord("false")) { v.kind = JsonKind.Bool; return v; }
    if (this.expectWord("null")) return v;
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = this.pos;
      this.pos++;
      while (this.pos < this.text.length) {
        const d = this.text.charCodeAt(this.pos);
        if ((d >= 0x30 && d <= 0x39) || d == 0x2e || d == 0x65 || d == 0x45 || d == 0x2b || d == 0x2d) this.pos++;
        else break;
      }
      v.kind = JsonKind.Number;
      v.number = parseFloat(this.text.substring(start, this.pos));
      if (isNaN(v.number)) return this.fail("bad number");
      return v;
    }
    return this.fail("unexpected character '" + String.fromCharCode(c) + "'");
  }

  stringLiteral(): string {
    this.pos++; // opening quote
    let out = "";
    let runStart = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c == 0x22) {
        out += this.text.substring(runStart, this.pos);
        this.pos++;
        return out;
      }
      if (c == 0x5c) {
        out += this.text.substring(runStart, this.pos);
        if (this.pos + 1 >= this.text.length) break;
        const e = this.text.charCodeAt(this.pos + 1);
        this.pos += 2;
        if (e == 0x6e) out += "\n";
        else if (e == 0x74) out += "\t";
        else if (e == 0x72) out += "\r";
        else if (e == 0x62) out += "\b";
        else if (e == 0x66) out += "\f";
        else if (e == 0x75) {
          const hex = this.text.substr(this.pos, 4);
          const code = parseInt(hex, 16);
          if (hex.length != 4 || isNaN(code)) { this.fail("bad \\u escape"); return ""; }
          out += String.fromCharCode(<i32>code);
          this.pos += 4;
        } else out += String.fromCharCode(e);
        runStart = this.pos;
        continue;
      }
      this.pos++;
    }
    this.fail("unterminated string");
    return "";
  }

  array(depth: i32): JsonValue {
    const v = new JsonValue();
    v.kind = JsonKind.Array;
    this.pos++;
    this.skipSpace();
    if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == 0x5d) { this.pos++; return v; }
    while (this.error.length == 0) {
      v.items.push(this.value(depth + 1));
      this.skipSpace();
      if (this.pos >= this.text.length) return this.fail("unterminated array");
      const c = this.text.charCodeAt(this.pos++);
      if (c == 0x5d) return v;
      if (c != 0x2c) return this.fail("expected ',' or ']'");
    }
    return v;
  }

  object(depth: i32): JsonValue {
    const v = new JsonValue();
    v.kind = JsonKind.Object;
    this.pos++;
    this.skipSpace();
    if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == 0x7d) { this.pos++; return v; }
    while (this.error.length == 0) {
      this.skipSpace();
      if (this.pos >= this.text.length || this.text.charCodeAt(this.pos) != 0x22) return this.fail("expected a key");
      const key = this.stringLiteral();
      this.skipSpace();
      if (this.pos >= this.text.length || this.text.charCodeAt(this.pos) != 0x3a) return this.fail("expected ':'");
      this.pos++;
      v.keys.push(key);
      v.items.push(this.value(depth + 1));
      this.skipSpace();
      if (this.pos >= this.text.length) return this.fail("unterminated object");
      const c = this.text.charCodeAt(this.pos++);
      if (c == 0x7d) return v;
      if (c != 0x2c) return this.fail("expected ',' or '}'");
    }
    return v;
  }
}

export function parseJson(text: string): JsonParseResult {
  const parser = new JsonParser(text);
  const value = parser.value(0);
  parser.skipSpace();
  if (parser.error.length == 0 && parser.pos < text.length) parser.fail("trailing characters");
  const result = new JsonParseResult();
  if (parser.error.length > 0) result.error = parser.error;
  else result.value = value;
  return result;
}
