import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { isKafkajsNegativeTimer, routeProcessWarnings } from './process-warnings.ts';

function warning(name: string, stack: string): Error {
  const w = new Error('-1796430757933 is a negative number.\nTimeout duration was set to 1.');
  w.name = name;
  w.stack = stack;
  return w;
}

const fromKafkajs = warning(
  'TimeoutNegativeWarning',
  'TimeoutNegativeWarning: -1796430757933 is a negative number.\n    at new Timeout (node:internal/timers:195:17)\n' +
    '    at setTimeout (node:timers:120:19)\n    at RequestQueue.scheduleCheckPendingRequests ' +
    '(/app/node_modules/kafkajs/src/network/requestQueue/index.js:317:37)',
);
const fromElsewhere = warning(
  'TimeoutNegativeWarning',
  'TimeoutNegativeWarning: -5 is a negative number.\n    at setTimeout (node:timers:120:19)\n    at tick (/app/gateway/src/x.ts:1:1)',
);

describe('isKafkajsNegativeTimer', () => {
  it("recognises kafkajs's negative timer and nothing else", () => {
    expect(isKafkajsNegativeTimer(fromKafkajs)).toBe(true);
    expect(isKafkajsNegativeTimer(fromElsewhere)).toBe(false);
    expect(isKafkajsNegativeTimer(warning('DeprecationWarning', fromKafkajs.stack ?? ''))).toBe(false);
  });
});

describe('routeProcessWarnings', () => {
  let undo: (() => void) | undefined;
  afterEach(() => undo?.());

  it('logs warnings as JSON lines, drops the kafkajs timer one, and restores the previous listeners', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    });
    const before = process.listenerCount('warning');
    undo = routeProcessWarnings(pino({ messageKey: 'message' }, sink));
    expect(process.listenerCount('warning')).toBe(1);
    process.emit('warning', fromKafkajs);
    process.emitWarning('something to look at', 'ExperimentalWarning');
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      event: 'node_warning',
      warning: 'ExperimentalWarning',
      detail: 'something to look at',
    });
    undo();
    undo = undefined;
    expect(process.listenerCount('warning')).toBe(before);
  });
});
