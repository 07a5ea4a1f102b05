/**
 * V8 heap settings shared by the gateway and the processor, measured under the end-to-end load (docs/benchmarks.md,
 * "Memory"). Two V8 defaults make most of both services' peak RSS:
 *
 * - the young generation grows to 2 x 64 MB semi-spaces (Node 24): 128 MB of a 270-411 MB peak. Capped at 8 MB each
 *   (`--max-semi-space-size`), the same work fits in 16 MB at the same CPU per order;
 * - the old generation is allowed to grow to up to 4x what survived the last full GC before the next one: with the
 *   small young generation, short-lived request and order objects are promoted, and the old space filled with them up
 *   to 110-170 MB while 30-40 MB of it was live. `--heap-growing-percent` makes the next full GC come when the old
 *   space has grown by that share instead (V8's own factor: 1.1 to 4). No ceiling is set: a larger live set still
 *   gets the room it needs, only later garbage is collected sooner.
 *
 * Both are start-up flags of V8 (the first cannot change once the heap exists, the second is refused in NODE_OPTIONS),
 * so a process started without them replaces itself (`process.execve`, same pid, before anything is opened) with one
 * that has them; whoever starts the service (the image, the operator, `flashsale up`, the tests) needs no flag of its
 * own.
 */
import { flushCompileCache } from 'node:module';

export interface HeapSettings {
  /** --max-semi-space-size, MB (0: V8's default, 64 MB on Node 24) */
  maxSemiSpaceMb: number;
  /** --heap-growing-percent (0: V8's own growing factor) */
  heapGrowingPercent: number;
  /** the environment of the re-executed process: this one's, with the compile cache on (`withCompileCache`) */
  env: Record<string, string | undefined>;
}

/** The V8 flags of these settings that `execArgv` does not already have (a setting of 0 adds none). */
export function heapFlags(
  s: Pick<HeapSettings, 'maxSemiSpaceMb' | 'heapGrowingPercent'>,
  execArgv: readonly string[] = [],
): string[] {
  const has = (flag: string) => execArgv.some((a) => a.startsWith(flag));
  const add: string[] = [];
  if (s.maxSemiSpaceMb > 0 && !has('--max-semi-space-size')) add.push(`--max-semi-space-size=${s.maxSemiSpaceMb}`);
  if (s.heapGrowingPercent > 0 && !has('--heap-growing-percent')) {
    add.push(`--heap-growing-percent=${s.heapGrowingPercent}`);
  }
  return add;
}

/**
 * Re-execute this process with the heap flags it lacks (a flag already given, or a setting of 0, is left alone), and
 * with Node's compile cache on (compile-cache.ts): the new process then loads every module from the cache, without
 * the TypeScript stripper (about 18 MB resident) and without compiling again what this one just compiled.
 */
export function applyHeapSettings(s: HeapSettings): void {
  const add = heapFlags(s, process.execArgv);
  if (add.length === 0 || !process.execve) return;
  // a process that is about to be replaced never reaches the exit that writes the cache
  flushCompileCache();
  process.execve(process.execPath, [process.execPath, ...add, ...process.execArgv, ...process.argv.slice(1)], s.env);
}
