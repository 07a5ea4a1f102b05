/**
 * The Lua script registry. Scripts live in `lua/<name>.lua`; each is read once and registered
 * on the client with ioredis `defineCommand`, which calls EVALSHA and falls back to EVAL on NOSCRIPT
 * (also per node on a Cluster).
 */
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

export const LUA_DIR = new URL('../../lua/', import.meta.url);

/**
 * name -> number of KEYS the script takes. Add a script here and in lua/. The count is fixed so ioredis routes (and
 * auto-pipelines) a call on a Cluster by its first key; a script over N orders of an item takes the per-order keys'
 * prefixes as arguments (same hash tag, same slot).
 */
export const SCRIPTS = {
  inventory_seed: 2,
  /** N orders of one item (lua/inventory_reserve.lua) */
  inventory_reserve: 3,
  /** confirms or releases N holds of one item (lua/inventory_settle.lua) */
  inventory_settle: 3,
  inventory_expire: 3,
  inventory_audit: 3,
  /** N orders of one item (lua/order_admit.lua, common/src/order-admit.ts) */
  order_admit: 1,
  /** the stored 202s of N orders of one item (lua/order_answers_store.lua) */
  order_answers_store: 1,
  order_cancel: 1,
  order_stuck: 1,
  /** N order hashes of one item: the QUEUED ones sent before a time (lua/order_stuck_find.lua) */
  order_stuck_find: 1,
  order_refund: 2,
  rate_limit: 1,
  inventory_bucket_claim: 3,
  inventory_bucket_take: 2,
  inventory_bucket_commit: 4,
  inventory_bucket_settle: 5,
  inventory_bucket_give: 2,
  inventory_bucket_expire: 3,
  inventory_bucket_seed: 1,
  inventory_bucket_adjust: 2,
} as const satisfies Record<string, number>;

export type ScriptName = keyof typeof SCRIPTS;

const sources = new Map<string, string>();
export function scriptSource(name: string): string {
  let src = sources.get(name);
  if (src === undefined) {
    src = readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8');
    sources.set(name, src);
  }
  return src;
}

export const ALL_SCRIPTS = Object.keys(SCRIPTS) as ScriptName[];

/**
 * Register `names` on the client (default: every script). A service registers only the scripts it calls: ioredis
 * copies every registered script onto each Pipeline it builds, and auto-pipelining builds one per flush (17-22 µs a
 * pipeline with all twenty scripts against 4-7 µs with four, measured on this machine kind).
 */
export function defineScripts(client: Redis | Cluster, names: readonly ScriptName[] = ALL_SCRIPTS): void {
  for (const name of names) {
    client.defineCommand(name, { numberOfKeys: SCRIPTS[name], lua: scriptSource(name) });
  }
}

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/** Call a registered script: keys first, then args. */
export function callScript(
  client: Redis | Cluster,
  name: ScriptName,
  keys: string[],
  args: (string | number)[] = [],
): Promise<unknown> {
  const fn = (client as unknown as Record<string, ScriptFn>)[name];
  if (typeof fn !== 'function') {
    throw new Error(`Lua script "${String(name)}" is not registered on this client (createRedis's scripts list)`);
  }
  return fn.call(client, ...keys, ...args);
}
