/**
 * fast-check arbitraries from JSON Schemas (the subset openapi.yaml uses: type, const, enum, oneOf,
 * anyOf, allOf of objects, properties, required, additionalProperties, items, min/max, lengths, pattern, format uuid,
 * examples): values a schema should accept, and values it should reject. Neither is trusted
 * blindly: the spec fuzzer asks the document's own validator which side a request is on.
 * No npm package does this with fast-check and is kept up (json-schema-fast-check is a 0.0.x on
 * fast-check 1), hence this small one.
 */
import fc from 'fast-check';

export type Schema = Record<string, any> | boolean | undefined;

/** Below this many levels, optional properties and array items are left out (no runaway sizes). */
const MAX_DEPTH = 6;
const MAX_ITEMS = 3;
const MAX_STRING = 20;

const anyJson = fc.jsonValue({ maxDepth: 2 });
/** One value of each JSON type, to put where a schema wants another type. */
const SAMPLES: unknown[] = [null, true, 0, 7, 1.5, -1, '', 'x', [], [1], {}, { a: 1 }];

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/**
 * An `allOf` of object schemas as one schema (properties and required merged), the way the
 * document uses it: one request schema extending another.
 */
function merged(s: Record<string, any>): Record<string, any> {
  if (!s.allOf) return s;
  const { allOf, ...rest } = s;
  return (allOf as Record<string, any>[]).map(merged).reduce(
    (acc, part) => ({
      ...acc,
      ...part,
      properties: { ...acc.properties, ...part.properties },
      required: [...new Set([...(acc.required ?? []), ...(part.required ?? [])])],
    }),
    rest,
  );
}

/** The types a schema allows; empty when it does not say (any). */
function typesOf(s: Record<string, any>): string[] {
  if (s.type) return Array.isArray(s.type) ? s.type : [s.type];
  if (s.properties || s.required) return ['object'];
  if (s.items) return ['array'];
  return [];
}

const allows = (types: string[], v: unknown) => types.includes(jsonType(v)) || (jsonType(v) === 'integer' && types.includes('number'));

function examplesOf(s: Record<string, any>): unknown[] {
  return [...(s.examples ?? []), ...('example' in s ? [s.example] : []), ...('default' in s ? [s.default] : [])];
}

function stringValue(s: Record<string, any>): fc.Arbitrary<string> {
  if (s.format === 'uuid') return fc.uuid();
  const minLength = s.minLength ?? 0;
  const maxLength = s.maxLength ?? Infinity;
  if (s.pattern) return fc.stringMatching(new RegExp(s.pattern)).filter((v) => v.length >= minLength && v.length <= maxLength);
  return fc.string({ minLength, maxLength: Math.min(maxLength, Math.max(minLength, MAX_STRING)) });
}

function objectValue(s: Record<string, any>, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const required: string[] = s.required ?? [];
  const props: Record<string, Schema> = s.properties ?? {};
  if (!s.properties) {
    const free = depth < MAX_DEPTH ? fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: MAX_ITEMS }) : fc.constant({});
    return required.length ? fc.tuple(free, fc.tuple(...required.map(() => anyJson))).map(([o, vs]) => ({ ...o, ...Object.fromEntries(required.map((k, i) => [k, vs[i]])) })) : free;
  }
  const keys = depth < MAX_DEPTH ? Object.keys(props) : required;
  const model = Object.fromEntries(keys.map((k) => [k, validValue(props[k], depth + 1)]));
  return fc.record(model, { requiredKeys: required.filter((k) => k in model) });
}

function valueOfType(type: string, s: Record<string, any>, depth: number): fc.Arbitrary<unknown> {
  switch (type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer': {
      // Small ones mostly, and the edges: the bounds, or beyond 2^53 where the schema sets none.
      const min = s.minimum ?? -1000;
      const max = s.maximum ?? Math.max(1000, min);
      const edges = [min, max, ...(s.maximum === undefined ? [2 ** 53 + 2, 2 ** 63] : []), ...(s.minimum === undefined ? [-(2 ** 63)] : [])];
      return fc.oneof({ arbitrary: fc.integer({ min, max }), weight: 4 }, fc.constantFrom(...edges));
    }
    case 'number':
      return fc.double({ min: s.minimum ?? -1000, max: s.maximum ?? 1000, noNaN: true, noDefaultInfinity: true });
    case 'string':
      return stringValue(s);
    case 'array': {
      const minLength = s.minItems ?? 0;
      const maxLength = depth < MAX_DEPTH ? Math.min(s.maxItems ?? MAX_ITEMS, Math.max(minLength, MAX_ITEMS)) : minLength;
      return fc.array(validValue(s.items, depth + 1), { minLength, maxLength });
    }
    default:
      return objectValue(s, depth);
  }
}

