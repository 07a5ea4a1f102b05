/** The harness's view of its services (`cli.ts status --json`): state, endpoint and pids, for the benchmarks. */
import { execFileSync } from 'node:child_process';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface ServiceStatus {
  name: string;
  state: string;
  pids?: number[];
  endpoint?: { addr?: string; addrs?: string; brokers?: string[] };
}

export function harnessStatus(names: string[]): ServiceStatus[] {
  const out = execFileSync(process.execPath, [`${ROOT}tools/harness/src/cli.ts`, 'status', '--json', ...names], {
    encoding: 'utf8',
  });
  return JSON.parse(out.slice(out.indexOf('['))) as ServiceStatus[];
}

/** The pids of a running service (none when it is not running or not the harness's). */
export function pidsOf(all: ServiceStatus[], name: string): number[] {
  const s = all.find((x) => x.name === name);
  return s?.state === 'running' ? (s.pids ?? []) : [];
}
