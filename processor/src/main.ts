/** Processor entry: config from the environment, SIGTERM/SIGINT drain within the shutdown timeout. */
import { applyHeapSettings, createLogger, routeProcessWarnings } from '@flashsale/common';
import { loadConfig } from './config.ts';
import { startProcessor } from './processor.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
}
applyHeapSettings(config.heap);
const log = createLogger('processor', config.logLevel);
routeProcessWarnings(log);
const proc = await startProcessor(config).catch((e) => {
  log.fatal({ event: 'start_failed', err: e }, 'Processor failed to start');
  process.exit(1);
});
let signalled = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (signalled) return;
    signalled = true;
    const timer = setTimeout(() => {
      log.error({ event: 'shutdown_timeout' }, 'Shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    proc
      .stop()
      .then(() => process.exit(0))
      .catch((e) => {
        log.error({ err: e }, 'Shutdown failed');
        process.exit(1);
      });
  });
}