/** Values the schema should accept; its examples (and default) come up often, as in schemathesis. */
export function validValue(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (schema === undefined || schema === true) return anyJson;
  if (schema === false) throw new Error('no value matches the schema false');
  const s = merged(schema);
  if ('const' in s) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alternatives: Schema[] | undefined = s.oneOf ?? s.anyOf;
  const types = typesOf(s);
  const generated = alternatives
    ? fc.oneof(...alternatives.map((a) => validValue(a, depth + 1)))
    : types.length
      ? fc.oneof(...types.map((t) => valueOfType(t, s, depth)))
      : anyJson;
  const examples = examplesOf(s);
  return examples.length ? fc.oneof(fc.constantFrom(...examples), generated) : generated;
}

/** Ways to break a string, a number or an array on its own constraints. */
function brokenConstraints(s: Record<string, any>, types: string[]): fc.Arbitrary<unknown>[] {
  const out: fc.Arbitrary<unknown>[] = [];
  if (types.includes('string')) {
    if (s.minLength) out.push(fc.string({ maxLength: s.minLength - 1 }));
    if (s.maxLength !== undefined) out.push(fc.string({ minLength: s.maxLength + 1, maxLength: s.maxLength + 5 }));
    if (s.pattern || s.format) out.push(fc.string({ maxLength: MAX_STRING }));
  }
  if (types.includes('integer') || types.includes('number')) {
    if (s.minimum !== undefined) out.push(fc.integer({ min: s.minimum - 100, max: s.minimum - 1 }));
    if (s.maximum !== undefined) out.push(fc.integer({ min: s.maximum + 1, max: s.maximum + 100 }));
    if (types.includes('integer') && !types.includes('number')) out.push(fc.constant((s.minimum ?? 0) + 0.5));
  }
  if (types.includes('array')) {
    if (s.minItems) out.push(fc.array(validValue(s.items), { maxLength: s.minItems - 1 }));
    if (s.maxItems !== undefined) out.push(fc.array(validValue(s.items), { minLength: s.maxItems + 1, maxLength: s.maxItems + 1 }));
    const badItem = invalidValue(s.items);
    if (badItem) {
      out.push(fc.tuple(fc.array(validValue(s.items), { maxLength: 2 }), badItem).map(([items, bad]) => [...items, bad]));
    }
  }
  return out;
}

/** Ways to break an object: a property broken, a required one missing, an extra one where none may be. */
function brokenObject(s: Record<string, any>): fc.Arbitrary<unknown>[] {
  const out: fc.Arbitrary<unknown>[] = [];
  const whole = objectValue(s, 0);
  for (const [key, prop] of Object.entries<Schema>(s.properties ?? {})) {
    const bad = invalidValue(prop);
    if (bad) out.push(fc.tuple(whole, bad).map(([o, v]) => ({ ...o, [key]: v })));
  }
  for (const key of s.required ?? []) {
    out.push(whole.map((o) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key))));
  }
  if (s.additionalProperties === false) out.push(whole.map((o) => ({ ...o, unexpected_field: 1 })));
  return out;
}

/** Values the schema should reject, or undefined when it accepts everything. */
export function invalidValue(schema: Schema): fc.Arbitrary<unknown> | undefined {
  if (schema === undefined || schema === true || schema === false) return undefined;
  const s = merged(schema);
  const out: fc.Arbitrary<unknown>[] = [];
  if ('const' in s) out.push(fc.oneof(fc.constantFrom(...SAMPLES), fc.string()).filter((v) => v !== s.const));
  else if (s.enum) out.push(fc.oneof(fc.constantFrom(...SAMPLES), fc.string()).filter((v) => !s.enum.includes(v)));
  const alternatives: Schema[] | undefined = s.oneOf ?? s.anyOf;
  if (alternatives) {
    for (const a of alternatives) {
      const bad = invalidValue(a);
      if (bad) out.push(bad);
    }
  }
  const types = typesOf(s);
  if (types.length) {
    const others = SAMPLES.filter((v) => !allows(types, v));
    if (others.length) out.push(fc.constantFrom(...others));
    out.push(...brokenConstraints(s, types));
    if (types.includes('object')) out.push(...brokenObject(s));
  }
  return out.length ? fc.oneof(...out) : undefined;
}
