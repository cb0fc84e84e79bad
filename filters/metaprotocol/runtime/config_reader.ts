// Reads one section of the JSON filter configuration, naming the field path of the first error
// ("policy.authz.rules[2].match.method: ..."), so a rejected configuration says what to fix.
import { JsonKind, JsonValue } from "./json";

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

  number(value: JsonValue, path: string, min: f64, max: f64, whole: bool = true): f64 {
    if (value.kind != JsonKind.Number || value.number < min || value.number > max || (whole && value.number != Math.floor(value.number))) {
      this.fail(path, "must be a " + (whole ? "whole " : "") + "number from " + bound(min) + " to " + bound(max));
      return min;
    }
    return value.number;
  }

  required(obj: JsonValue, key: string, path: string): JsonValue | null {
    const v = obj.get(key);
    if (v == null) this.fail(path + "." + key, "is required");
    return v;
  }
}

/** A bound as people write it: 256, not 256.0. */
function bound(n: f64): string {
  return n == Math.floor(n) && Math.abs(n) < 1e15 ? (<i64>n).toString() : n.toString();
}
