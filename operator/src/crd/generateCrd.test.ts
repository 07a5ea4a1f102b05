import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { flashSaleManifestSchema } from '@flashsale/common';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CRD_FILE, generateCrd, renderCrdYaml } from './generateCrd.ts';

const root = join(import.meta.dirname, '../../..');

function walk(node: unknown, path: string, visit: (n: Record<string, unknown>, path: string) => void) {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return;
  const n = node as Record<string, unknown>;
  visit(n, path);
  for (const [k, v] of Object.entries((n.properties as Record<string, unknown>) ?? {})) walk(v, `${path}.${k}`, visit);
  if (n.items) walk(n.items, `${path}[]`, visit);
  if (n.additionalProperties && typeof n.additionalProperties === 'object')
    walk(n.additionalProperties, `${path}{}`, visit);
}

describe('FlashSale CRD', () => {
  it('the committed CRD equals the one generated from the zod schema (run `node tools/gen-crd.ts`)', () => {
    expect(readFileSync(join(root, CRD_FILE), 'utf8')).toBe(renderCrdYaml());
  });

  it('is structural: every node has a type (or int-or-string), no $schema, no additionalProperties: false', () => {
    const crd = generateCrd() as { spec: { versions: { schema: { openAPIV3Schema: unknown } }[] } };
    const schema = crd.spec.versions[0]?.schema.openAPIV3Schema;
    const problems: string[] = [];
    walk(schema, '', (n, path) => {
      if (!n.type && !n['x-kubernetes-int-or-string']) problems.push(`${path}: no type`);
      if ('$schema' in n) problems.push(`${path}: $schema`);
      if (n.additionalProperties === false) problems.push(`${path}: additionalProperties false`);
      if ('anyOf' in n || 'oneOf' in n) problems.push(`${path}: anyOf/oneOf`);
    });
    expect(problems).toEqual([]);
  });

  it('carries the CEL rules, defaults, list-map keys and the status subresource', () => {
    const text = renderCrdYaml();
    for (const s of [
      'endsAt must be after startsAt',
      'item ids must be unique',
      'partitions may only grow',
      'x-kubernetes-list-map-keys',
      'status: {}',
      'deletionPolicy',
    ]) {
      expect(text).toContain(s);
    }
    const crd = parse(text);
    const spec = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec;
    expect(spec.required).toEqual(['startsAt', 'endsAt', 'items']);
    expect(spec.properties.deletionPolicy.default).toBe('Retain');
    expect(spec.properties.topics.properties.partitions.default).toBe(12);
    expect(crd.spec.names.shortNames).toEqual(['fs']);
  });

  it('stockBuckets: 1..64, default 1, a transition rule refusing a change', () => {
    const crd = parse(readFileSync(join(root, CRD_FILE), 'utf8'));
    const item = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.items.items;
    const k = item.properties.stockBuckets;
    expect(k).toMatchObject({ type: 'integer', minimum: 1, maximum: 64, default: 1 });
    expect(k['x-kubernetes-validations']).toEqual([
      { rule: 'self == oldSelf', message: expect.stringMatching(/^stockBuckets cannot be changed/) },
    ]);
  });

  it.each(['examples/flashsale.yaml', 'examples/flashsale-keda.yaml', 'examples/flashsale-cluster.yaml'])(
    '%s is valid for the zod schema',
    (file) => {
      const doc = parse(readFileSync(join(root, file), 'utf8'));
      const r = flashSaleManifestSchema.safeParse(doc);
      expect(r.success ? [] : r.error.issues).toEqual([]);
    },
  );
});
