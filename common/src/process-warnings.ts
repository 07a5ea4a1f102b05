/**
 * Node's process warnings as JSON log lines. Node prints them to stderr as plain text (three lines each), which breaks
 * a log pipeline that parses the services' JSON; and one of them is a known, harmless kafkajs defect printed at every
 * start on Node 24: kafkajs 2.2.4's request queue schedules a timer with a negative delay (tulios/kafkajs#1751; the
 * timer fires at once, as kafkajs meant), which Node reports as `TimeoutNegativeWarning: -1.79e12 is a negative number`.
 * That one is dropped; every other warning is logged at WARN with its name and message.
 */
import type { Logger } from 'pino';

/** The kafkajs negative-timer warning (and only it: a negative timer anywhere else is still reported). */
export function isKafkajsNegativeTimer(w: Error): boolean {
  return w.name === 'TimeoutNegativeWarning' && /[\\/]kafkajs[\\/]/.test(w.stack ?? '');
}

/** Route the process's warnings to `log` instead of Node's stderr printer; returns the undo. */
export function routeProcessWarnings(log: Logger): () => void {
  const previous = process.listeners('warning');
  process.removeAllListeners('warning');
  const onWarning = (w: Error) => {
    if (isKafkajsNegativeTimer(w)) return;
    log.warn({ event: 'node_warning', warning: w.name, detail: w.message }, `Node warning: ${w.name}`);
  };
  process.on('warning', onWarning);
  return () => {
    process.off('warning', onWarning);
    for (const l of previous) process.on('warning', l);
  };
}
