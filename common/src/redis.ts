/**
 * Redis connection from configuration: one Redis or a Redis Cluster (ioredis `Cluster`),
 * with every Lua script of `lua/` registered as a command (EVALSHA, EVAL on NOSCRIPT).
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import { ALL_SCRIPTS, defineScripts, type ScriptName } from './scripts.ts';
import { type TlsOption, tlsConnectOptions, tlsSettings } from './tls.ts';

export const redisModeSchema = z.enum(['single', 'cluster']);

export interface RedisEndpoint {
  host: string;
  port: number;
}

export interface RedisConnectionConfig {
  mode: 'single' | 'cluster';
  /** one address for single, seed nodes for cluster */
  nodes: RedisEndpoint[];
  username?: string | undefined;
  password?: string | undefined;
  /** true: TLS with the default roots; settings: a private CA and/or skipped verification (common/src/tls.ts) */
  tls?: TlsOption;
  db?: number | undefined;
}

/** "host:port[,host:port...]" -> endpoints; throws a message that names the bad part. */
export function parseAddrList(text: string, what = 'address'): RedisEndpoint[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new Error(`${what} is empty: expected host:port[,host:port...]`);
  return parts.map((p) => {
    const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(p);
    const port = m ? Number(m[2]) : Number.NaN;
    if (!m?.[1] || port < 1 || port > 65535) throw new Error(`${what} "${p}" is not host:port`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  });
}

export type RedisClient = Redis | Cluster;

/**
 * `extra` applies to every node connection; `clusterExtra` to the Cluster client itself (cluster mode only);
 * `scripts` are the Lua scripts callScript may call on this client (scripts.ts: each one registered costs every
 * auto-pipelined flush a little).
 */
export function createRedis(
  cfg: RedisConnectionConfig,
  extra: Partial<RedisOptions> = {},
  clusterExtra: Partial<ClusterOptions> = {},
  scripts: readonly ScriptName[] = ALL_SCRIPTS,
): RedisClient {
  const tls = tlsSettings(cfg.tls);
  const common: RedisOptions = {
    username: cfg.username,
    password: cfg.password,
    ...(tls.enabled ? { tls: tlsConnectOptions(tls) } : {}),
    maxRetriesPerRequest: 3,
    enableAutoPipelining: true,
    ...extra,
  };
  let client: RedisClient;
  if (cfg.mode === 'cluster') {
    client = new Cluster(cfg.nodes, {
      redisOptions: common,
      enableAutoPipelining: true,
      scaleReads: 'master',
      // Loopback/NATed clusters announce addresses clients must reach as given.
      natMap: undefined,
      ...clusterExtra,
    });
  } else {
    const node = cfg.nodes[0];
    if (!node) throw new Error('Redis address is missing');
    client = new Redis({ ...common, host: node.host, port: node.port, db: cfg.db ?? 0 });
  }
  defineScripts(client, scripts);
  return client;
}
