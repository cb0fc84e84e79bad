// Reads the JSON filter configuration for the generated readers (config_spec.generated.ts) and the
// checks they cannot make (regexes the filter's engine must compile), naming the field path of the first error
// ("policy.authz.rules[2].match.method: ..."), so a rejected configuration says what to fix.
import { JsonKind, JsonValue } from "./json";
import { Regex } from "./regex";

/** One key and value of a map<string, string> field. */
export class Entry {
  constructor(public key: string, public value: string) {}
}

/** Patterns of the schema's string fields, compiled once per VM. */
const patterns = new Map<string, Regex>();

export class ConfigReader {
  error: string = "";
  /** Set when a rule read so far matches on attributes: the codec must then decode them. */
  attributesRead: bool = false;

  get failed(): bool {
    return this.error.length > 0;
  }

  fail(path: string, what: string): void {
    if (this.error.length == 0) this.error = path + ": " + what;
  }

  /** The path of field `name` of the object at `path`. */
  at(path: string, name: string): string {
    return path.length == 0 ? name : path + "." + name;
  }

  /** The path of item `index` of list field `name` of the object at `path`. */
  item(path: string, name: string, index: i32): string {
    return this.index(this.at(path, name), index);
  }

  /** The path of item `index` of the list at `path`. */
  index(path: string, index: i32): string {
    return path + "[" + index.toString() + "]";
  }

  /** An object whose keys are all in `known`, or null (error set) when it is not. */
  object(value: JsonValue, path: string, known: Array<string>): JsonValue | null {
    if (value.kind != JsonKind.Object) {
      this.fail(path, "must be an object");
      return null;
    }
    for (let i = 0; i < value.keys.length; i++) {
      if (!known.includes(value.keys[i])) {
        this.fail(path.length == 0 ? value.keys[i] : path + "." + value.keys[i], "unknown field (known: " + known.join(", ") + ")");
        return null;
      }
    }
    return value;
  }

  array(value: JsonValue, path: string): Array<JsonValue> {
    if (value.kind != JsonKind.Array) {
      this.fail(path, "must be an array");
      return [];
    }
    return value.items;
  }

  string(value: JsonValue, path: string, allowed: Array<string> = []): string {
    if (value.kind != JsonKind.String) {
      this.fail(path, "must be a string");
      return "";
    }
    if (allowed.length > 0 && !allowed.includes(value.string)) {
      this.fail(path, "must be one of " + allowed.join(", "));
      return "";
    }
    return value.string;
  }

  bool(value: JsonValue, path: string, mustBeTrue: bool = false): bool {
    if (value.kind != JsonKind.Bool) {
      this.fail(path, mustBeTrue ? "must be true" : "must be true or false");
      return false;
    }
    if (mustBeTrue && !value.bool) this.fail(path, "must be true");
    return value.bool;
  }

  /** A JSON object of strings, in the order written. */
  stringMap(value: JsonValue, path: string): Array<Entry> {
    const entries = new Array<Entry>();
    if (value.kind != JsonKind.Object) {
      this.fail(path, "must be an object");
      return entries;
    }
    for (let i = 0; i < value.keys.length; i++) entries.push(new Entry(value.keys[i], this.string(value.items[i], path + "." + value.keys[i])));
    return entries;
  }

  length(text: string, path: string, min: i32, max: i32): void {
    if (text.length >= min && text.length <= max) return;
    if (min == 1 && max == 0x7fffffff) this.fail(path, "must not be empty");
    else this.fail(path, "must be " + min.toString() + " to " + max.toString() + " characters long");
  }

  /** Fails unless all of `text` matches `pattern` (the schema's, so it compiles). */
  pattern(text: string, path: string, pattern: string, hint: string): void {
    if (this.failed) return;
    if (!patterns.has(pattern)) patterns.set(pattern, new Regex(pattern));
    if (!patterns.get(pattern).matches(text)) this.fail(path, "must be " + hint);
  }

  /** Fails at the second occurrence of a value. */
  unique<T>(values: Array<T>, path: string): void {
    for (let i = 1; i < values.length; i++) {
      if (values.indexOf(values[i]) < i) {
        this.fail(path + "[" + i.toString() + "]", "is listed twice");
        return;
      }
    }
  }

  /** Fails when more than one of `fields` is given, or none when one is `required`. */
  exactlyOneOf(obj: JsonValue, path: string, fields: Array<string>, required: bool): void {
    let given = 0;
    for (let i = 0; i < fields.length; i++) if (obj.get(fields[i]) != null) given++;
    if (given > 1 || (required && given == 0)) this.fail(path, (required ? "needs exactly one of " : "takes at most one of ") + fields.join(", "));
  }

  number(value: JsonValue, path: string, min: f64, max: f64, whole: bool = true): f64 {
    if (value.kind != JsonKind.Number || value.number < min || value.number > max || (whole && value.number != Math.floor(value.number))) {
      this.fail(path, "must be a " + (whole ? "whole " : "") + "number from " + bound(min) + " to " + bound(max));
      return min;
    }
    return value.number;
  }
}

/** A bound as people write it: 256, not 256.0. */
function bound(n: f64): string {
  return n == Math.floor(n) && Math.abs(n) < 1e15 ? (<i64>n).toString() : n.toString();
}
