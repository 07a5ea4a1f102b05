/** --help on every command, and exit codes scripts can rely on (no services needed beyond what is listed). */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLASHSALE, KUBECTL_FLASHSALE, runCli } from './support.ts';

const FLASHSALE_COMMANDS = [[], ['up'], ['load'], ['status'], ['dlq'], ['dlq', 'list'], ['dlq', 'replay']];
const KUBECTL_COMMANDS = [[], ['status'], ['promote'], ['abort'], ['dlq']];

describe('flashsale --help', () => {
  it.each(FLASHSALE_COMMANDS.map((c) => [c.join(' ') || '(root)', c]))('flashsale %s --help', async (_n, cmd) => {
    const r = await runCli(FLASHSALE, [...(cmd as string[]), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: flashsale/);
    expect(r.stdout).toMatch(/Options:/);
  });

  it.each(KUBECTL_COMMANDS.map((c) => [c.join(' ') || '(root)', c]))('kubectl-flashsale %s --help', async (_n, cmd) => {
    const r = await runCli(KUBECTL_FLASHSALE, [...(cmd as string[]), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: kubectl-flashsale/);
  });
});

describe('exit codes', () => {
  it('2 for unknown commands, unknown options and invalid values', async () => {
    expect((await runCli(FLASHSALE, ['nope'])).code).toBe(2);
    expect((await runCli(FLASHSALE, ['load', '--bogus'])).code).toBe(2);
    const bad = await runCli(FLASHSALE, ['load', '--url', 'http://127.0.0.1:1', '--users', 'many']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--users must be an integer/);
    expect((await runCli(FLASHSALE, ['up'])).code).toBe(2);
    expect((await runCli(KUBECTL_FLASHSALE, ['promote'])).code).toBe(2);
  });

  it('2 with the field path for an invalid manifest, before touching any service', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fs-cli-'));
    const file = join(dir, 'bad.yaml');
    await writeFile(
      file,
      [
        'apiVersion: flashsale.dev/v1alpha1',
        'kind: FlashSale',
        'metadata: { name: bad }',
        'spec:',
        '  startsAt: "2026-11-28T08:00:00Z"',
        '  endsAt: "2026-11-28T10:00:00Z"',
        '  items: [{ id: "a b", quantity: 1 }]',
        '  processor: { payment: { failureRate: 2 } }',
      ].join('\n'),
    );
    const r = await runCli(FLASHSALE, ['up', '-f', file, '--redis', '127.0.0.1:1', '--kafka', '127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/spec\.items\[0\]\.id: /);
    expect(r.stderr).toMatch(/spec\.processor\.payment\.failureRate: /);
    const missing = await runCli(FLASHSALE, ['up', '-f', join(dir, 'missing.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read: ENOENT/);
  });

  it('1 when a service is unreachable, with the address in the message', async () => {
    const r = await runCli(FLASHSALE, ['up', '-f', 'examples/flashsale.yaml', '--redis', '127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach Redis at 127\.0\.0\.1:1/);
    const load = await runCli(FLASHSALE, [
      'load',
      '--url',
      'http://127.0.0.1:1',
      '--sale',
      'x',
      '--redis',
      '127.0.0.1:1',
    ]);
    expect(load.code).toBe(1);
  });
});
