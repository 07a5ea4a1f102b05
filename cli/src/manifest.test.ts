import { describe, expect, it } from 'vitest';
import { fieldPath, ManifestError, parseManifest } from './manifest.ts';

const good = `
apiVersion: flashsale.dev/v1alpha1
kind: FlashSale
metadata: { name: s1 }
spec:
  startsAt: "2026-11-28T08:00:00Z"
  endsAt: "2026-11-28T10:00:00Z"
  items:
    - { id: a, quantity: 5 }
`;

const problems = (text: string): string[] => {
  try {
    parseManifest(text, 'm.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestError);
    return (e as ManifestError).problems;
  }
  throw new Error('expected a ManifestError');
};

describe('manifest validation', () => {
  it('accepts a valid manifest and applies the CRD defaults', () => {
    const m = parseManifest(good);
    expect(m.metadata.name).toBe('s1');
    expect(m.spec.topics.partitions).toBe(12);
    expect(m.spec.items[0]?.perUserLimit).toBe(0);
  });

  it('names the field path of every problem', () => {
    const p = problems(
      good
        .replace('quantity: 5', 'quantity: -1')
        .replace('endsAt: "2026-11-28T10:00:00Z"', 'endsAt: "2026-11-28T07:00:00Z"\n  topics: { partitions: 0 }'),
    );
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^spec\.items\[0\]\.quantity: /),
        expect.stringMatching(/^spec\.topics\.partitions: /),
        expect.stringMatching(/^spec\.endsAt: endsAt must be after startsAt/),
      ]),
    );
  });

  it('refuses unknown kinds, bad names, duplicate items, YAML errors and empty files', () => {
    expect(problems(good.replace('name: s1', 'name: Not_OK'))).toEqual([expect.stringMatching(/^metadata\.name: /)]);
    expect(problems(good.replace('kind: FlashSale', 'kind: Sale'))[0]).toMatch(/^kind: /);
    expect(problems(`${good}    - { id: a, quantity: 1 }\n`)).toEqual([
      expect.stringMatching(/^spec\.items\[1\]\.id: item ids must be unique/),
    ]);
    expect(problems('spec: [unclosed')[0]).toMatch(/^line \d+: /);
    expect(problems('')[0]).toMatch(/empty/);
  });

  it('picks a document by name from a multi-document file', () => {
    const two = `${good}---\n${good.replace('name: s1', 'name: s2')}`;
    expect(parseManifest(two, 'm', 's2').metadata.name).toBe('s2');
    expect(problems(two)[0]).toMatch(/2 FlashSale documents/);
  });

  it('formats paths like kubectl', () => {
    expect(fieldPath(['spec', 'items', 3, 'id'])).toBe('spec.items[3].id');
    expect(fieldPath([])).toBe('(document)');
  });
});
