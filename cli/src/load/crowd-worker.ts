/**
 * A worker thread of `flashsale load` (worker-shard.ts is its handle): drives its share of the crowd from the moment
 * the main thread names, and posts progress and its record back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { driveCrowd } from './drive-crowd.ts';
import type { ShardInput, WorkerMessage } from './worker-shard.ts';

const port = parentPort;
if (!port) throw new Error('crowd-worker.ts runs as a worker thread (worker-shard.ts)');
const post = (m: WorkerMessage, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);
const stop = new AbortController();
const start = new Promise<number>((resolve) => {
  port.on('message', (m: { start?: number; stop?: boolean }) => {
    if (m.start !== undefined) resolve(m.start);
    if (m.stop) stop.abort();
  });
});
post({ ready: true });
const record = await driveCrowd({
  ...(workerData as ShardInput),
  start: await start,
  signal: stop.signal,
  onProgress: (progress) => post({ progress }),
});
post({ record }, [record.latencies.buffer as ArrayBuffer]);
port.close();
