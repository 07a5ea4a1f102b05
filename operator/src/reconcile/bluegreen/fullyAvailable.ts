import type { V1Deployment } from '@kubernetes/client-node';

/** Every pod of the latest template Ready and Available, none of an older one. */
export function fullyAvailable(d: V1Deployment | null): { ok: boolean; message: string } {
  if (!d) return { ok: false, message: 'not created yet' };
  const want = d.spec?.replicas ?? 1;
  const st = d.status ?? {};
  const current = (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const ready = st.readyReplicas ?? 0;
  const ok =
    current &&
    want > 0 &&
    (st.updatedReplicas ?? 0) === want &&
    ready === want &&
    (st.availableReplicas ?? 0) === want &&
    (st.replicas ?? 0) === want;
  return { ok, message: `${ready}/${want} ready, ${st.updatedReplicas ?? 0} updated` };
}
