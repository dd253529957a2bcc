import fc from "fast-check";
import type { EventMeta, JsonSchema } from "@orderflow/events";

// Characters that stress the header percent-encoding: '%', space, '"', controls, an
// already-encoded sequence, plus any code point (astral ones become surrogate pairs).
const unit = fc.oneof(
  fc.constantFrom("%", "%25", " ", '"', "\u0000", "\r\n", "é", "€", "😀"),
  fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
);

/** Well-formed text whose UTF-16 length (what zod's min/max count) is within bounds. */
export const text = (minLength = 0, maxLength = 64): fc.Arbitrary<string> =>
  fc.string({ unit, minLength, maxLength }).filter((s) => s.length >= minLength && s.length <= maxLength);

/** Like `text`, without NUL: the catalog's strings refuse it (SafeString), which JSON Schema does not say. */
const dataText = (minLength = 0, maxLength = 64): fc.Arbitrary<string> =>
  text(minLength, maxLength).map((s) => s.replaceAll("\u0000", "\u0001"));

const SUPPORTED = new Set([
  "$schema",
  "$id",
  "title",
  "description",
  "type",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "minItems",
  "maxItems",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "enum",
  // Only with a pattern that says the same (zod's date-time), which is what values are drawn from.
  "format",
]);

/**
 * Valid values for the subset of JSON Schema that the catalog's exported schemas use. Throws on
 * anything else, so a catalog change that needs more makes the property tests fail loudly.
 */
export function arbitraryFor(schema: JsonSchema): fc.Arbitrary<unknown> {
  const unsupported = Object.keys(schema).filter((k) => !SUPPORTED.has(k));
  if (unsupported.length) throw new Error(`arbitraryFor: unsupported keywords ${unsupported.join(", ")}`);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.format !== undefined && !schema.pattern) throw new Error("arbitraryFor: format without a pattern");
  switch (schema.type) {
    case "boolean":
      return fc.boolean();
    case "object": {
      const properties = Object.entries(schema.properties ?? {}).map(([key, sub]) => {
        if (typeof sub === "boolean") throw new Error(`arbitraryFor: boolean schema at ${key}`);
        return [key, arbitraryFor(sub)] as const;
      });
      return fc.record(Object.fromEntries(properties), { requiredKeys: schema.required ?? [] });
    }
    case "array": {
      if (typeof schema.items !== "object" || Array.isArray(schema.items)) {
        throw new Error("arbitraryFor: array items must be one schema");
      }
      return fc.array(arbitraryFor(schema.items), {
        minLength: schema.minItems ?? 0,
        maxLength: schema.maxItems ?? 10,
      });
    }
    case "string":
      return schema.pattern
        ? fc.stringMatching(new RegExp(schema.pattern))
        : dataText(schema.minLength ?? 0, schema.maxLength ?? 64);
    case "integer": {
      const min = typeof schema.exclusiveMinimum === "number" ? schema.exclusiveMinimum + 1 : schema.minimum;
      const max = typeof schema.exclusiveMaximum === "number" ? schema.exclusiveMaximum - 1 : schema.maximum;
      return fc.integer({ min: min ?? Number.MIN_SAFE_INTEGER, max: max ?? Number.MAX_SAFE_INTEGER });
    }
    default:
      throw new Error(`arbitraryFor: unsupported type ${JSON.stringify(schema.type)}`);
  }
}

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

/** Any meta `encode` accepts. */
export const metaArb: fc.Arbitrary<EventMeta> = fc.record({
  id: fc.uuid({ version: [4, 5, 7] }),
  source: fc.oneof(fc.constantFrom("/orderflow/order", "/orderflow/saga"), text(1, 64)),
  time: fc.date({
    min: new Date("0000-01-01T00:00:00.000Z"),
    max: new Date("9999-12-31T23:59:59.999Z"),
    noInvalidDate: true,
  }),
  correlationId: text(1, 128),
  causationId: maybe(text(1, 128)),
  traceparent: maybe(fc.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)),
  // '%' is legal in tracestate values, which travel undecoded.
  tracestate: maybe(fc.stringMatching(/^[a-z]{1,8}=[\x21-\x2b\x2d-\x3c\x3e-\x7e]{1,16}$/)),
});
