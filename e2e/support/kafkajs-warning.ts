/**
 * Vitest setup file of the projects over real services, also imported by their global setup: the test workers and the
 * harness run kafkajs clients in process, and kafkajs's negative-timer warning (harmless, see
 * common/src/process-warnings.ts; the services drop it) filled the test output with three stderr lines per client.
 * Only that warning is dropped; every other one reaches Node's printer as before.
 */
import { isKafkajsNegativeTimer } from '@flashsale/common';

const INSTALLED = Symbol.for('flashsale.kafkajsWarningFilter');
const g = globalThis as Record<symbol, unknown>;
if (!g[INSTALLED]) {
  g[INSTALLED] = true;
  const previous = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (w: Error) => {
    if (isKafkajsNegativeTimer(w)) return;
    for (const l of previous) l(w);
  });
}
