/**
 * What a running `flashsale up` tells the other commands (load, status, dlq): the sale, the gateway URL, the Redis and
 * Kafka addresses and the metrics URLs. Written to `$FSE_HOME/run/cli/<sale>.json` and `current.json` while it runs,
 * removed when it stops, so `flashsale load` works without flags right after `flashsale up`.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliEnv, type Env, fseHome } from './env.ts';

export interface SessionTls {
  enabled: boolean;
  caFile?: string;
  insecureSkipVerify: boolean;
}

export interface UpSession {
  sale: string;
  pid: number;
  gatewayUrl: string;
  gatewayMetricsUrl: string;
  processorMetricsUrls: string[];
  redis: string;
  redisMode: 'single' | 'cluster';
  kafka: string;
  /** TLS trust of Redis and Kafka (switch, CA file path, skipped verification): never a secret */
  tls?: { redis: SessionTls; kafka: SessionTls };
  startedAt: string;
  logs: Record<string, string>;
}

export function sessionDir(env: Env = cliEnv()): string {
  return join(fseHome(env), 'run', 'cli');
}

export async function writeSession(s: UpSession): Promise<string> {
  const dir = sessionDir();
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${s.sale}.json`);
  const text = `${JSON.stringify(s, null, 2)}\n`;
  await writeFile(file, text);
  await writeFile(join(dir, 'current.json'), text);
  return file;
}

export async function removeSession(s: UpSession): Promise<void> {
  const dir = sessionDir();
  await rm(join(dir, `${s.sale}.json`), { force: true });
  const current = await readSession();
  if (current?.pid === s.pid) await rm(join(dir, 'current.json'), { force: true });
}

/** The session of `sale`, or the most recent one; null when none runs (a stale file of a dead process is ignored). */
export async function readSession(sale?: string): Promise<UpSession | null> {
  try {
    const s = JSON.parse(await readFile(join(sessionDir(), `${sale ?? 'current'}.json`), 'utf8')) as UpSession;
    try {
      process.kill(s.pid, 0);
    } catch {
      return null;
    }
    return s;
  } catch {
    return null;
  }
}
