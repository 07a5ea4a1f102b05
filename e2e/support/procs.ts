/**
 * The gateway and the processor as real child processes (`node gateway/src/main.ts`, `node processor/src/main.ts`),
 * started with an environment the way `flashsale up` starts them. Their JSON log lines are kept (for the assertions
 * that no secret is ever logged, and to show on failure).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, sleep } from './wait.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const GATEWAY_MAIN = fileURLToPath(new URL('../../gateway/src/main.ts', import.meta.url));
export const PROCESSOR_MAIN = fileURLToPath(new URL('../../processor/src/main.ts', import.meta.url));

export class Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly port: number;
  /** everything written to stdout and stderr */
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(name: string, main: string, env: Record<string, string>, port: number) {
    this.name = name;
    this.port = port;
    this.child = spawn(process.execPath, [main], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer) => {
      this.output += d.toString();
      // bounded: a long run keeps its last 2 MB
      if (this.output.length > 4_000_000) this.output = this.output.slice(-2_000_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** SIGKILL (a crash): no drain, nothing committed. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM and wait (SIGKILL after `timeoutMs`). */
  async stop(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      await this.exited;
      clearTimeout(t);
    }
    return this.exited;
  }

  tail(lines = 30): string {
    return this.output.trimEnd().split('\n').slice(-lines).join('\n');
  }

  /**
   * Resolves when `path` answers 200 (throws with the log tail after `timeoutMs` or when the process exits). Patient by
   * default: under `make test` the cluster files share the 2 cores with these processes (load average 70 seen), and
   * a gateway started then took more than 45 s to load and listen; how fast a process starts is a benchmark's business.
   */
  async waitHealthy(path: string, timeoutMs = 120_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (!this.alive) throw new Error(`${this.name} exited before it was healthy:\n${this.tail()}`);
      try {
        const r = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(1000) });
        await r.arrayBuffer();
        if (r.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    throw new Error(`${this.name} not healthy on ${path} within ${timeoutMs} ms:\n${this.tail()}`);
  }
}

/** Defaults of the processes under test: quiet but JSON logs, fast housekeeping, loopback only. */
export async function startGateway(env: Record<string, string>, opts: { wait?: boolean } = {}): Promise<Proc> {
  const port = await freePort();
  const p = new Proc(
    'gateway',
    GATEWAY_MAIN,
    {
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      RATE_LIMIT_ENABLED: 'false',
      STOCK_POLL_INTERVAL: '200ms',
      ...env,
      PORT: String(port),
    },
    port,
  );
  if (opts.wait !== false) await p.waitHealthy('/livez');
  return p;
}

export async function startProcessor(env: Record<string, string>, opts: { wait?: boolean } = {}): Promise<Proc> {
  const port = await freePort();
  const p = new Proc(
    'processor',
    PROCESSOR_MAIN,
    {
      METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      PAYMENT_LATENCY_MIN: '1ms',
      PAYMENT_LATENCY_MAX: '10ms',
      SWEEP_INTERVAL: '300ms',
      AUDIT_INTERVAL: '1s',
      OFFSETS_INTERVAL: '1s',
      KAFKA_SESSION_TIMEOUT: '6s',
      SHUTDOWN_TIMEOUT: '20s',
      ...env,
      METRICS_PORT: String(port),
    },
    port,
  );
  if (opts.wait !== false) await p.waitHealthy('/health');
  return p;
}
