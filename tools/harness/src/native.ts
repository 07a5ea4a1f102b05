/** The native provider: real processes from Debian packages, Maven Central jars and Go builds, state under FSE_HOME/run. */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installFor } from './install.ts';
import { dirs } from './paths.ts';
import type { Daemon } from './proc.ts';
import { isAlive, isOurs, readJson, removeFile, stopDaemons, withLock, writeFileAtomic } from './proc.ts';
import { kafka, kafka3 } from './services/kafka.ts';
import { kafkaSecure } from './services/kafka-secure.ts';
import { kube } from './services/kube.ts';
import { metrics } from './services/metrics.ts';
import { node } from './services/node.ts';
import { prometheus } from './services/prometheus.ts';
import { redis } from './services/redis.ts';
import { redisCluster } from './services/redis-cluster.ts';
import { redisTls } from './services/redis-tls.ts';
import type { Endpoint, NativeService } from './services/service.ts';
import { startAll } from './services/service.ts';
import type { Owner, ServiceEndpoints, ServiceName, ServiceProvider, ServiceStatus, UpOptions } from './types.ts';
import { ALL_SERVICES } from './types.ts';

const SERVICES: { [K in ServiceName]: NativeService<K> } = {
  redis,
  redisCluster,
  kafka,
  kafka3,
  kube,
  node,
  prometheus,
  redisTls,
  kafkaSecure,
  metrics,
};

/** `names` plus what they need, each after what it needs. */
function withNeeds(names: readonly ServiceName[]): ServiceName[] {
  const out: ServiceName[] = [];
  const add = (n: ServiceName) => {
    if (out.includes(n)) return;
    for (const dep of SERVICES[n].needs ?? []) add(dep);
    out.push(n);
  };
  for (const n of names) add(n);
  return out;
}

/** Every service that needs `name`, directly or through another. */
function dependentsOf(name: ServiceName): ServiceName[] {
  const all = Object.keys(SERVICES) as ServiceName[];
  return all.filter((n) => n !== name && withNeeds([n]).includes(name));
}

interface State {
  name: ServiceName;
  owner: Owner;
  startedAt: string;
  daemons: Daemon[];
  endpoint: unknown;
}

const statePath = (name: ServiceName) => join(dirs.run, 'state', `${name}.json`);
const readState = (name: ServiceName) => readJson<State>(statePath(name));

function log(msg: string) {
  process.stderr.write(`harness: ${msg}\n`);
}

async function stopService(name: ServiceName, daemons: Daemon[]): Promise<void> {
  const svc = SERVICES[name] as NativeService<ServiceName>;
  if (svc.stop) {
    await svc.stop(daemons);
  } else if (svc.stopOrder === 'reverse') {
    for (const d of [...daemons].reverse()) await stopDaemons([d]);
  } else {
    await stopDaemons(daemons);
  }
}

async function check(name: ServiceName, st: State | undefined): Promise<ServiceStatus> {
  if (!st) return { name, state: 'stopped' };
  const dead = st.daemons.filter((d) => !isOurs(d));
  const base = { name, owner: st.owner, pids: st.daemons.map((d) => d.pid), endpoint: st.endpoint };
  if (dead.length) return { ...base, state: 'unhealthy', detail: `not running: ${dead.map((d) => d.name).join(', ')}` };
  const svc = SERVICES[name] as NativeService<ServiceName>;
  const ok = await svc.healthy(st.endpoint as Endpoint<ServiceName>).catch(() => false);
  return ok ? { ...base, state: 'running' } : { ...base, state: 'unhealthy', detail: 'health check failed' };
}

