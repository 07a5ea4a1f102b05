#!/usr/bin/env node
// Services harness CLI: install | up | down | restart | status [service...] | images  (see docs/local-services.md)
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { containerdImports, ensureImages } from './images.ts';
import { NativeProvider } from './native.ts';
import { binPaths, dirs, FSE_HOME } from './paths.ts';
import { kubeconfigPath } from './services/kube.ts';
import type { ServiceName } from './types.ts';
import { ALL_SERVICES, DEFAULT_SERVICES } from './types.ts';

const USAGE = `usage: node tools/harness/src/cli.ts <install|up|down|restart|status> [--json] [service...] | cluster-env
       node tools/harness/src/cli.ts images [--json]   (build the container images with podman, cached)
services: ${ALL_SERVICES.join(', ')} (default for install/up: ${DEFAULT_SERVICES.join(', ')}; down/status: all)`;

function parseNames(args: string[], fallback: readonly ServiceName[]): ServiceName[] {
  if (!args.length) return [...fallback];
  for (const a of args) {
    if (!(ALL_SERVICES as readonly string[]).includes(a)) throw new Error(`unknown service '${a}'\n${USAGE}`);
  }
  return args as ServiceName[];
}

// kafkajs 2.2.4 schedules timers with negative delays on Node >= 24 (harmless); keep the output readable
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  const json = rest.includes('--json');
  const args = rest.filter((a) => a !== '--json');
  const p = new NativeProvider();
  const t0 = Date.now();
  const secs = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  switch (cmd) {
    case 'install':
      await p.install(parseNames(args, DEFAULT_SERVICES));
      console.log(`harness: installed (cache ${FSE_HOME}) in ${secs()}`);
      return 0;
    case 'up': {
      const endpoints = await p.up(parseNames(args, DEFAULT_SERVICES), { owner: 'cli' });
      if (json) console.log(JSON.stringify(endpoints, null, 2));
      else console.log(`harness: up in ${secs()}; logs in ${dirs.logs}\n${JSON.stringify(endpoints, null, 2)}`);
      return 0;
    }
    case 'restart': {
      const endpoints = await p.restart(parseNames(args, DEFAULT_SERVICES));
      console.log(JSON.stringify(endpoints, null, 2));
      return 0;
    }
    case 'down':
      await p.down(parseNames(args, ALL_SERVICES));
      console.log(`harness: down in ${secs()}`);
      return 0;
    case 'status': {
      const all = await p.status(parseNames(args, ALL_SERVICES));
      if (json) {
        console.log(JSON.stringify(all, null, 2));
      } else {
        console.log(`cache: ${FSE_HOME}\nlogs:  ${dirs.logs}`);
        for (const s of all) {
          const pids = s.pids?.length ? ` pids ${s.pids.join(',')}` : '';
          const owner = s.owner ? ` (started by ${s.owner})` : '';
          const ep = s.endpoint ? ` ${JSON.stringify(s.endpoint)}` : '';
          console.log(`${s.name.padEnd(13)} ${s.state}${owner}${pids}${s.detail ? ` - ${s.detail}` : ''}${ep}`);
        }
      }
      return all.some((s) => s.state === 'unhealthy') ? 1 : 0;
    }
    case 'cluster-env': {
      // what a shell needs to use the local cluster: eval "$(make -s cluster-env)"
      const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
      const path = [
        dirname(binPaths.kubectl),
        dirname(binPaths.helm),
        join(repo, 'cli', 'bin'),
        dirname(process.execPath),
      ];
      console.log(`export KUBECONFIG=${kubeconfigPath()}\nexport PATH=${path.join(':')}:$PATH`);
      return 0;
    }
    case 'images': {
      const set = await ensureImages();
      if (json) {
        console.log(JSON.stringify({ images: set, containerd: containerdImports(set) }, null, 2));
      } else {
        console.log(`harness: images in ${secs()}`);
        for (const b of Object.values(set)) {
          const mb = (b.sizeBytes / 1e6).toFixed(0).padStart(4);
          console.log(`${b.id.slice(0, 12)} ${mb} MB  ${b.tags.join(' ')}${b.archive ? `  (${b.archive})` : ''}`);
        }
      }
      return 0;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`harness: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
