/**
 * `make demo`: a complete flash sale on this machine, with the commands a newcomer would type. A tool, not part of
 * the CLI: it asks the harness (tools/harness) for the services, then runs the `flashsale` command as a user would.
 *  1. Redis and Kafka through the harness (installed into the cache when missing); only what was not running
 *     before is stopped at the end.
 *  2. `flashsale up -f examples/flashsale.yaml --now` (the manifest `kubectl apply` takes), under a fresh sale name.
 *  3. `flashsale load`: a burst of several times more attempts than units, with a live view every few seconds.
 *  4. The final table; everything started here is stopped, the sale's keys and topics deleted.
 * Exit code: the load's (0 only if 0 oversold and 0 lost), or 1 when something failed to start.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect } from '../cli/src/load/load.ts';
import { loadManifest } from '../cli/src/manifest.ts';
import { renderStatus, type StatusSnapshot, snapshot, withRates } from '../cli/src/status.ts';
import { freePort } from '../e2e/support/wait.ts';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const HARNESS = join(REPO_ROOT, 'tools/harness/src/cli.ts');
const MAIN = join(REPO_ROOT, 'cli/src/main.ts');
const env = (name: string, fallback: string) => process.env[name] || fallback;

const MANIFEST = env(
  'DEMO_MANIFEST',
  existsSync(join(REPO_ROOT, 'examples/flashsale.yaml')) ? 'examples/flashsale.yaml' : 'examples/demo.yaml',
);
/** attempts as a multiple of the units for sale */
const OVERSUBSCRIBE = Number(env('DEMO_OVERSUBSCRIBE', '4'));
const USERS_PER_UNIT = Number(env('DEMO_USERS_PER_UNIT', '1.6'));

const say = (s: string) => process.stdout.write(`${s}\n`);
const step = (s: string) => say(`\n==> ${s}`);

interface HarnessStatus {
  name: string;
  state: string;
  endpoint?: { addr?: string; brokers?: string[] };
}

async function harness(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [HARNESS, ...args], { cwd: REPO_ROOT, maxBuffer: 16 << 20 });
  return stdout;
}

function waitReady(child: ChildProcess): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as Record<string, unknown>;
        if (msg.event === 'ready') resolve(msg);
      } catch {
        process.stdout.write(`${line}\n`);
      }
    });
    child.once('exit', (code) => reject(new Error(`flashsale up exited with code ${code} before it was ready`)));
  });
}

async function main(): Promise<number> {
  const t0 = Date.now();
  step('Redis and Kafka (through the harness; installed into the cache on first use)');
  const before = JSON.parse(await harness('status', '--json', 'redis', 'kafka')) as HarnessStatus[];
  const wasRunning = new Set(before.filter((s) => s.state === 'running').map((s) => s.name));
  const toStart = ['redis', 'kafka'].filter((n) => !wasRunning.has(n));
  let up: ChildProcess | undefined;
  let load: ChildProcess | undefined;
  let interrupted = false;
  // Ctrl-C: stop the load, then the finally block below still stops everything the demo started
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write('\ninterrupted: stopping what the demo started...\n');
    if (load && load.exitCode === null) load.kill('SIGINT');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let code = 1;
  try {
    if (toStart.length > 0) {
      say(`starting ${toStart.join(', ')} (already running: ${[...wasRunning].join(', ') || 'none'})`);
      await harness('up', ...toStart);
    } else say('both already running; the demo leaves them running');
    const status = JSON.parse(await harness('status', '--json', 'redis', 'kafka')) as HarnessStatus[];
    const redis = status.find((s) => s.name === 'redis')?.endpoint?.addr;
    const kafka = status.find((s) => s.name === 'kafka')?.endpoint?.brokers?.join(',');
    if (!redis || !kafka)
      throw new Error(`harness did not report Redis and Kafka endpoints: ${JSON.stringify(status)}`);
    say(`redis ${redis}, kafka ${kafka}`);

    const manifest = await loadManifest(join(REPO_ROOT, MANIFEST));
    const units = manifest.spec.items.reduce((n, i) => n + i.quantity, 0);
    const sale = `demo-${Date.now().toString(36)}`;
    const [port, metricsPort] = [await freePort(), await freePort()];
    step(`flashsale up -f ${MANIFEST} --now   (sale ${sale}: ${manifest.spec.items.length} items, ${units} units)`);
    up = spawn(
      process.execPath,
      [
        MAIN,
        'up',
        '-f',
        join(REPO_ROOT, MANIFEST),
        '--sale',
        sale,
        '--now',
        '--redis',
        redis,
        '--kafka',
        kafka,
        '--port',
        String(port),
        '--metrics-port',
        String(metricsPort),
        '--processors',
        '1',
        '--delete-on-exit',
        '-o',
        'json',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const ready = (await waitReady(up)) as {
      gatewayUrl: string;
      gatewayMetricsUrl: string;
      processorMetricsUrls: string[];
      logs: Record<string, string>;
    };
    say(`gateway ${ready.gatewayUrl}, processor metrics ${ready.processorMetricsUrls.join(', ')}`);
    say(`logs: ${Object.values(ready.logs).join(', ')}`);

    const attempts = Math.round(units * OVERSUBSCRIBE);
    const users = Math.round(units * USERS_PER_UNIT);
    step(
      `flashsale load --attempts ${attempts} --users ${users} --spread stock   (${OVERSUBSCRIBE}x the stock, burst over 2 s)`,
    );
    const r = connect(redis, 'single');
    let prev: StatusSnapshot | undefined;
    const live = async () => {
      try {
        prev = withRates(await snapshot(r, sale, ready.gatewayMetricsUrl, ready.processorMetricsUrls), prev);
        say(`-- live ${((Date.now() - t0) / 1000).toFixed(0)} s --\n${renderStatus(prev)}`);
      } catch (e) {
        say(`(live view unavailable: ${(e as Error).message})`);
      }
    };
    await live();
    const timer = setInterval(() => void live(), 5000);
    if (interrupted) throw new Error('interrupted');
    load = spawn(
      process.execPath,
      [
        MAIN,
        'load',
        '--url',
        ready.gatewayUrl,
        '--sale',
        sale,
        '--redis',
        redis,
        '--kafka',
        kafka,
        '--attempts',
        String(attempts),
        '--users',
        String(users),
        '--ramp',
        '2',
        '--spread',
        'stock',
        '--settle',
        '90',
        '--no-progress',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let table = '';
    load.stdout?.on('data', (d: Buffer) => {
      table += d.toString();
    });
    const child = load;
    code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
    clearInterval(timer);
    await live();
    r.disconnect();
    if (!interrupted) {
      step('final table (flashsale load)');
      process.stdout.write(table);
    }
  } catch (e) {
    process.stderr.write(`demo failed: ${(e as Error).message}\n`);
    code = code === 0 ? 1 : code || 1;
  } finally {
    if (up && up.exitCode === null) {
      step('stopping flashsale up (drains the gateway and processor, deletes the demo sale)');
      up.kill('SIGINT');
      await new Promise((resolve) => up?.once('exit', resolve));
    }
    if (toStart.length > 0) {
      step(`stopping what the demo started: ${toStart.join(', ')}`);
      await harness('down', ...toStart).catch((e) => process.stderr.write(`harness down failed: ${e.message}\n`));
    }
  }
  say(`\ndemo ${code === 0 ? 'PASSED' : `FAILED (exit ${code})`} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return code;
}

process.exit(await main());
