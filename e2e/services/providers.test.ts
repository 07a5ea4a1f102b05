import { describe, expect, it } from 'vitest';
import { parseServices, selectProviderKind, TestcontainersProvider } from '../../tools/harness/src/index.ts';

describe('provider selection', () => {
  it('honours FLASHSALE_E2E_ENV and refuses unknown values', async () => {
    expect(await selectProviderKind('native')).toBe('native');
    expect(await selectProviderKind('testcontainers')).toBe('testcontainers');
    await expect(selectProviderKind('docker')).rejects.toThrow(/FLASHSALE_E2E_ENV/);
  });

  it('parses FSE_SERVICES and names the variable on a bad entry', () => {
    expect(parseServices('redis, kafka kube', [])).toEqual(['redis', 'kafka', 'kube']);
    expect(parseServices(undefined, ['redis'])).toEqual(['redis']);
    expect(() => parseServices('redis,mongo', [])).toThrow(/FSE_SERVICES.*mongo/);
  });

  it('testcontainers with a DOCKER_HOST that does not answer fails with a clear message (no podman fallback)', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    try {
      await expect(new TestcontainersProvider().up(['redis'])).rejects.toThrow(
        /no Docker engine answered at DOCKER_HOST=unix:\/\/\/nonexistent\/docker\.sock.*FLASHSALE_E2E_ENV=native/,
      );
      await expect(new TestcontainersProvider().up(['kafka3'])).rejects.toThrow(/does not offer kafka3/);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });
});
