// Regular expressions for matches, in linear time: the pattern compiles to a Thompson NFA and a
// string is run through all its states at once (no backtracking, so a pattern cannot be made to
// take exponential time by the traffic it sees). The syntax is a subset of RE2's, as Envoy's
// safe_regex uses, and a match is a full match, as Envoy's string matchers do:
//   literals, `.`, escapes \d \D \w \W \s \S and escaped metacharacters, classes [a-z0-9_] [^...],
//   groups ( ) and (?: ), alternation |, quantifiers * + ? {n} {n,} {n,m}, anchors ^ $ at the ends.
// Anything else is refused with the position, so a configuration names what to change.

enum Op { Char = 0, Any = 1, Class = 2, Split = 3, Jump = 4, Match = 5 }

class Inst {
  constructor(public op: Op, public x: i32 = 0, public y: i32 = 0, public ranges: Array<i32> | null = null, public negated: bool = false) {}
}

class Fragment {
  constructor(public start: i32, public outs: Array<i32>) {}
}

const MAX_PROGRAM = 4096;
const MAX_REPEAT = 100;

export class Regex {
  private program: Array<Inst> = [];
  error: string = "";
  // State sets reused across matches (a VM runs one callback at a time).
  private current: Array<i32> = [];
  private next: Array<i32> = [];
  private onList: Array<i32> = [];
  private generation: i32 = 0;

  constructor(private pattern: string) {
    const parser = new Parser(pattern, this.program);
    const fragment = parser.parse();
    this.error = parser.error;
    if (fragment != null && this.error.length == 0) {
      const match = this.program.length;
      this.program.push(new Inst(Op.Match));
      patch(this.program, fragment.outs, match);
      this.program.push(new Inst(Op.Jump, fragment.start)); // entry at the end: program[length - 1]
      for (let i = 0; i < this.program.length; i++) this.onList.push(-1);
    }
  }

  /** True when the whole of `s` matches. */
  matches(s: string): bool {
    if (this.error.length > 0) return false;
    this.current.length = 0;
    this.addState(this.current, this.program.length - 1);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      this.next.length = 0;
      this.generation++;
      for (let k = 0; k < this.current.length; k++) {
        const inst = unchecked(this.program[unchecked(this.current[k])]);
        if (step(inst, c)) this.addState(this.next, inst.x);
      }
      const swap = this.current;
      this.current = this.next;
      this.next = swap;
      if (this.current.length == 0) return false;
    }
    for (let k = 0; k < this.current.length; k++) {
      if (unchecked(this.program[unchecked(this.current[k])]).op == Op.Match) return true;
    }
    return false;
  }

  private addState(list: Array<i32>, pc: i32): void {
    // Iterative, to keep deep patterns off the call stack.
    const stack: Array<i32> = [pc];
    if (list === this.current) this.generation++;
    while (stack.length > 0) {
      const at = stack.pop();
      if (unchecked(this.onList[at]) == this.generation) continue;
      unchecked(this.onList[at] = this.generation);
      const inst = unchecked(this.program[at]);
      if (inst.op == Op.Jump) stack.push(inst.x);
      else if (inst.op == Op.Split) {
        stack.push(inst.y);
        stack.push(inst.x);
      } else list.push(at);
    }
  }
}

function step(inst: Inst, c: i32): bool {
  switch (inst.op) {
    case Op.Char: return inst.y == c;
    case Op.Any: return c != 0x0a;
    case Op.Class: {
      const ranges = inst.ranges!;
      let inside = false;
      for (let i = 0; i < ranges.length && !inside; i += 2) inside = c >= unchecked(ranges[i]) && c <= unchecked(ranges[i + 1]);
      return inside != inst.negated;
    }
    default: return false;
  }
}

function patch(program: Array<Inst>, outs: Array<i32>, target: i32): void {
  // An out is an instruction index times 2, plus 1 for its second branch (y).
  for (let i = 0; i < outs.length; i++) {
    const inst = program[outs[i] >> 1];
    if ((outs[i] & 1) == 0) inst.x = target;
    else inst.y = target;
  }
}

class Parser {
  pos: i32 = 0;
  error: string = "";

  constructor(private text: string, private program: Array<Inst>) {}

  parse(): Fragment | null {
    let start = 0;
    let end = this.text.length;
    // ^ and $ at the ends are implied by full matching.
    if (end > 0 && this.text.charCodeAt(0) == 0x5e) start = 1;
    if (end > start && this.text.charCodeAt(end - 1) == 0x24 && (end < 2 || this.text.charCodeAt(end - 2) != 0x5c)) end--;
    this.text = this.text.substring(start, end);
    const f = this.alternation(0);
    if (this.error.length == 0 && this.pos < this.text.length) this.fail("unexpected ')'");
    if (this.error.length == 0 && this.program.length > MAX_PROGRAM) this.fail("pattern too large");
    return this.error.length > 0 ? null : f;
  }

