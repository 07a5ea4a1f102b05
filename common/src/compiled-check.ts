/**
 * A zod schema compiled to a JSON Schema validator (ajv) for a hot path: the check of every order message, written by
 * the gateway and read by the processor, and of every request to a gateway route (gateway/src/route-validator.ts,
 * through `compiledValidator`). zod stays the contract and the source of the JSON Schema
 * (`z.toJSONSchema`); a value the compiled check refuses is parsed by zod again, so the error is zod's and names the
 * field. zod's parse builds a new object field by field (a result per field, then a copy); the compiled check reads
 * the value in place, which is why the processor decodes an order with far fewer allocations
 * (docs/benchmarks.md, issue 17).
 *
 * Only for schemas whose output is their input (no defaults, transforms or coercion): a valid value is returned as it
 * is. Lengths count code points and patterns run without the `u` flag, as zod's do; formats are not checked by ajv,
 * the patterns zod emits for them are. compiled-check.test.ts holds both to the same verdict on broken messages, in
 * both directions (a check stricter than zod would only cost time: zod has the last word).
 */
import { Ajv } from 'ajv';
import { z } from 'zod';

/**
 * The JSON Schema validator of a zod schema's output, compiled on first use (every process imports the contract, few
 * of them check messages). True only for a value that is already its own parse result: a value that lacks a field
 * with a default is refused here and left to zod, which fills it in.
 */
export function compiledValidator(schema: z.ZodType): (value: unknown) => boolean {
  let valid: ((value: unknown) => boolean) | undefined;
  return (value) => {
    // lengths in code points (ajv's default, as zod 4 counts them); patterns without the `u` flag, as zod runs them;
    // logger: false keeps ajv's notices off every process's stderr (strict mode throws, it does not log)
    valid ??= new Ajv({
      unicodeRegExp: false,
      strict: true,
      validateFormats: false,
      logger: false,
    }).compile(z.toJSONSchema(schema, { target: 'draft-7', io: 'output' }));
    return valid(value);
  };
}

/** The compiled check, then zod's parse for whatever it refuses (so the error is zod's, naming the field). */
export function compiledCheck<T extends z.ZodType>(schema: T): (value: unknown) => z.output<T> {
  const valid = compiledValidator(schema);
  return (value) => (valid(value) ? (value as z.output<T>) : schema.parse(value));
}