async function upOne<K extends ServiceName>(
  name: K,
  owner: Owner,
  keepData: boolean,
): Promise<{ endpoint: Endpoint<K>; started: boolean }> {
  return withLock(`service-${name}`, async () => {
    const st = await readState(name);
    const s = await check(name, st);
    if (s.state === 'running' && st) {
      log(`${name}: already running (pids ${s.pids?.join(' ')}), reused`);
      const svc = SERVICES[name] as NativeService<K>;
      const endpoint = svc.refresh ? await svc.refresh(st.endpoint as Endpoint<K>) : (st.endpoint as Endpoint<K>);
      if ((owner === 'cli' && st.owner !== 'cli') || endpoint !== st.endpoint) {
        // asked for explicitly: from now on no test run stops it
        const next = { ...st, endpoint, owner: owner === 'cli' ? 'cli' : st.owner };
        await writeFileAtomic(statePath(name), `${JSON.stringify(next, null, 2)}\n`);
      }
      return { endpoint, started: false };
    }
    if (st) {
      log(`${name}: left over from an earlier run (${s.detail}); stopping it`);
      await stopService(name, st.daemons);
      await removeFile(statePath(name));
    }
    const svc = SERVICES[name] as NativeService<K>;
    await svc.install();
    const t0 = Date.now();
    const { daemons, value } = await startAll((started) => svc.start(started, { keepData }));
    const state: State = { name, owner, startedAt: new Date().toISOString(), daemons, endpoint: value };
    await writeFileAtomic(statePath(name), `${JSON.stringify(state, null, 2)}\n`);
    log(`${name}: started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return { endpoint: value, started: true };
  });
}

async function downOne(name: ServiceName): Promise<boolean> {
  return withLock(`service-${name}`, async () => {
    const st = await readState(name);
    if (!st) return false;
    await stopService(name, st.daemons);
    await removeFile(statePath(name));
    log(`${name}: stopped`);
    return true;
  });
}

/** Runs the jobs with at most `limit` at once (the machine has 2 cores; JVMs and the API server are heavy to start). */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const errors: unknown[] = [];
  await Promise.all(
    Array.from({ length: Math.min(limit, queue.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
        await fn(item).catch((e) => errors.push(e));
      }
    }),
  );
  if (errors.length === 1) throw errors[0];
  if (errors.length) throw new AggregateError(errors, errors.map((e) => (e as Error).message).join('\n'));
}

export class NativeProvider implements ServiceProvider {
  readonly kind = 'native' as const;
  /** names this provider instance started (not reused) in its last up() */
  readonly started = new Set<ServiceName>();

  async install(names: ServiceName[]): Promise<void> {
    await installFor(names);
  }

  async up(names: ServiceName[], opts: UpOptions & { keepData?: boolean } = {}): Promise<ServiceEndpoints> {
    const all = withNeeds(names);
    await this.install(all);
    const endpoints: ServiceEndpoints = {};
    const one = async (name: ServiceName) => {
      const r = await upOne(name, opts.owner ?? 'cli', opts.keepData ?? false);
      (endpoints as Record<string, unknown>)[name] = r.endpoint;
      if (r.started) this.started.add(name);
    };
    // what needs another service starts once what it needs runs (the node after the control plane, the metrics
    // pipeline after the node): one level after the other
    const level = (n: ServiceName): number => Math.max(0, ...(SERVICES[n].needs ?? []).map((d) => level(d) + 1));
    for (const l of [...new Set(all.map(level))].sort((a, b) => a - b)) {
      await pool(
        all.filter((n) => level(n) === l),
        3,
        one,
      );
    }
    return endpoints;
  }

  async down(names?: ServiceName[]): Promise<void> {
    const asked = [...(names ?? ALL_SERVICES)];
    // what needs another service stops first (the node before the control plane it is registered with)
    const dependents = asked.filter((n) => SERVICES[n].needs?.length);
    await pool(dependents, 6, async (name) => {
      await downOne(name);
    });
    await pool(
      asked.filter((n) => !dependents.includes(n)),
      6,
      async (name) => {
        await downOne(name);
      },
    );
  }

  /** Stops and starts again keeping the data directory where the service supports it (Redis AOF, Prometheus TSDB). */
  async restart(names: ServiceName[]): Promise<ServiceEndpoints> {
    const owners = new Map<ServiceName, Owner>();
    for (const n of names) owners.set(n, (await readState(n))?.owner ?? 'cli');
    await this.down(names);
    const endpoints: ServiceEndpoints = {};
    for (const n of names) {
      const r = await upOne(n, owners.get(n) ?? 'cli', true);
      (endpoints as Record<string, unknown>)[n] = r.endpoint;
    }
    return endpoints;
  }

  /**
   * For shared use by test runs: drops this process's lease on each service, then stops the service if a test run
   * (owner `setup`) started it and no other live process holds a lease. Services started by the CLI keep running.
   */
  async release(names: ServiceName[]): Promise<ServiceName[]> {
    const stopped: ServiceName[] = [];
    // dependents first: the node before the control plane it is registered with
    const needy = names.filter((n) => SERVICES[n].needs?.length);
    for (const name of [...needy, ...names.filter((n) => !needy.includes(n))]) {
      leases.release(name);
      const stop = await withLock(`service-${name}`, async () => {
        const st = await readState(name);
        // a service stays while another run holds it or anything that needs it (the control plane under a node in
        // use: stopped, it would come back with a new CA and leave the running node locked out)
        return st?.owner === 'setup' && [name, ...dependentsOf(name)].every((n) => leases.others(n).length === 0);
      });
      if (stop && (await downOne(name))) stopped.push(name);
    }
    return stopped;
  }

  async status(names?: ServiceName[]): Promise<ServiceStatus[]> {
    return Promise.all([...(names ?? ALL_SERVICES)].map(async (n) => check(n, await readState(n))));
  }
}

/**
 * Leases let several test runs share the services: each run holds a lease on what it uses; the last run out stops a
 * service only if a test run (not `make services-up`) started it.
 */
export const leases = {
  take(name: ServiceName): void {
    const dir = join(dirs.leases, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, String(process.pid)), new Date().toISOString());
  },
  release(name: ServiceName): void {
    rmSync(join(dirs.leases, name, String(process.pid)), { force: true });
  },
  /** live holders other than this process */
  others(name: ServiceName): number[] {
    let pids: number[] = [];
    try {
      pids = readdirSync(join(dirs.leases, name)).map(Number);
    } catch {
      return [];
    }
    return pids.filter((p) => Number.isInteger(p) && p !== process.pid && isAlive(p));
  },
  async ownerOf(name: ServiceName): Promise<Owner | undefined> {
    return (await readState(name))?.owner;
  },
};
