/**
 * Fills Node's compile cache for the image (the Dockerfile runs it as the image's user, with NODE_COMPILE_CACHE set;
 * common/src/compile-cache.ts says why). Each part's entry module runs as its container starts it, once with no V8
 * flags and once with the flags its heap re-execution adds (common/src/heap.ts: the cache is kept per set of flags),
 * and stops at its configuration check (an invalid LOG_LEVEL: exit 2), after its whole module graph was loaded and
 * compiled; Node writes the cache at that exit. Then each run is repeated and must find every TypeScript module in
 * the cache, or the build fails: a cache that misses would load the type stripper in every pod again.
 *
 *   NODE_COMPILE_CACHE=<dir> node tools/warm-compile-cache.ts
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { heapFlags } from '@flashsale/common';
import { envSchema as gatewayEnv } from '../gateway/src/config.ts';
import { envSchema as processorEnv } from '../processor/src/config.ts';

const root = resolve(import.meta.dirname, '..');
type HeapShape = {
  V8_MAX_SEMI_SPACE_MB: { parse(v: unknown): unknown };
  V8_HEAP_GROWING_PERCENT: { parse(v: unknown): unknown };
};
const defaultHeapFlags = (shape: HeapShape) =>
  heapFlags({
    maxSemiSpaceMb: Number(shape.V8_MAX_SEMI_SPACE_MB.parse(undefined)),
    heapGrowingPercent: Number(shape.V8_HEAP_GROWING_PERCENT.parse(undefined)),
  });

/** Each part's entry and the V8 flag sets its processes run with (its re-execution's, at the defaults). */
export const PARTS: { main: string; flagSets: string[][] }[] = [
  { main: 'gateway/src/main.ts', flagSets: [[], defaultHeapFlags(gatewayEnv.shape)] },
  { main: 'processor/src/main.ts', flagSets: [[], defaultHeapFlags(processorEnv.shape)] },
  { main: 'operator/src/main.ts', flagSets: [[]] },
];

/** The environment that stops a part at its configuration check (exit 2), after its modules were loaded. */
export const STOP_AT_CONFIG = { LOG_LEVEL: 'warm-compile-cache' };

/**
 * The TypeScript modules a run read from the cache and those it missed, from Node's debug lines
 * (NODE_DEBUG_NATIVE=COMPILE_CACHE: "reading cache from <file> for StrippedTypeScript <module>...success").
 */
export function cacheReads(stderr: string): { hits: number; misses: string[] } {
  const reads = stderr.split('\n').filter((l) => l.includes('reading cache') && l.includes('for StrippedTypeScript'));
  const misses = reads.filter((l) => !l.includes('success'));
  return { hits: reads.length - misses.length, misses };
}

function startUntilConfigCheck(main: string, flags: string[], debug: boolean): string {
  const r = spawnSync(process.execPath, [...flags, main], {
    cwd: root,
    env: { ...process.env, ...STOP_AT_CONFIG, ...(debug ? { NODE_DEBUG_NATIVE: 'COMPILE_CACHE' } : {}) },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 2 || !r.stderr.includes('LOG_LEVEL')) {
    const got = r.status ?? r.signal;
    throw new Error(
      `warm-compile-cache: ${main} ${flags.join(' ')} should stop at its LOG_LEVEL check (exit 2), got ${got}: ${r.stderr.slice(-2000)}`,
    );
  }
  return r.stderr;
}

function warm(): void {
  if (!process.env.NODE_COMPILE_CACHE)
    throw new Error('warm-compile-cache: set NODE_COMPILE_CACHE to the cache directory');
  for (const { main, flagSets } of PARTS) {
    for (const flags of flagSets) {
      startUntilConfigCheck(main, flags, false);
      const { hits, misses } = cacheReads(startUntilConfigCheck(main, flags, true));
      if (hits === 0 || misses.length > 0) {
        throw new Error(`warm-compile-cache: ${main} ${flags.join(' ')}: ${hits} hits, missed:\n${misses.join('\n')}`);
      }
      console.log(`warm-compile-cache: ${main} ${flags.join(' ') || '(no flags)'}: ${hits} TypeScript modules cached`);
    }
  }
}

if (import.meta.main) warm();
