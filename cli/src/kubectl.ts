/**
 * `kubectl flashsale status|promote|abort|dlq`: the kubectl plugin (installed as `kubectl-flashsale` on the PATH).
 * Reads FlashSale resources through the Kubernetes API with the caller's kubeconfig (KUBECONFIG, --kubeconfig,
 * --context), sets the promote/abort annotations of a blue-green rollout, and runs the DLQ commands against the
 * sale's Kafka (spec.kafka.brokers, or --kafka when the cluster's addresses do not resolve from here).
 */
import {
  ABORT_ANNOTATION,
  FLASHSALE_GROUP,
  FLASHSALE_PLURAL,
  FLASHSALE_VERSION,
  type FlashSaleStatus,
  PAUSE_ROLLOUT_ANNOTATION,
  PROMOTE_ANNOTATION,
} from '@flashsale/common';
import { ApiException, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { Command, CommanderError, Option } from 'commander';
import { registerDlqCommands } from './dlq-command.ts';
import { CliError, EXIT } from './exit.ts';
import { fmt } from './load/progress.ts';

interface FlashSaleObject {
  metadata: { name: string; namespace: string; annotations?: Record<string, string>; generation?: number };
  spec: { kafka?: { brokers?: string }; items?: { id: string; quantity: number }[] };
  status?: FlashSaleStatus & Record<string, unknown>;
}

interface KubeOpts {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces?: boolean;
  output: 'text' | 'json';
}

function kube(o: KubeOpts): { api: CustomObjectsApi; namespace: string } {
  const kc = new KubeConfig();
  try {
    if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
    else kc.loadFromDefault();
    if (o.context) kc.setCurrentContext(o.context);
  } catch (e) {
    throw new CliError(`cannot load kubeconfig: ${(e as Error).message}`, EXIT.usage);
  }
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return { api: kc.makeApiClient(CustomObjectsApi), namespace: o.namespace ?? ctx?.namespace ?? 'default' };
}

function apiError(e: unknown, what: string): CliError {
  if (e instanceof ApiException) {
    let msg = String(e.body ?? e.message);
    try {
      msg = (JSON.parse(String(e.body)) as { message?: string }).message ?? msg;
    } catch {
      // not JSON
    }
    return new CliError(`${what}: HTTP ${e.code}: ${msg}`);
  }
  return new CliError(`${what}: ${(e as Error).message}`);
}

const ref = { group: FLASHSALE_GROUP, version: FLASHSALE_VERSION, plural: FLASHSALE_PLURAL };

async function getSale(o: KubeOpts, name: string): Promise<FlashSaleObject> {
  const { api, namespace } = kube(o);
  try {
    return (await api.getNamespacedCustomObject({ ...ref, namespace, name })) as FlashSaleObject;
  } catch (e) {
    throw apiError(e, `flashsale ${namespace}/${name}`);
  }
}

async function listSales(o: KubeOpts): Promise<FlashSaleObject[]> {
  const { api, namespace } = kube(o);
  try {
    const res = (
      o.allNamespaces
        ? await api.listClusterCustomObject(ref)
        : await api.listNamespacedCustomObject({ ...ref, namespace })
    ) as { items: FlashSaleObject[] };
    return res.items;
  } catch (e) {
    throw apiError(e, 'list flashsales');
  }
}

export function renderSale(s: FlashSaleObject): string {
  const st = s.status ?? {};
  const lines = [
    `FlashSale ${s.metadata.namespace}/${s.metadata.name}`,
    `  phase        ${st.phase ?? '(none yet)'}${st.message ? `: ${st.message}` : ''}`,
    `  sold         ${st.soldSummary ?? `${st.totalSold ?? '?'}/${st.totalQuantity ?? '?'}`}`,
  ];
  if (st.gatewayEndpoint) lines.push(`  gateway      ${st.gatewayEndpoint}`);
  if (st.topics)
    lines.push(`  topics       ${st.topics.orders} (${st.topics.partitions} partitions), ${st.topics.dlq}`);
  if (st.gatewayReplicas !== undefined || st.processorReplicas !== undefined) {
    lines.push(`  replicas     gateway ${st.gatewayReplicas ?? '?'}, processor ${st.processorReplicas ?? '?'}`);
  }
  const rollout = (st as Record<string, unknown>).rollout as Record<string, unknown> | undefined;
  if (rollout) {
    lines.push(
      `  rollout      ${Object.entries(rollout)
        .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
        .join(' ')}`,
    );
  }
  if (st.items?.length) {
    const w = Math.max(4, ...st.items.map((i) => i.id.length));
    lines.push(`  ${'item'.padEnd(w)}  ${'sold'.padStart(9)}  ${'held'.padStart(7)}  ${'remaining'.padStart(9)}  of`);
    for (const i of st.items) {
      lines.push(
        `  ${i.id.padEnd(w)}  ${fmt(i.sold).padStart(9)}  ${fmt(i.held ?? 0).padStart(7)}  ${fmt(i.remaining).padStart(9)}  ${fmt(i.quantity)}`,
      );
    }
  }
  for (const c of st.conditions ?? []) {
    lines.push(`  ${c.type.padEnd(20)} ${c.status.padEnd(7)} ${c.reason}${c.message ? `: ${c.message}` : ''}`);
  }
  const pending = [PROMOTE_ANNOTATION, ABORT_ANNOTATION, PAUSE_ROLLOUT_ANNOTATION].filter(
    (a) => s.metadata.annotations?.[a],
  );
  for (const a of pending) lines.push(`  annotation   ${a}=${s.metadata.annotations?.[a]}`);
  return `${lines.join('\n')}\n`;
}

/** Set an annotation (default value: now, so asking twice is two requests), or remove it with null. */
async function annotate(
  o: KubeOpts,
  name: string,
  annotation: string,
  value: string | null = new Date().toISOString(),
): Promise<FlashSaleObject> {
  const { api, namespace } = kube(o);
  try {
    return (await api.patchNamespacedCustomObject(
      { ...ref, namespace, name, body: { metadata: { annotations: { [annotation]: value } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as FlashSaleObject;
  } catch (e) {
    throw apiError(e, `annotate flashsale ${namespace}/${name}`);
  }
}

export function buildKubectlProgram(): Command {
  const program = new Command('kubectl-flashsale')
    .usage('<command> [options]   (as a plugin: kubectl flashsale <command>)')
    .description('FlashSale resources on a cluster: status, promote or abort a blue-green rollout, DLQ redrive')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context')
    .option('-n, --namespace <ns>', 'namespace (default: the context namespace, or "default")')
    .showHelpAfterError()
    .exitOverride();
  const globals = (): KubeOpts => program.opts() as KubeOpts;
  const output = () => new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text');

  program
    .command('status')
    .description('phase, sold/remaining per item, conditions and rollout of one FlashSale, or a list of all')
    .argument('[name]', 'FlashSale name (omit to list)')
    .option('-A, --all-namespaces', 'list across namespaces')
    .addOption(output())
    .action(async (name: string | undefined, o: { allNamespaces?: boolean; output: 'text' | 'json' }) => {
      const k = { ...globals(), ...o };
      if (name) {
        const s = await getSale(k, name);
        process.stdout.write(o.output === 'json' ? `${JSON.stringify(s, null, 2)}\n` : renderSale(s));
        return;
      }
      const all = await listSales(k);
      if (o.output === 'json') {
        process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
        return;
      }
      if (all.length === 0) {
        process.stdout.write('no FlashSales found\n');
        return;
      }
      process.stdout.write(`${'NAMESPACE'.padEnd(16)} ${'NAME'.padEnd(28)} ${'PHASE'.padEnd(10)} SOLD\n`);
      for (const s of all) {
        const st = s.status ?? {};
        process.stdout.write(
          `${s.metadata.namespace.padEnd(16)} ${s.metadata.name.padEnd(28)} ${(st.phase ?? '-').padEnd(10)} ${st.soldSummary ?? '-'}\n`,
        );
      }
    });

  for (const [cmd, annotation, what] of [
    ['promote', PROMOTE_ANNOTATION, 'promote the preview colour of a blue-green rollout now'],
    ['abort', ABORT_ANNOTATION, 'abort the rollout: traffic stays on (or returns to) the active colour'],
    ['pause', PAUSE_ROLLOUT_ANNOTATION, 'pause blue-green rollouts before promotion'],
    ['resume', PAUSE_ROLLOUT_ANNOTATION, 'let a paused rollout promote again'],
  ] as const) {
    program
      .command(cmd)
      .description(
        cmd === 'pause'
          ? `${what} (sets ${annotation}=true)`
          : cmd === 'resume'
            ? `${what} (removes ${annotation})`
            : `${what} (sets the ${annotation} annotation to the current time)`,
      )
      .argument('<name>', 'FlashSale name')
      .addOption(output())
      .action(async (name: string, o: { output: 'text' | 'json' }) => {
        const wanted = cmd === 'pause' ? 'true' : cmd === 'resume' ? null : undefined;
        const s = await annotate(globals(), name, annotation, wanted);
        const value = s.metadata.annotations?.[annotation] ?? null;
        process.stdout.write(
          o.output === 'json'
            ? `${JSON.stringify({ name, namespace: s.metadata.namespace, annotation, value })}\n`
            : `flashsale.flashsale.dev/${name} annotated ${annotation}=${value}\n`,
        );
      });
  }

  // `dlq list|replay <name>`: the CLI's DLQ commands with the sale and brokers taken from the FlashSale
  const dlq = program
    .command('dlq')
    .description("list or replay a FlashSale's dead-letter queue (Kafka from spec.kafka.brokers or --kafka)")
    .argument('<action>', 'list | replay')
    .argument('<name>', 'FlashSale name')
    .option('--kafka <brokers>', 'brokers reachable from here (default: spec.kafka.brokers)')
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption(
      '-h, --help',
      'help; replay also takes --reason, --count, --dry-run, --json (see `flashsale dlq replay --help`)',
    )
    .action(async (action: string, name: string, o: { kafka?: string }, cmd: Command) => {
      if (action !== 'list' && action !== 'replay') throw new CliError(`unknown dlq action "${action}"`, EXIT.usage);
      const s = await getSale(globals(), name);
      const brokers = o.kafka ?? s.spec.kafka?.brokers;
      if (!brokers) throw new CliError(`flashsale ${name} has no spec.kafka.brokers; pass --kafka`, EXIT.usage);
      const inner = new Command('flashsale').exitOverride();
      registerDlqCommands(inner);
      for (const c of inner.commands) {
        c.exitOverride();
        for (const sub of c.commands) sub.exitOverride();
      }
      const rest = cmd.args.slice(2);
      await inner.parseAsync(['dlq', action, '--sale', name, '--kafka', brokers, ...rest], { from: 'user' });
    });
  void dlq;
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // kafkajs 2.2.4 schedules timers with negative delays on Node >= 24 (harmless); keep the output readable
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
  });
  const program = buildKubectlProgram();
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    process.stderr.write(`kubectl-flashsale: ${(e as Error).message}\n`);
    return e instanceof CliError ? e.exitCode : EXIT.failure;
  }
}

if (import.meta.main) process.exit(await main(process.argv));
