/**
 * TLS trust from CA files, as the operator configures the pods (the CA Secret mounted read-only, its path in
 * REDIS_TLS_CA_FILE / KAFKA_TLS_CA_FILE, skip-verify in *_TLS_INSECURE_SKIP_VERIFY), against the harness's real
 * TLS + ACL Redis (`redisTls`) and SASL_SSL SCRAM Kafka (`kafkaSecure`), each with its own private CA. No
 * NODE_EXTRA_CA_CERTS anywhere (the child processes get only the environment given here):
 * - with the two CA files, a gateway and a processor sell exactly the stock and the audit holds;
 * - without a CA (verification on), both stop at start-up, promptly, with an error naming the TLS verification
 *   failure and the variable to set; the other service's CA is not accepted either;
 * - with insecureSkipVerify, they connect and process orders, and warn at start-up;
 * - a missing or non-PEM CA file stops start-up with exit code 2 naming the variable;
 * - no CA content, password or username-password pair appears in their output, /health or /metrics.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Proc, startGateway, startProcessor } from '../support/procs.ts';
import { uniqueSale } from '../support/sale.ts';
import { requireService } from '../support/services.ts';
import { caFragments, secureProcEnv, useSecureSale } from './support.ts';

const sec = useSecureSale(uniqueSale('sectlsca'), { items: { lamp: 20, desk: 1000 } });
const { sale, procs } = sec;
const dir = mkdtempSync(join(tmpdir(), 'fse-tls-ca-'));

/** The environment of a pod of a sale on redisTls + kafkaSecure; `tls` sets the TLS variables on top. */
const env = (tls: Record<string, string>): Record<string, string> => ({ ...secureProcEnv(sale), ...tls });

const withCas = () => ({
  REDIS_TLS_CA_FILE: requireService('redisTls').ca,
  KAFKA_TLS_CA_FILE: requireService('kafkaSecure').ca,
});

function expectNoSecret(text: string) {
  for (const s of [requireService('redisTls').password, requireService('kafkaSecure').password, ...caFragments()]) {
    expect(text.includes(s), 'a secret value or CA content leaked').toBe(false);
  }
}

/** Start a process expected to stop at start-up; resolves with its exit code and output (bounded wait). */
async function startupFailure(start: () => Promise<Proc>): Promise<{ code: number | null; output: string }> {
  const p = await start();
  procs.push(p);
  const exit = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
  if (exit === null) throw new Error(`${p.name} did not stop within 30 s:\n${p.tail()}`);
  return { code: exit.code, output: p.output };
}

describe('TLS trust from the CA files the operator mounts', () => {
  it('with the CA files: gateway and processor sell exactly the stock; no secret or CA content exposed', async () => {
    const { gw, p, audit, exposed } = await sec.sell(env(withCas()), { item: 'lamp', total: 30, concurrency: 4 });
    expect(audit.confirmed).toBe(20);
    expect(exposed).toContain('order_processed'); // the logs were captured
    expect(exposed).not.toContain('tls_verification_disabled');
    expectNoSecret(exposed);
    await Promise.all([gw.stop(), p.stop()]);
  }, 90_000);

  it('without a CA (verification on): both stop at start-up naming the TLS verification failure', async () => {
    const started = Date.now();
    const [gwRedis, pRedis, gwKafka, pKafka] = await Promise.all([
      // no Redis CA (the Kafka one is right)
      startupFailure(() => startGateway(env({ KAFKA_TLS_CA_FILE: requireService('kafkaSecure').ca }), { wait: false })),
      startupFailure(() =>
        startProcessor(env({ KAFKA_TLS_CA_FILE: requireService('kafkaSecure').ca }), { wait: false }),
      ),
      // the Redis CA is given for Kafka: another CA's certificate is not accepted
      startupFailure(() =>
        startGateway(
          env({ REDIS_TLS_CA_FILE: requireService('redisTls').ca, KAFKA_TLS_CA_FILE: requireService('redisTls').ca }),
          { wait: false },
        ),
      ),
      startupFailure(() => startProcessor(env({ REDIS_TLS_CA_FILE: requireService('redisTls').ca }), { wait: false })),
    ]);
    for (const r of [gwRedis, pRedis]) {
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/REDIS_TLS: TLS certificate verification failed for 127\.0\.0\.1:\d+/);
      expect(r.output).toMatch(/REDIS_TLS_CA_FILE/);
    }
    for (const r of [gwKafka, pKafka]) {
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/KAFKA_TLS: TLS certificate verification failed for 127\.0\.0\.1:\d+/);
    }
    expect(gwKafka.output).toMatch(/did not sign the server's certificate/);
    expect(pKafka.output).toMatch(/set KAFKA_TLS_CA_FILE/);
    expectNoSecret([gwRedis, pRedis, gwKafka, pKafka].map((r) => r.output).join('\n'));
    // prompt, not a hang (bounded by the handshake, not by client retries)
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 60_000);

  it('insecureSkipVerify: both connect without a CA, process orders and warn at start-up', async () => {
    const insecure = { REDIS_TLS_INSECURE_SKIP_VERIFY: 'true', KAFKA_TLS_INSECURE_SKIP_VERIFY: 'true' };
    const { gw, p, log, exposed } = await sec.sell(env(insecure), { item: 'desk', total: 10, concurrency: 2 });
    expect(log.accepted.size).toBe(10);
    for (const proc of [gw, p]) {
      for (const target of ['redis', 'kafka']) {
        const line = proc.output
          .split('\n')
          .find((l) => l.includes('"tls_verification_disabled"') && l.includes(`"target":"${target}"`));
        expect(line, `${proc.name} warns about ${target}`).toBeDefined();
        expect(String(JSON.parse(line ?? '{}').level)).toMatch(/warn/i);
      }
    }
    expectNoSecret(exposed);
    await Promise.all([gw.stop(), p.stop()]);
  }, 90_000);

  it('a missing or non-PEM CA file stops start-up (exit 2) naming the variable', async () => {
    const notPem = join(dir, 'not-a-ca.pem');
    writeFileSync(notPem, 'this is not a certificate\n');
    const broken = join(dir, 'broken.pem');
    writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const [gw, p, gw2, p2] = await Promise.all([
      startupFailure(() =>
        startGateway(env({ ...withCas(), REDIS_TLS_CA_FILE: join(dir, 'missing.pem') }), { wait: false }),
      ),
      startupFailure(() => startProcessor(env({ ...withCas(), KAFKA_TLS_CA_FILE: notPem }), { wait: false })),
      startupFailure(() => startGateway(env({ ...withCas(), KAFKA_TLS_CA_FILE: broken }), { wait: false })),
      startupFailure(() =>
        startProcessor(
          { ...env({}), REDIS_TLS: 'false', REDIS_TLS_CA_FILE: requireService('redisTls').ca },
          {
            wait: false,
          },
        ),
      ),
    ]);
    for (const r of [gw, p, gw2, p2]) expect(r.code).toBe(2);
    expect(gw.output).toMatch(/REDIS_TLS_CA_FILE: cannot read the CA file ".*missing\.pem" \(ENOENT\)/);
    expect(p.output).toMatch(/KAFKA_TLS_CA_FILE: ".*not-a-ca\.pem" holds no PEM certificate/);
    expect(gw2.output).toMatch(/KAFKA_TLS_CA_FILE: certificate 1 in ".*broken\.pem" is not a valid X\.509/);
    expect(p2.output).toMatch(/REDIS_TLS_CA_FILE: set while REDIS_TLS is false/);
  }, 60_000);
});
