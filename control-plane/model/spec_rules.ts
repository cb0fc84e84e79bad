// The zod pieces filter_config.generated.ts is built from: one per rule of api/proto's configuration
// messages, with the same error messages and field paths as the filter's own reader
// (filters/metaprotocol/runtime/config_reader.ts), so a refused document reads the same wherever
// it is refused.
import { z } from "zod";

/** A rule over a whole section (fields that depend on each other). */
export type Check = (value: Record<string, unknown>, ctx: z.RefinementCtx) => void;

/** Says "is required" when the field is missing, else `what`. */
const typeError = (what: string, required: boolean) =>
  ({ error: (issue: { input?: unknown }) => (required && issue.input === undefined ? "is required" : what) });

export function number(min: number, max: number, whole: boolean, required: boolean) {
  const what = `must be a ${whole ? "whole " : ""}number from ${min} to ${max}`;
  let schema = z.number(typeError(what, required)).min(min, { error: what }).max(max, { error: what });
  if (whole) schema = schema.int({ error: what });
  return schema;
}

export function oneOfStrings<T extends string>(values: [T, ...T[]], required: boolean) {
  return z.enum(values, typeError(`must be one of ${values.join(", ")}`, required));
}

export function string(rules: { required: boolean; minLength?: number; maxLength?: number; pattern?: string; hint?: string }) {
  let schema = z.string(typeError("must be a string", rules.required));
  const min = rules.minLength ?? 0;
  const max = rules.maxLength ?? 0x7fffffff;
  if (min > 0 || rules.maxLength !== undefined) {
    const what = min === 1 && rules.maxLength === undefined ? "must not be empty" : `must be ${min} to ${max} characters long`;
    schema = schema.min(min, { error: what }).max(max, { error: what });
  }
  if (rules.pattern !== undefined) schema = schema.regex(new RegExp(rules.pattern), { error: `must be ${rules.hint}` });
  return schema;
}

export function bool(mustBeTrue: boolean, required: boolean) {
  return mustBeTrue ? z.literal(true, typeError("must be true", required)) : z.boolean(typeError("must be true or false", required));
}

export const stringMap = () => z.record(z.string(), z.string({ error: "must be a string" }), { error: "must be an object" });

export function list<T extends z.ZodType>(item: T, unique: boolean) {
  const schema = z.array(item, { error: "must be an array" });
  if (!unique) return schema;
  return schema.superRefine((values, ctx) => {
    const seen = new Set<unknown>();
    for (const [i, value] of values.entries()) {
      if (seen.has(value)) {
        ctx.addIssue({ code: "custom", path: [i], message: "is listed twice" });
        return;
      }
      seen.add(value);
    }
  });
}

export function exactlyOneOf(fields: string[], required: boolean): Check {
  return (value, ctx) => {
    const count = fields.filter((f) => value[f] !== undefined).length;
    if (count > 1 || (required && count === 0)) {
      ctx.addIssue({ code: "custom", path: [], message: `${required ? "needs exactly one of" : "takes at most one of"} ${fields.join(", ")}` });
    }
  };
}

/** At least one of `fields` given: a list or map (`[name, true]`) only when it has entries. */
export function atLeastOneOf(fields: [string, boolean][]): Check {
  const given = (value: unknown, hasEntries: boolean) => value !== undefined && (!hasEntries || Object.keys(value as object).length > 0);
  return (value, ctx) => {
    if (!fields.some(([f, hasEntries]) => given(value[f], hasEntries))) {
      ctx.addIssue({ code: "custom", path: [], message: `needs at least one of ${fields.map(([f]) => f).join(", ")}` });
    }
  };
}

/** `field` must not exceed `other` (its value, else its default). */
export function notAbove(field: string, other: string, otherDefault: number | undefined): Check {
  return (value, ctx) => {
    const limit = (value[other] as number | undefined) ?? otherDefault;
    if (typeof value[field] === "number" && limit !== undefined && (value[field] as number) > limit) {
      ctx.addIssue({ code: "custom", path: [field], message: `must not exceed ${other}` });
    }
  };
}

/** A configuration message: only its fields, then the rules that span them. */
export function section<Shape extends z.ZodRawShape>(shape: Shape, checks: Check[]) {
  const object = z.strictObject(shape, { error: (issue) => (issue.code === "unrecognized_keys" ? undefined : "must be an object") });
  if (checks.length === 0) return object;
  return object.superRefine((value, ctx) => { for (const check of checks) check(value as Record<string, unknown>, ctx); });
}
