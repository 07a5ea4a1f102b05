/**
 * Build folders (`dirs.build/<prefix><random>`) a killed build left behind. Only the caller's own prefixes are removed,
 * and only under the caller's lock: then none of them is in use.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dirs } from './paths.ts';

export function removeBuildLeftovers(prefixes: readonly string[]): void {
  for (const d of existsSync(dirs.build) ? readdirSync(dirs.build) : [])
    if (prefixes.some((p) => d.startsWith(p))) rmSync(join(dirs.build, d), { recursive: true, force: true });
}
