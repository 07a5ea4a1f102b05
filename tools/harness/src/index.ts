/** The harness as a library: pick a provider, start services, hand their endpoints to tests. */
import { NativeProvider } from './native.ts';
import { dockerEngineAnswers, TestcontainersProvider } from './testcontainers.ts';
import type { ServiceName, ServiceProvider } from './types.ts';
import { ALL_SERVICES } from './types.ts';

export {
  type BuiltImage,
  containerdImports,
  ensureImages,
  IMAGE_NAMES,
  type ImageKey,
  type ImageSet,
  podmanEnv,
} from './images.ts';
export { KWOK_NAMESPACE_ANNOTATIONS, KWOK_NODE_NAME, KWOK_TAINT, kwokNamespace } from './kwok.ts';
export { leases, NativeProvider } from './native.ts';
export { PrivateApiServer, type PrivateApiServerOptions } from './private-apiserver.ts';
export { dockerEngineAnswers, TestcontainersProvider } from './testcontainers.ts';
export * from './types.ts';

export type ProviderKind = 'native' | 'testcontainers';

/** FLASHSALE_E2E_ENV=native|testcontainers; unset: testcontainers when a Docker engine answers, else native. */
export async function selectProviderKind(env = process.env.FLASHSALE_E2E_ENV): Promise<ProviderKind> {
  if (env === 'native' || env === 'testcontainers') return env;
  if (env !== undefined && env !== '') {
    throw new Error(`FLASHSALE_E2E_ENV must be 'native' or 'testcontainers', got '${env}'`);
  }
  return (await dockerEngineAnswers()) ? 'testcontainers' : 'native';
}

export function createProvider(kind: ProviderKind): ServiceProvider {
  return kind === 'native' ? new NativeProvider() : new TestcontainersProvider();
}

/** Parses a list like "redis,kafka kube" (FSE_SERVICES); unknown names are an error naming the variable. */
export function parseServices(raw: string | undefined, fallback: readonly ServiceName[], variable = 'FSE_SERVICES') {
  if (raw === undefined || raw.trim() === '') return [...fallback];
  const names = raw.split(/[\s,]+/).filter(Boolean);
  const bad = names.filter((n) => !(ALL_SERVICES as readonly string[]).includes(n));
  if (bad.length)
    throw new Error(`${variable}: unknown service(s) ${bad.join(', ')}; known: ${ALL_SERVICES.join(', ')}`);
  return [...new Set(names)] as ServiceName[];
}
