/**
 * The CLI's one reader of `process.env` (docs/architecture.md: configuration comes from one module per service):
 * the credential and TLS variables that security.ts parses (the gateway's and processor's own names), FSE_HOME for
 * the session files and the compile cache, and PATH and HOME handed to the children of `flashsale up`. Everything
 * else takes an `Env`.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export type Env = Readonly<Record<string, string | undefined>>;

/** The environment the command was started with. */
export const cliEnv = (): Env => process.env;

/** The CLI's cache and state directory: `$FSE_HOME`, else `~/.cache/flash-sale-engine`. */
export const fseHome = (env: Env = process.env): string =>
  env.FSE_HOME || join(homedir(), '.cache', 'flash-sale-engine');

/**
 * What every child of `flashsale up` starts from, before the variables of its sale (no secret of the caller's).
 * NODE_COMPILE_CACHE: with the compiled code (and the stripped TypeScript) cached, a service started a second time never
 * loads Node's TypeScript loader, 15-25 MB less peak RSS per process (docs/benchmarks.md, "Memory"). A caller's own
 * NODE_COMPILE_CACHE, or NODE_DISABLE_COMPILE_CACHE, is kept.
 */
export const childBaseEnv = (env: Env = process.env): Record<string, string> => {
  const base: Record<string, string> = { PATH: env.PATH ?? '', HOME: env.HOME ?? '' };
  if (env.NODE_DISABLE_COMPILE_CACHE) base.NODE_DISABLE_COMPILE_CACHE = env.NODE_DISABLE_COMPILE_CACHE;
  else base.NODE_COMPILE_CACHE = env.NODE_COMPILE_CACHE || join(fseHome(env), 'compile-cache');
  return base;
};
