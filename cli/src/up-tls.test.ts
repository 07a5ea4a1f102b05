import { parseFlashSaleSpec } from '@flashsale/common';
import { describe, expect, it } from 'vitest';
import { localTls } from './up.ts';

const spec = (tls: { redis: object; kafka: object }) => {
  const p = parseFlashSaleSpec({
    startsAt: '2026-12-01T10:00:00Z',
    endsAt: '2026-12-01T11:00:00Z',
    items: [{ id: 'a', quantity: 1 }],
    redis: { addr: 'r:6379', tls: tls.redis },
    kafka: { brokers: 'k:9093', tls: tls.kafka },
  });
  if (!p.ok) throw new Error(p.problems.join('\n'));
  return p.spec;
};

describe('flashsale up: TLS trust of its own connections', () => {
  it('takes the switches from the spec and the CA files from --redis-ca / --kafka-ca', () => {
    const t = localTls(spec({ redis: { enabled: true, insecureSkipVerify: true }, kafka: { enabled: false } }), {});
    expect(t.redis).toEqual({ enabled: true, ca: undefined, caFile: undefined, insecureSkipVerify: true });
    expect(t.kafka).toEqual({ enabled: false, insecureSkipVerify: false });
  });

  it('a missing CA file or one given for a target without TLS is a usage error naming the variable', () => {
    expect(() =>
      localTls(spec({ redis: { enabled: true }, kafka: { enabled: true } }), { redisCa: '/nonexistent/ca.pem' }),
    ).toThrow(/REDIS_TLS_CA_FILE: cannot read the CA file "\/nonexistent\/ca.pem" \(ENOENT\)/);
    expect(() =>
      localTls(spec({ redis: { enabled: true }, kafka: { enabled: false } }), { kafkaCa: '/nonexistent/ca.pem' }),
    ).toThrow(/KAFKA_TLS_CA_FILE: set while KAFKA_TLS is false/);
  });
});
