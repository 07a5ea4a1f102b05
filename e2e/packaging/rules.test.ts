/**
 * The alert rules of common/src/alerts.ts under promtool: the generated rule files are valid, every alert fires when
 * it should and stays quiet when it should not (monitoring/tests/*.test.yaml), and those tests are not vacuous: the
 * same tests fail against rules rendered with other thresholds.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { operatorAlertGroups, saleAlertGroups } from '../../common/src/alerts.ts';
import { SAMPLE_OPERATOR, SAMPLE_SALE } from '../../tools/gen-rules.ts';
import { requireService } from '../support/services.ts';
import { ROOT, run } from './support.ts';

const { promtool } = requireService('prometheus');
const MON = join(ROOT, 'monitoring');

describe('promtool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fse-rules-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('check rules: the generated rule files are valid (13 alerts)', async () => {
    const r = await run(promtool, [
      'check',
      'rules',
      join(MON, 'rules', 'sale.rules.yaml'),
      join(MON, 'rules', 'operator.rules.yaml'),
      join(ROOT, 'charts', 'flash-sale-operator', 'files', 'operator-rules.yaml'),
    ]);
    expect(r.stderr + r.stdout).toContain('SUCCESS: 11 rules found');
    expect(r.stdout).toContain('SUCCESS: 2 rules found');
    expect(r.code).toBe(0);
  });

  it('test rules: every alert fires when it should and stays quiet when it should not', async () => {
    // promtool resolves rule_files relative to each test file
    const abs = await run(promtool, [
      'test',
      'rules',
      join(MON, 'tests', 'sale.test.yaml'),
      join(MON, 'tests', 'operator.test.yaml'),
    ]);
    expect(abs.stdout, abs.stdout + abs.stderr).not.toContain('FAILED');
    expect(abs.code, abs.stdout + abs.stderr).toBe(0);
    expect(abs.stdout.match(/SUCCESS/g)).toHaveLength(2);
  });

  it('the same tests fail against rules with other thresholds (they test the thresholds, not just the syntax)', async () => {
    cpSync(join(MON, 'tests'), join(dir, 'tests'), { recursive: true });
    const write = (file: string, groups: unknown) => {
      writeFileSync(join(dir, 'rules', file), stringify({ groups }, { lineWidth: 0 }));
    };
    cpSync(join(MON, 'rules'), join(dir, 'rules'), { recursive: true });
    write(
      'sale.rules.yaml',
      saleAlertGroups({
        ...SAMPLE_SALE,
        thresholds: { dlqSize: 200, dlqAgeSeconds: 9000, failureRate: 0.6, inventoryLow: 3, consumerLag: 2000 },
      }),
    );
    write('operator.rules.yaml', operatorAlertGroups({ ...SAMPLE_OPERATOR, controller: 'someone-else' }));
    const r = await run(promtool, [
      'test',
      'rules',
      join(dir, 'tests', 'sale.test.yaml'),
      join(dir, 'tests', 'operator.test.yaml'),
    ]);
    expect(r.code).not.toBe(0);
    for (const alert of [
      'FlashSaleDLQSizeHigh',
      'FlashSaleDLQMessageTooOld',
      'FlashSaleHighFailureRate',
      'FlashSaleInventoryLow',
      'FlashSaleConsumerLagHigh',
      'FlashSaleOperatorReconcileErrors',
    ]) {
      expect(r.stdout + r.stderr).toContain(`alertname: ${alert}`);
    }
  });

  it('the same tests fail against rules of another sale (the label filter is what makes them fire)', async () => {
    const other = mkdtempSync(join(tmpdir(), 'fse-rules-other-'));
    try {
      cpSync(join(MON, 'tests'), join(other, 'tests'), { recursive: true });
      cpSync(join(MON, 'rules'), join(other, 'rules'), { recursive: true });
      writeFileSync(
        join(other, 'rules', 'sale.rules.yaml'),
        stringify(
          { groups: saleAlertGroups({ sale: 'someone-else', namespace: SAMPLE_SALE.namespace }) },
          { lineWidth: 0 },
        ),
      );
      const r = await run(promtool, ['test', 'rules', join(other, 'tests', 'sale.test.yaml')]);
      expect(r.code).not.toBe(0);
      const out = r.stdout + r.stderr;
      for (const g of saleAlertGroups({ ...SAMPLE_SALE })) {
        for (const rule of g.rules)
          expect(out).toMatch(new RegExp(`alertname: ${rule.alert}, [^\\n]*\\n\\s+exp:\\[\\s+0:`));
      }
      expect(out).toContain('got:[]');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
