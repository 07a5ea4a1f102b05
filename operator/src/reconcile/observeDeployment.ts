/** Is a Deployment available at its desired size, on its latest generation? (kstatus rules for Deployments) */
import type { V1Deployment } from '@kubernetes/client-node';
import type { DeploymentObservation } from './context.ts';

export function observeDeployment(d: V1Deployment): DeploymentObservation {
  const name = d.metadata?.name ?? '';
  const desired = d.spec?.replicas ?? 1;
  const st = d.status ?? {};
  const upToDate = (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const conds = st.conditions ?? [];
  const availableCond = conds.find((c) => c.type === 'Available');
  const progressing = conds.find((c) => c.type === 'Progressing');
  const progressDeadlineExceeded = progressing?.reason === 'ProgressDeadlineExceeded';
  const ready = st.readyReplicas ?? 0;
  const updated = st.updatedReplicas ?? 0;
  const availableN = st.availableReplicas ?? 0;
  const total = st.replicas ?? 0;
  let available: boolean;
  let message: string;
  if (!upToDate) {
    available = false;
    message = `${name}: waiting for the controller to observe generation ${d.metadata?.generation}`;
  } else if (desired === 0) {
    available = total === 0;
    message = available ? `${name}: scaled to 0` : `${name}: scaling down (${total} pods left)`;
  } else {
    // Rollout complete (every pod on the latest template, no old pods left) and serving. Not "all replicas
    // available": an HPA scale-up must not flip the sale's Ready condition.
    available = updated >= desired && total <= desired && availableN >= 1 && availableCond !== undefined;
    message = `${name}: ${availableN}/${desired} available, ${updated} updated`;
  }
  return { name, available, desired, ready, message, progressDeadlineExceeded };
}
