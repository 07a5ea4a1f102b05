/** The operator process: configuration from the environment, graceful stop on SIGTERM/SIGINT, exit on lost lease. */
import { createLogger, routeProcessWarnings } from '@flashsale/common';
import { ConfigError, loadConfig } from './config.ts';
import { startOperator } from './operator.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (e) {
  console.error(e instanceof ConfigError ? e.message : e);
  process.exit(2);
}
routeProcessWarnings(createLogger('operator', config.logLevel));
const op = await startOperator(config);
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(code), 20_000);
  timer.unref();
  await op.stop().catch(() => undefined);
  process.exit(code);
};
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
// like controller-runtime: a replica that lost its lease exits and restarts as a standby
void op.lostLeadership.then(() => stop(1));
