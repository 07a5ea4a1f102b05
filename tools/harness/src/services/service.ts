/** The shape of one natively run service and helpers shared by them. */
import { connect } from 'node:net';
import type { Daemon } from '../proc.ts';
import { stopDaemons } from '../proc.ts';
import type { ServiceEndpoints, ServiceName } from '../types.ts';

export type Endpoint<K extends ServiceName> = NonNullable<ServiceEndpoints[K]>;

export interface NativeService<K extends ServiceName> {
  readonly name: K;
  install(): Promise<void>;
  /** Starts from fresh data (or keeps the data dir when keepData) and resolves once the service really answers. */
  start(started: Daemon[], opts: { keepData: boolean }): Promise<Endpoint<K>>;
  /** 'reverse': stop one process after the other, last started first (clients before their servers). */
  readonly stopOrder?: 'parallel' | 'reverse';
  /** services that must run before this one starts (started first by `up`, stopped after it by `down`) */
  readonly needs?: readonly ServiceName[];
  /** replaces the plain stop of `daemons` when stopping needs more (unmounts, iptables, ...); must be idempotent */
  stop?(daemons: Daemon[]): Promise<void>;
  /** A real request against the running service. */
  healthy(endpoint: Endpoint<K>): Promise<boolean>;
  /**
   * Brings a running service that is reused up to date with the working tree (the node: images rebuilt from the
   * current sources and imported), so a test run never exercises a stale build; returns the new endpoint.
   */
  refresh?(endpoint: Endpoint<K>): Promise<Endpoint<K>>;
}

/** Runs start(); on failure stops whatever it started before rethrowing. */
export async function startAll<T>(fn: (started: Daemon[]) => Promise<T>): Promise<{ daemons: Daemon[]; value: T }> {
  const started: Daemon[] = [];
  try {
    const value = await fn(started);
    return { daemons: started, value };
  } catch (e) {
    await stopDaemons(started).catch(() => {});
    throw e;
  }
}

/** Sends one inline Redis command over a raw socket and returns the first reply line. */
export function redisCommand(port: number, command: string, host = '127.0.0.1', timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host });
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`redis ${host}:${port} did not answer ${command}`));
    }, timeoutMs);
    s.once('connect', () => s.write(`${command}\r\n`));
    s.on('data', (b: Buffer) => {
      buf += b.toString();
      if (buf.includes('\r\n')) {
        clearTimeout(timer);
        s.end();
        resolve(buf);
      }
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export async function redisPing(port: number): Promise<boolean> {
  try {
    return (await redisCommand(port, 'PING')).startsWith('+PONG');
  } catch {
    return false;
  }
}
