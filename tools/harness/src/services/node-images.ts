/**
 * Images for the real node: docker archives (podman-saved, tools/harness/src/images.ts) imported into containerd's
 * `k8s.io` namespace, where CRI finds them. An image whose ID containerd already has under all its names is skipped,
 * so a warm start imports nothing.
 */
import { join } from 'node:path';
import { binPaths } from '../paths.ts';
import { run } from '../proc.ts';
import type { NodeLayout } from './node-config.ts';

export interface ImageArchive {
  /** every name the image carries (fully qualified, e.g. docker.io/library/redis:7.0.15-bookworm) */
  tags: string[];
  /** the image ID (config digest, with or without `sha256:`) */
  id: string;
  /** docker archive (`podman save --format docker-archive`) */
  archive: string;
}

const bare = (id: string) => id.replace(/^sha256:/, '');

/** The images CRI sees: ID (config digest) -> names. */
export async function criImages(l: NodeLayout): Promise<Map<string, string[]>> {
  const endpoint = `unix://${l.containerdSocket}`;
  const r = await run(binPaths.crictl, [
    '--runtime-endpoint',
    endpoint,
    '--image-endpoint',
    endpoint,
    'images',
    '-o',
    'json',
  ]);
  const list = (JSON.parse(r.stdout) as { images?: { id: string; repoTags?: string[] }[] }).images ?? [];
  return new Map(list.map((i) => [bare(i.id), i.repoTags ?? []]));
}

/** Imports what containerd lacks; returns every name now available to pods. */
export async function importImages(l: NodeLayout, images: ImageArchive[], logPath: string): Promise<string[]> {
  const present = await criImages(l);
  const ctr = join(binPaths.containerdDir, 'ctr');
  for (const img of images) {
    const have = present.get(bare(img.id));
    if (have && img.tags.every((t) => have.includes(t))) continue;
    await run(ctr, ['--address', l.containerdSocket, '--namespace', 'k8s.io', 'images', 'import', img.archive], {
      logPath,
    });
  }
  const after = await criImages(l);
  const missing = images.filter((i) => !after.has(bare(i.id)));
  if (missing.length)
    throw new Error(`containerd lacks images after import: ${missing.map((i) => i.tags[0]).join(', ')}`);
  return [...after.values()].flat().sort();
}
