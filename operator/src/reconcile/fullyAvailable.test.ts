import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { fullyAvailable } from './reconcileBlueGreen.ts';

const dep = (spec: number, st: Record<string, number>, generation = 2, observedGeneration = 2) =>
  ({
    metadata: { generation },
    spec: { replicas: spec },
    status: { observedGeneration, ...st },
  }) as unknown as V1Deployment;

describe('fullyAvailable (the preview gate)', () => {
  it('needs every pod on the latest template Ready and Available, and no old pod', () => {
    const all = { replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 };
    expect(fullyAvailable(dep(3, all)).ok).toBe(true);
    expect(fullyAvailable(dep(3, { ...all, readyReplicas: 2, availableReplicas: 2 })).ok).toBe(false);
    expect(fullyAvailable(dep(3, { ...all, replicas: 4 })).ok).toBe(false); // an old pod still there
    expect(fullyAvailable(dep(3, { ...all, updatedReplicas: 2 })).ok).toBe(false);
    expect(fullyAvailable(dep(3, all, 3, 2)).ok).toBe(false); // the controller has not seen the last change
    expect(fullyAvailable(dep(0, { replicas: 0 })).ok).toBe(false); // zero pods never pass
    expect(fullyAvailable(null)).toEqual({ ok: false, message: 'not created yet' });
  });
});
