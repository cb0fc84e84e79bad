// An inline command (a plain text line from telnet-style clients: `SET "a b" 1`), read as it
// streams by: counts its words and keeps the first bytes of the first three. Splits words the
// way Redis does closely enough for naming the command: whitespace separates, "..." and '...'
// quote, a backslash escapes the next byte inside double quotes.
import { Capture } from "./capture";
import { byteAt } from "../../api/assembly/bytes";

export class InlineCommand {
  words: i64 = 0;
  private inWord: bool = false;
  private quote: u8 = 0;
  private escaped: bool = false;

  constructor(private firstWords: StaticArray<Capture>) {}

  reset(): void {
    this.words = 0;
    this.inWord = false;
    this.quote = 0;
    this.escaped = false;
  }

  feed(bytes: Uint8Array, from: i32, to: i32): void {
    for (let i = from; i < to; i++) {
      const c = byteAt(bytes, i);
      if (this.quote != 0) {
        if (this.escaped) {
          this.escaped = false;
          this.keep(c);
        } else if (c == 0x5c /* \ */ && this.quote == 0x22) {
          this.escaped = true;
        } else if (c == this.quote) {
          this.quote = 0;
        } else {
          this.keep(c);
        }
        continue;
      }
      if (isSpace(c)) {
        this.inWord = false;
        continue;
      }
      if (!this.inWord) {
        this.inWord = true;
        this.words++;
        if (this.words <= 3) unchecked(this.firstWords[<i32>this.words - 1]).isString = true;
      }
      if (c == 0x22 || c == 0x27) this.quote = c;
      else this.keep(c);
    }
  }

  private keep(c: u8): void {
    if (this.words >= 1 && this.words <= 3) unchecked(this.firstWords[<i32>this.words - 1]).appendByte(c);
  }
}

export function isSpace(c: u8): bool {
  return c == 0x20 || (c >= 0x09 && c <= 0x0d);
}
