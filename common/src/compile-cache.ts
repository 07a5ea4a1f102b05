/**
 * Node's compile cache (`NODE_COMPILE_CACHE`) for the services. Node 24 runs the TypeScript sources by stripping their
 * types with a WebAssembly stripper that it loads on the first `.ts` module: about 18 MB resident for the life of the
 * process, and the stripping and compiling of every module at each start (docs/benchmarks.md, issue 17). The cache
 * keeps both results per file content, Node version, V8 flags and user; a process whose modules are all in it never
 * loads the stripper.
 *
 * The image ships a cache filled at build time (NODE_COMPILE_CACHE=/app/.node-compile-cache, read-only at run time;
 * tools/warm-compile-cache.ts). Elsewhere (the tests, a checkout) the heap re-execution (heap.ts, with the
 * environment the service's configuration gives it) turns it on in Node's own default place,
 * `<tmpdir>/node-compile-cache`, unless NODE_COMPILE_CACHE says where (an empty value is left alone, as Node leaves it: no cache) or NODE_DISABLE_COMPILE_CACHE turns it off.
 * `flashsale up` gives its children `$FSE_HOME/compile-cache` (cli/src/env.ts).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `env` with NODE_COMPILE_CACHE set (the services' configuration passes it to the heap re-execution). */
export function withCompileCache<E extends Record<string, string | undefined>>(env: E): E {
  if (env.NODE_COMPILE_CACHE !== undefined || env.NODE_DISABLE_COMPILE_CACHE) return env;
  return { ...env, NODE_COMPILE_CACHE: join(tmpdir(), 'node-compile-cache') };
}
