/**
 * The kwok fake node is tainted, so a workload lands on it only when it asks to: a user's `helm install` on the local
 * cluster gets the real node (real pods), and control-plane tests that want cheap pretend pods put their namespace on
 * kwok with two namespace annotations (the API server's PodNodeSelector and PodTolerationRestriction admission
 * plugins add the node selector and the toleration to every pod created in it).
 */
export const KWOK_NODE_NAME = 'kwok-node-0';
export const KWOK_TAINT = { key: 'kwok.x-k8s.io/node', value: 'fake', effect: 'NoSchedule' } as const;

export const KWOK_NAMESPACE_ANNOTATIONS = {
  'scheduler.alpha.kubernetes.io/node-selector': 'type=kwok',
  'scheduler.alpha.kubernetes.io/defaultTolerations': JSON.stringify([
    { key: KWOK_TAINT.key, operator: 'Exists', effect: KWOK_TAINT.effect },
  ]),
} as const;

/** A Namespace whose pods all run on the kwok node (apply it with `kubectl apply -f -`). */
export function kwokNamespace(name: string, labels: Record<string, string> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels, annotations: { ...KWOK_NAMESPACE_ANNOTATIONS } },
  };
}
