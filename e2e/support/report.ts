/**
 * docs/fault-report.md, written by the fault suite: one row per scenario (the latest run of it), with the figures
 * the audit produced. The rows also sit in a JSON comment inside the file so that a run of one scenario keeps the
 * others' rows. Test files run in parallel workers: updates take a directory lock.
 */
import { mkdirSync, readFileSync, renameSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditFigures } from './audit.ts';
import { ROOT } from './procs.ts';

export const REPORT_PATH = process.env.FSE_FAULT_REPORT ?? join(ROOT, 'docs', 'fault-report.md');

export interface FaultRecord {
  scenario: string;
  /** what was done, e.g. "3 x SIGKILL of a processor" */
  fault: string;
  faults: number;
  /** accepted orders not final at the moment of the (first) fault */
  inFlight: number;
  /** time from the end of the fault (service back) to the first success / all orders final, ms */
  recoveryMs: number | null;
  /** what the recovery time measures */
  recoveryOf: string;
  oversold: number;
  lost: number;
  doubleConfirmed: number;
  drift: number;
  accepted: number;
  confirmed: number;
  initial: number;
  refused: Record<string, number>;
  notes: string;
  at: string;
  test: string;
}

const MARK = '<!-- fault-records ';

function readRecords(): FaultRecord[] {
  try {
    const text = readFileSync(REPORT_PATH, 'utf8');
    const i = text.indexOf(MARK);
    if (i < 0) return [];
    const j = text.indexOf(' -->', i);
    return JSON.parse(text.slice(i + MARK.length, j)) as FaultRecord[];
  } catch {
    return [];
  }
}

function render(records: FaultRecord[]): string {
  const rows = records
    .sort((a, b) => a.scenario.localeCompare(b.scenario))
    .map(
      (r) =>
        `| ${r.scenario} | ${r.fault} | ${r.faults} | ${r.inFlight} | ${r.accepted} | ${r.confirmed}/${r.initial} | ` +
        `**${r.oversold}** | **${r.lost}** | ${r.doubleConfirmed} | ${r.drift} | ` +
        `${r.recoveryMs === null ? 'n/a' : `${(r.recoveryMs / 1000).toFixed(1)} s`} (${r.recoveryOf}) | ${r.at.slice(0, 16)} |`,
    );
  const notes = records.map((r) => `- **${r.scenario}** (\`${r.test}\`): ${r.notes} Refused: ${fmt(r.refused)}.`);
  return [
    '# Fault-injection report',
    '',
    'Written by the fault suite (`e2e/faults/`, `e2e/operator/`, run by `make test`); each row is the latest run of',
    'one scenario on this machine (loopback, real Redis, Kafka, gateway and processor processes; the operator rows',
    'run a real kube-apiserver of their own). Every scenario ends with the same audit (`e2e/support/audit.ts`): units',
    'sold <= stock, `initial - remaining == confirmed + live holds`, every order answered 202 has a final status, no',
    'order confirmed twice. The `operator-*` rows put no orders through: their audit is the inventory the operator',
    'seeded (the new quantity exactly once, drift 0). See [reliability.md](reliability.md).',
    '',
    '| scenario | fault | faults | in flight | accepted (202) | sold/stock | oversold | lost | confirmed twice | drift | recovery | run (UTC) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '"in flight": orders answered 202 but not final when the (first) fault hit. "lost": orders answered 202 that',
    'never reached a final status. "recovery": from the end of the fault to what the column names.',
    '',
    '## Notes per scenario',
    '',
    ...notes,
    '',
    `${MARK}${JSON.stringify(records)} -->`,
    '',
  ].join('\n');
}

const fmt = (o: Record<string, number>) =>
  Object.keys(o).length
    ? Object.entries(o)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')
    : 'none';

async function withLock<T>(fn: () => T): Promise<T> {
  const lock = `${REPORT_PATH}.lock`;
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // a lock older than 30 s belongs to a crashed run
      try {
        if (Date.now() - statSync(lock).mtimeMs > 30_000) rmdirSync(lock);
      } catch {
        // gone meanwhile
      }
      if (Date.now() > until) throw new Error(`could not lock ${lock}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return fn();
  } finally {
    rmdirSync(lock);
  }
}

/** Adds (or replaces) the scenario's row. */
export async function recordFault(
  r: Omit<FaultRecord, 'at' | 'oversold' | 'lost' | 'doubleConfirmed' | 'drift' | 'accepted' | 'confirmed' | 'initial'>,
  audit: AuditFigures,
): Promise<void> {
  const rec: FaultRecord = {
    ...r,
    oversold: audit.oversold,
    lost: audit.lost,
    doubleConfirmed: audit.doubleConfirmed,
    drift: audit.drift,
    accepted: audit.accepted,
    confirmed: audit.confirmed,
    initial: audit.initial,
    at: new Date().toISOString(),
  };
  await withLock(() => {
    const records = readRecords().filter((x) => x.scenario !== rec.scenario);
    records.push(rec);
    const tmp = `${REPORT_PATH}.${process.pid}.tmp`;
    writeFileSync(tmp, render(records));
    renameSync(tmp, REPORT_PATH);
  });
}
