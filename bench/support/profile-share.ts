/**
 * Where a process's CPU went, from a V8 `.cpuprofile` (`node --cpu-prof`), as shares of the busy time (idle and
 * program samples left out): each sample counts for the nearest frame on its stack that belongs to a package (the
 * directory after the last `node_modules/`) or to this repository (per workspace), so Node's own code (buffers,
 * sockets) counts for the library that called it; samples with no such frame count as Node's; GC on its own.
 *
 *   node bench/support/profile-share.ts <file.cpuprofile> [...more, summed]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The group a frame's self time counts for. */
export function groupOf(frame: ProfileNode['callFrame']): string | undefined {
  const { url, functionName } = frame;
  if (functionName === '(idle)' || functionName === '(program)' || functionName === '(root)') return undefined;
  if (functionName === '(garbage collector)') return 'GC';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? 'node_modules');
  }
  if (url.startsWith('node:') || (url === '' && functionName !== '')) return 'node (runtime, http, net, streams)';
  const ws = /\/(gateway|processor|common|operator|cli|bench)\/src\//.exec(url) ?? /\/(bench)\//.exec(url);
  if (ws) return `flash sale: ${ws[1]}`;
  return url === '' ? 'other' : `other (${url.split('/').slice(-2).join('/')})`;
}

export function shares(profiles: Profile[]): { group: string; ms: number; share: number }[] {
  const totals = new Map<string, number>();
  let busy = 0;
  for (const p of profiles) {
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const owner = new Map<number, string | undefined>();
    const ownerOf = (id: number): string | undefined => {
      if (owner.has(id)) return owner.get(id);
      const node = byId.get(id);
      let g = node && groupOf(node.callFrame);
      if (g?.startsWith('node ')) {
        const up = parent.get(id);
        const above = up === undefined ? undefined : ownerOf(up);
        if (above && !above.startsWith('node ')) g = above;
      }
      owner.set(id, g);
      return g;
    };
    p.samples.forEach((id, i) => {
      const g = ownerOf(id);
      if (!g) return;
      const dt = (p.timeDeltas[i] ?? 0) / 1000;
      busy += dt;
      totals.set(g, (totals.get(g) ?? 0) + dt);
    });
  }
  return [...totals].map(([group, ms]) => ({ group, ms, share: ms / busy })).sort((a, b) => b.ms - a.ms);
}

if (import.meta.main) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: node bench/support/profile-share.ts <file.cpuprofile>...\n');
    process.exit(2);
  }
  const rows = shares(files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Profile));
  const busy = rows.reduce((s, r) => s + r.ms, 0);
  process.stdout.write(`busy ${(busy / 1000).toFixed(2)} s of CPU samples\n`);
  for (const r of rows.slice(0, 20))
    process.stdout.write(
      `${(r.share * 100).toFixed(1).padStart(5)} %  ${r.ms.toFixed(0).padStart(7)} ms  ${r.group}\n`,
    );
}