  private fail(what: string): Fragment {
    if (this.error.length == 0) this.error = what + " at offset " + this.pos.toString();
    this.pos = this.text.length;
    return new Fragment(0, []);
  }

  private emit(inst: Inst): i32 {
    this.program.push(inst);
    return this.program.length - 1;
  }

  private alternation(depth: i32): Fragment {
    if (depth > 100) return this.fail("nesting too deep");
    let left = this.concatenation(depth);
    while (this.error.length == 0 && this.pos < this.text.length && this.text.charCodeAt(this.pos) == 0x7c) {
      this.pos++;
      const right = this.concatenation(depth);
      const split = this.emit(new Inst(Op.Split, left.start, right.start));
      left = new Fragment(split, left.outs.concat(right.outs));
    }
    return left;
  }

  private concatenation(depth: i32): Fragment {
    let result: Fragment | null = null;
    while (this.error.length == 0 && this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c == 0x7c || c == 0x29) break;
      const piece = this.repetition(depth);
      if (result == null) result = piece;
      else {
        patch(this.program, result.outs, piece.start);
        result = new Fragment(result.start, piece.outs);
      }
    }
    if (result == null) {
      // The empty string: a jump to whatever follows.
      const jump = this.emit(new Inst(Op.Jump));
      return new Fragment(jump, [jump << 1]);
    }
    return result;
  }

  private repetition(depth: i32): Fragment {
    const atomStart = this.pos;
    let f = this.atom(depth);
    const atomEnd = this.pos;
    while (this.error.length == 0 && this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c == 0x2a) { // *
        this.pos++;
        const split = this.emit(new Inst(Op.Split, f.start));
        patch(this.program, f.outs, split);
        f = new Fragment(split, [(split << 1) | 1]);
      } else if (c == 0x2b) { // +
        this.pos++;
        const split = this.emit(new Inst(Op.Split, f.start));
        patch(this.program, f.outs, split);
        f = new Fragment(f.start, [(split << 1) | 1]);
      } else if (c == 0x3f) { // ?
        this.pos++;
        const split = this.emit(new Inst(Op.Split, f.start));
        f = new Fragment(split, f.outs.concat([(split << 1) | 1]));
      } else if (c == 0x7b) { // {n,m}: the atom again n times, then (m - n) optional copies
        f = this.counted(f, atomStart, atomEnd, depth);
      } else break;
      if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == 0x3f) this.pos++; // lazy: same set of matches
    }
    return f;
  }

  private counted(first: Fragment, atomStart: i32, atomEnd: i32, depth: i32): Fragment {
    const close = this.text.indexOf("}", this.pos);
    if (close < 0) return this.fail("unclosed '{'");
    const body = this.text.substring(this.pos + 1, close);
    const comma = body.indexOf(",");
    const minText = comma < 0 ? body : body.substring(0, comma);
    const maxText = comma < 0 ? body : body.substring(comma + 1);
    const min = parseCount(minText);
    const max = maxText.length == 0 ? -1 : parseCount(maxText);
    if (min < 0 || (maxText.length > 0 && max < 0) || min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && max < min)) {
      return this.fail("bad repetition {" + body + "} (counts from 0 to " + MAX_REPEAT.toString() + ")");
    }
    const after = close + 1;
    let result: Fragment | null = null;
    for (let i = 0; i < min; i++) result = this.join(result, i == 0 ? first : this.copyAtom(atomStart, atomEnd, depth));
    if (max < 0) {
      const loop = min == 0 ? first : this.copyAtom(atomStart, atomEnd, depth);
      const split = this.emit(new Inst(Op.Split, loop.start));
      patch(this.program, loop.outs, split);
      result = this.join(result, new Fragment(split, [(split << 1) | 1]));
    } else {
      for (let i = min; i < max; i++) {
        const f = i == 0 && min == 0 ? first : this.copyAtom(atomStart, atomEnd, depth);
        const split = this.emit(new Inst(Op.Split, f.start));
        result = this.join(result, new Fragment(split, f.outs.concat([(split << 1) | 1])));
      }
    }
    if (result == null) { // {0} or {0,0}: matches the empty string
      const jump = this.emit(new Inst(Op.Jump));
      result = new Fragment(jump, [jump << 1]);
    }
    this.pos = after;
    return result;
  }

  /** The atom at [start, end) compiled once more (a counted repetition's further copies). */
  private copyAtom(start: i32, end: i32, depth: i32): Fragment {
    this.pos = start;
    const f = this.atom(depth);
    this.pos = end;
    return f;
  }

  private join(result: Fragment | null, f: Fragment): Fragment {
    if (result == null) return f;
    patch(this.program, result.outs, f.start);
    return new Fragment(result.start, f.outs);
  }

  private atom(depth: i32): Fragment {
    const c = this.text.charCodeAt(this.pos);
    if (c == 0x28) { // (
      this.pos++;
      if (this.text.startsWith("?:", this.pos)) this.pos += 2;
      else if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == 0x3f) return this.fail("unsupported group flag");
      const inner = this.alternation(depth + 1);
      if (this.pos >= this.text.length || this.text.charCodeAt(this.pos) != 0x29) return this.fail("missing ')'");
      this.pos++;
      return inner;
    }
    if (c == 0x2e) { // .
      this.pos++;
      return this.single(new Inst(Op.Any));
    }
    if (c == 0x5b) return this.charClass();
    if (c == 0x5c) { // \
      this.pos++;
      if (this.pos >= this.text.length) return this.fail("trailing '\\\\'");
      const e = this.text.charCodeAt(this.pos++);
      const ranges = escapeClass(e);
      if (ranges != null) return this.single(new Inst(Op.Class, 0, 0, ranges.ranges, ranges.negated));
      if (isAlphaNumeric(e)) return this.fail("unsupported escape \\\\" + String.fromCharCode(e));
      return this.single(new Inst(Op.Char, 0, e));
    }
    if (c == 0x2a || c == 0x2b || c == 0x3f || c == 0x7b) return this.fail("nothing to repeat");
    if (c == 0x5e || c == 0x24) return this.fail("anchors only at the start and end");
    this.pos++;
    return this.single(new Inst(Op.Char, 0, c));
  }

  private single(inst: Inst): Fragment {
    const at = this.emit(inst);
    return new Fragment(at, [at << 1]);
  }

  private charClass(): Fragment {
    this.pos++; // [
    let negated = false;
    if (this.pos < this.text.length && this.text.charCodeAt(this.pos) == 0x5e) {
      negated = true;
      this.pos++;
    }
    const ranges = new Array<i32>();
    let first = true;
    while (this.pos < this.text.length && (first || this.text.charCodeAt(this.pos) != 0x5d)) {
      first = false;
      let lo = this.text.charCodeAt(this.pos++);
      if (lo == 0x5c) {
        if (this.pos >= this.text.length) return this.fail("trailing '\\\\'");
        const e = this.text.charCodeAt(this.pos++);
        const set = escapeClass(e);
        if (set != null) {
          if (set.negated) return this.fail("negated escape in a class");
          for (let i = 0; i < set.ranges.length; i++) ranges.push(set.ranges[i]);
          continue;
        }
        lo = e;
      }
      let hi = lo;
      if (this.pos + 1 < this.text.length && this.text.charCodeAt(this.pos) == 0x2d && this.text.charCodeAt(this.pos + 1) != 0x5d) {
        this.pos++;
        hi = this.text.charCodeAt(this.pos++);
        if (hi == 0x5c && this.pos < this.text.length) hi = this.text.charCodeAt(this.pos++);
        if (hi < lo) return this.fail("bad range in a class");
      }
      ranges.push(lo);
      ranges.push(hi);
    }
    if (this.pos >= this.text.length) return this.fail("missing ']'");
    this.pos++; // ]
    return this.single(new Inst(Op.Class, 0, 0, ranges, negated));
  }
}

class ClassRanges {
  constructor(public ranges: Array<i32>, public negated: bool) {}
}

function escapeClass(e: i32): ClassRanges | null {
  const digits: Array<i32> = [0x30, 0x39];
  const word: Array<i32> = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a];
  const space: Array<i32> = [0x09, 0x0d, 0x20, 0x20];
  switch (e) {
    case 0x64: return new ClassRanges(digits, false); // \d
    case 0x44: return new ClassRanges(digits, true); // \D
    case 0x77: return new ClassRanges(word, false); // \w
    case 0x57: return new ClassRanges(word, true); // \W
    case 0x73: return new ClassRanges(space, false); // \s
    case 0x53: return new ClassRanges(space, true); // \S
    default: return null;
  }
}

function isAlphaNumeric(c: i32): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function parseCount(text: string): i32 {
  if (text.length == 0 || text.length > 4) return -1;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}
