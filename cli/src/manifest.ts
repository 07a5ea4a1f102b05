/**
 * Reading a FlashSale manifest (YAML or JSON, one document or several) and validating it with the schema the CRD is
 * generated from, so `flashsale up` refuses what the API server refuses. Problems name the field path.
 */
import { readFile } from 'node:fs/promises';
import { FLASHSALE_KIND, type FlashSaleManifest, flashSaleManifestSchema } from '@flashsale/common';
import { parseAllDocuments } from 'yaml';

export class ManifestError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`${file} is not a valid FlashSale:\n  ${problems.join('\n  ')}`);
    this.name = 'ManifestError';
    this.problems = problems;
  }
}

/** ['spec', 'items', 0, 'quantity'] -> "spec.items[0].quantity" */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(document)';
}

/** Validate a parsed document; returns the manifest with defaults applied, or throws ManifestError. */
export function validateManifest(doc: unknown, file = 'manifest'): FlashSaleManifest {
  const r = flashSaleManifestSchema.safeParse(doc);
  if (r.success) return r.data;
  throw new ManifestError(
    file,
    r.error.issues.map((i) => `${fieldPath(i.path)}: ${i.message}`),
  );
}

/** Parse YAML/JSON text and pick the FlashSale document (the only one, or the one named `name`). */
export function parseManifest(text: string, file = 'manifest', name?: string): FlashSaleManifest {
  const docs = parseAllDocuments(text);
  const parsed: unknown[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) {
      throw new ManifestError(
        file,
        d.errors.map((e) => `line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`),
      );
    }
    const v = d.toJS();
    if (v !== null && v !== undefined) parsed.push(v);
  }
  const sales = parsed.filter((d) => (d as { kind?: unknown }).kind === FLASHSALE_KIND);
  const pick = name
    ? sales.find((d) => (d as { metadata?: { name?: unknown } }).metadata?.name === name)
    : sales.length === 1
      ? sales[0]
      : parsed.length === 1
        ? parsed[0]
        : undefined;
  if (pick === undefined) {
    const what = name ? `no FlashSale named "${name}"` : `${sales.length} FlashSale documents (choose one with --name)`;
    throw new ManifestError(file, [`(document): ${parsed.length === 0 ? 'the file is empty' : what}`]);
  }
  return validateManifest(pick, file);
}

export async function loadManifest(file: string, name?: string): Promise<FlashSaleManifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ManifestError(file, [
      `(file): cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    ]);
  }
  return parseManifest(text, file, name);
}
