/**
 * The route validator (compiled check first, zod for what it refuses) against zod's own validator, on every request
 * part of every route, for the body identity and an authenticated one: the same value for what passes (defaults
 * filled in), the same errors for what does not, on generated nearly valid and arbitrary input.
 */
import fc from 'fast-check';
import type { FastifyRouteSchemaDef } from 'fastify/types/schema.js';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { identityRouteSchemas } from './route-schemas.ts';
import { routeValidatorCompiler } from './route-validator.ts';

const PARTS = ['body', 'headers', 'params'] as const;

function validators() {
  const out: { name: string; ours: (d: unknown) => unknown; zod: (d: unknown) => unknown }[] = [];
  for (const source of ['body', 'header'] as const) {
    const schemas = identityRouteSchemas(source === 'body' ? { source } : { source, header: 'x-buyer' });
    for (const [route, s] of Object.entries(schemas)) {
      for (const part of PARTS) {
        const schema = (s as Partial<Record<(typeof PARTS)[number], z.ZodType>>)[part];
        if (!schema) continue;
        const def = { schema, method: 'POST', url: route, httpPart: part } as FastifyRouteSchemaDef<z.ZodType>;
        out.push({
          name: `${source} ${route} ${part}`,
          ours: routeValidatorCompiler(def) as (d: unknown) => unknown,
          zod: validatorCompiler(def) as (d: unknown) => unknown,
        });
      }
    }
  }
  return out;
}

const anyJson = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 140 }),
  fc.array(fc.integer(), { maxLength: 3 }),
);
const text = fc.oneof(
  fc.constantFrom('u1', 'user-2', 'a', 'item_9', 'k-1', '', ' ', 'a b', 'ü', '\u{1F600}', 'a.b', '{a}'),
  fc.string({ maxLength: 140 }),
  fc.string({ unit: 'grapheme', maxLength: 70 }),
);
const nearlyValid = fc.record(
  {
    user_id: fc.oneof(text, anyJson),
    item_id: fc.oneof(text, anyJson),
    quantity: fc.oneof(fc.integer({ min: -2, max: 102 }), anyJson),
    amount: fc.oneof(fc.integer({ min: -2, max: 102 }), anyJson),
    request_id: fc.oneof(text, anyJson),
    order_id: fc.oneof(text, anyJson),
    'idempotency-key': fc.oneof(text, anyJson),
    'x-correlation-id': fc.oneof(text, anyJson),
    host: fc.constant('127.0.0.1'),
    extra: anyJson,
  },
  { requiredKeys: [] },
);
const input = fc.oneof({ weight: 5, arbitrary: nearlyValid }, fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined));

/** What a validator answered, comparable: the value (`true`: the input as it is), or the error's issues. */
function outcome(r: unknown, input: unknown): unknown {
  if (r === true) return { value: input };
  const { value, error } = r as { value?: unknown; error?: unknown };
  return error === undefined ? { value } : { error: JSON.parse(JSON.stringify(error)) };
}

describe('route validator: the compiled check, then zod', () => {
  const all = validators();

  it('covers the order routes and the status routes', () => {
    expect(all.map((v) => v.name)).toEqual(
      expect.arrayContaining([
        'body createOrder body',
        'body createOrder headers',
        'body buy body',
        'body orderStatus params',
        'header createOrder body',
      ]),
    );
  });

  it('answers as zod does on valid, defaulted and broken input', () => {
    let passed = 0;
    fc.assert(
      fc.property(input, (data) => {
        for (const v of all) {
          const input = structuredClone(data);
          const ours = outcome(v.ours(input), input);
          expect(ours, v.name).toEqual(outcome(v.zod(structuredClone(data)), undefined));
          if ((ours as { error?: unknown }).error === undefined) passed++;
        }
      }),
      { numRuns: 1500, seed: 17 },
    );
    // the property ran on input that passes as well as on input that does not
    expect(passed).toBeGreaterThan(100);
  });

  it('fills in the default of a body without quantity, as zod does', () => {
    const v = all.find((x) => x.name === 'body createOrder body');
    expect(v?.ours({ user_id: 'u1', item_id: 'a' })).toEqual({ value: { user_id: 'u1', item_id: 'a', quantity: 1 } });
    // a complete body passes as it is (fastify keeps the request's own object)
    expect(v?.ours({ user_id: 'u1', item_id: 'a', quantity: 2 })).toBe(true);
  });
});
