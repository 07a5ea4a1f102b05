/**
 * The main thread's handle on one worker thread of `flashsale load` (crowd-worker.ts): `ready` once the worker has
 * loaded its modules (so a slow start on a busy machine does not eat into the burst), `start(at)` sets the moment the
 * arrival times count from, `record` is what it saw. Progress comes back every 250 ms.
 */
import { Worker } from 'node:worker_threads';
import type { DriveInput, ShardProgress, ShardRecord } from './drive-crowd.ts';

export type ShardInput = Omit<DriveInput, 'start' | 'onProgress' | 'signal'>;

export type WorkerMessage = { ready: true } | { progress: ShardProgress } | { record: ShardRecord };

export class WorkerShard {
  readonly ready: Promise<void>;
  readonly record: Promise<ShardRecord>;
  private readonly worker: Worker;

  constructor(input: ShardInput, onProgress: (p: ShardProgress) => void) {
    this.worker = new Worker(new URL('./crowd-worker.ts', import.meta.url), { workerData: input });
    const exited = new Promise<never>((_, reject) => {
      this.worker.on('error', reject);
      this.worker.on('exit', (code) => reject(new Error(`load worker exited with ${code} before its record`)));
    });
    let ready: () => void = () => undefined;
    let done: (r: ShardRecord) => void = () => undefined;
    this.ready = Promise.race([new Promise<void>((r) => (ready = r)), exited]);
    this.record = Promise.race([new Promise<ShardRecord>((r) => (done = r)), exited]);
    // a worker that fails before `ready` is reported there; the record is then never awaited
    this.record.catch(() => undefined);
    this.worker.on('message', (m: WorkerMessage) => {
      if ('ready' in m) ready();
      else if ('progress' in m) onProgress(m.progress);
      else done(m.record);
    });
  }

  start(at: number): void {
    this.worker.postMessage({ start: at });
  }

  stop(): void {
    this.worker.postMessage({ stop: true });
  }

  terminate(): void {
    void this.worker.terminate();
  }
}
