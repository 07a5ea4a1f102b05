/** `node gateway/src/main.ts`: configuration from the environment, SIGTERM drains and exits 0. */
import { applyHeapSettings, createLogger, routeProcessWarnings } from '@flashsale/common';
import { startGateway } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  applyHeapSettings(config.heap);
  routeProcessWarnings(createLogger('gateway', config.logLevel));
  const gw = await startGateway(config);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    gw.ctx.log.info({ event: 'shutdown_started', signal }, 'Draining in-flight requests');
    gw.close().then(
      () => process.exit(0),
      (e) => {
        gw.ctx.log.error({ event: 'shutdown_failed', err: e }, 'Shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e) => {
  process.stderr.write(`gateway failed to start: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
