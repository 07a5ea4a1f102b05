import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { childBaseEnv, fseHome } from './env.ts';

describe('childBaseEnv', () => {
  it('gives the children a compile cache under FSE_HOME and nothing of the caller but PATH and HOME', () => {
    const env = childBaseEnv({ PATH: '/bin', HOME: '/h', FSE_HOME: '/fse', REDIS_PASSWORD: 'secret' });
    expect(env).toEqual({ PATH: '/bin', HOME: '/h', NODE_COMPILE_CACHE: join('/fse', 'compile-cache') });
  });

  it("keeps the caller's own compile cache, or its choice to have none", () => {
    expect(childBaseEnv({ NODE_COMPILE_CACHE: '/mine' }).NODE_COMPILE_CACHE).toBe('/mine');
    const off = childBaseEnv({ NODE_DISABLE_COMPILE_CACHE: '1' });
    expect(off.NODE_DISABLE_COMPILE_CACHE).toBe('1');
    expect(off.NODE_COMPILE_CACHE).toBeUndefined();
  });

  it('falls back to ~/.cache/flash-sale-engine without FSE_HOME', () => {
    expect(fseHome({ FSE_HOME: '' })).toMatch(/\.cache\/flash-sale-engine$/);
  });
});
