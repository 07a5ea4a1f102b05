/** `flashsale up | load | status`: commander wiring over up.ts, load/load.ts and status.ts. */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { EXIT, type OutputFormat } from './exit.ts';
import { runLoadCommand } from './load/load.ts';
import { ARRIVALS, LOAD_DEFAULTS } from './load/options.ts';
import { runStatus } from './status.ts';
import { runUp } from './up.ts';

/** Set by an action; main.ts exits with it. */
export const result = { code: EXIT.ok as number };

const int =
  (name: string, min = 0) =>
  (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
const num = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new InvalidArgumentError(`${name} must be between ${min} and ${max}`);
  return n;
};
const share = (name: string) => num(name, 0, 1);
const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const keyValue = (v: string, prev: Record<string, string> = {}) => {
  const i = v.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError('--env takes NAME=value');
  return { ...prev, [v.slice(0, i)]: v.slice(i + 1) };
};

export const outputOption = () =>
  new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text');

/**
 * TLS trust and password files of the CLI's own connections. Usernames, passwords and the SASL mechanism come from
 * the gateway's and processor's variables (REDIS_USERNAME, REDIS_PASSWORD, KAFKA_SASL_MECHANISM, KAFKA_USERNAME,
 * KAFKA_PASSWORD; security.ts), never from a flag's value: flags show in `ps`.
 */
const securityOptions = (what: string) => [
  new Option('--redis-ca <file>', `CA bundle (PEM) to trust for Redis TLS${what}`).env('REDIS_TLS_CA_FILE'),
  new Option('--kafka-ca <file>', `CA bundle (PEM) to trust for Kafka TLS${what}`).env('KAFKA_TLS_CA_FILE'),
  new Option('--redis-password-file <file>', 'file holding the Redis password (else REDIS_PASSWORD)'),
  new Option('--kafka-password-file <file>', 'file holding the Kafka SASL password (else KAFKA_PASSWORD)'),
];
const withSecurity = (c: Command, what: string) => {
  for (const o of securityOptions(what)) c.addOption(o);
  return c;
};
const securityFlags = (o: {
  redisCa?: string;
  kafkaCa?: string;
  redisPasswordFile?: string;
  kafkaPasswordFile?: string;
}) => ({
  redisCa: o.redisCa,
  kafkaCa: o.kafkaCa,
  redisPasswordFile: o.redisPasswordFile,
  kafkaPasswordFile: o.kafkaPasswordFile,
});

const redisModeOption = () =>
  new Option('--redis-mode <mode>', 'single Redis or Redis Cluster').choices(['single', 'cluster']);

export function registerCommands(program: Command): void {
  const up = program.command('up');
  withSecurity(up, ' (spec.<redis|kafka>.tls)');
  up.description(
    'run a FlashSale manifest locally: validate it with the CRD schema, seed inventory, create topics, ' +
      'then run the gateway and processor(s) as child processes until interrupted (Ctrl-C drains and stops them)',
  )
    .requiredOption('-f, --file <manifest>', 'FlashSale manifest (YAML or JSON), e.g. examples/flashsale.yaml')
    .option('--name <name>', 'which FlashSale of a multi-document file')
    .option('--sale <name>', 'run under another sale name (Redis keys and topics are per sale)')
    .addOption(new Option('--redis <host:port>', 'Redis address (default: spec.redis.addr)').env('REDIS_ADDR'))
    .addOption(
      new Option('--kafka <brokers>', 'Kafka brokers host:port,... (default: spec.kafka.brokers)').env('KAFKA_ADDR'),
    )
    .option('--host <host>', 'address the gateway and metrics listen on', '127.0.0.1')
    .option('--port <port>', 'gateway port', int('--port', 0), 8080)
    .option('--metrics-port <port>', 'first processor metrics port (one per processor)', int('--metrics-port', 1), 9090)
    .option('--processors <n>', 'processor processes (default: spec.processor.replicas)', int('--processors', 1))
    .option(
      '--partitions <n>',
      'partitions of the orders topic (default: spec.topics.partitions)',
      int('--partitions', 1),
    )
    .option('--now', 'open the sale window now, keeping its length (the manifest may schedule it later)', false)
    .option('--log-level <level>', 'LOG_LEVEL of the children', 'warn')
    .option('--log-dir <dir>', 'where the children log (default: $TMPDIR/flashsale/<sale>)')
    .option('--delete-on-exit', "delete the sale's Redis keys and topics when stopping", false)
    .option('--env <NAME=value>', 'extra environment for gateway and processor (repeatable)', keyValue, {})
    .addOption(outputOption())
    .action(async (o) => {
      result.code = await runUp({
        file: o.file,
        name: o.name,
        sale: o.sale,
        redis: o.redis,
        kafka: o.kafka,
        ...securityFlags(o),
        host: o.host,
        port: o.port,
        metricsPort: o.metricsPort,
        processors: o.processors,
        partitions: o.partitions,
        now: o.now,
        logLevel: o.logLevel,
        logDir: o.logDir,
        deleteOnExit: o.deleteOnExit,
        env: o.env,
        output: o.output as OutputFormat,
      });
    });

  const d = LOAD_DEFAULTS;
  const load = program.command('load');
  withSecurity(load, ' (turns TLS on; default: the running `flashsale up`)');
  load
    .description(
      'fire a flash-sale crowd at the gateway (burst arrivals, retries with the same key, bots, SSE followers), ' +
        'then audit from Redis and the order stream; exit 0 only if 0 oversold and 0 lost (3 otherwise)',
    )
    .option('--url <url>', 'gateway URL (default: the running `flashsale up`)')
    .option('--sale <name>', 'sale name (default: the running `flashsale up`, or GET /v1/sale)')
    .addOption(new Option('--redis <host:port>', 'Redis to audit (default: the running `flashsale up`)'))
    .addOption(redisModeOption())
    .addOption(new Option('--kafka <brokers>', 'Kafka brokers, to read the order stream back and count the DLQ'))
    .option('--users <n>', 'distinct users', int('--users', 1), d.users)
    .option('--attempts <n>', 'order attempts in total', int('--attempts', 1), d.attempts)
    .addOption(new Option('--arrival <curve>', 'arrival curve').choices(ARRIVALS).default(d.arrival))
    .option('--ramp <seconds>', 'users arrive within this many seconds', num('--ramp', 0, 3600), d.rampSeconds)
    .option(
      '--concurrency <n>',
      'requests in flight at most (HTTP connections)',
      int('--concurrency', 1),
      d.concurrency,
    )
    .option(
      '--workers <n>',
      'threads driving the crowd, each with a share of the users and connections',
      int('--workers', 1),
      d.workers,
    )
    .option(
      '--retry-share <share>',
      'users who repeat a request with the same key',
      share('--retry-share'),
      d.retryShare,
    )
    .option('--bot-share <share>', 'users who are bots (no back-off, shared IPs)', share('--bot-share'), d.botShare)
    .option('--bot-weight <n>', "a bot's attempts as a multiple of a person's", int('--bot-weight', 1), d.botWeight)
    .option('--sse-share <share>', 'accepted orders followed over SSE', share('--sse-share'), d.sseShare)
    .option('--hot-share <share>', 'attempts aimed at the first item', share('--hot-share'), d.hotShare)
    .addOption(
      new Option('--spread <how>', "attempts over items: evenly, or by each item's remaining stock")
        .choices(['even', 'stock'])
        .default(d.spread),
    )
    .option('--quantity <n>', 'units per order', int('--quantity', 1), d.quantity)
    .option('--items <ids>', 'comma-separated item ids (default: GET /v1/sale)', list, [])
    .option(
      '--settle <seconds>',
      'wait this long for accepted orders to reach a final status',
      num('--settle', 0, 3600),
      d.settleSeconds,
    )
    .option('--max-seconds <seconds>', 'hard stop of the burst', num('--max-seconds', 1, 7200), d.maxSeconds)
    .option('--seed <n>', 'seed of the crowd plan', int('--seed', 0), d.seed)
    .option('--no-progress', 'no progress bar on stderr')
    .addOption(outputOption())
    .action(async (o) => {
      const { code } = await runLoadCommand({
        target: {
          url: o.url,
          sale: o.sale,
          redis: o.redis,
          redisMode: o.redisMode,
          kafka: o.kafka,
          security: securityFlags(o),
        },
        output: o.output as OutputFormat,
        progress: o.progress !== false,
        options: {
          url: o.url ?? 'http://placeholder',
          users: o.users,
          attempts: o.attempts,
          arrival: o.arrival,
          rampSeconds: o.ramp,
          concurrency: o.concurrency,
          workers: o.workers,
          retryShare: o.retryShare,
          botShare: o.botShare,
          botWeight: o.botWeight,
          sseShare: o.sseShare,
          hotShare: o.hotShare,
          quantity: o.quantity,
          spread: o.spread,
          items: o.items,
          settleSeconds: o.settle,
          maxSeconds: o.maxSeconds,
          seed: o.seed,
        },
      });
      result.code = code;
    });

  const status = program.command('status');
  withSecurity(status, ' (turns TLS on; default: the running `flashsale up`)');
  status
    .description('sale progress (sold, remaining, held per item; orders, DLQ, lag, rates) from Redis and /metrics')
    .option('--sale <name>', 'sale name (default: the running `flashsale up`)')
    .option('--redis <host:port>', 'Redis address (default: the running `flashsale up`)')
    .addOption(redisModeOption())
    .option('--gateway-metrics <url>', 'gateway /metrics URL')
    .option('--processor-metrics <urls>', 'processor /metrics URLs, comma-separated', list)
    .option('-w, --watch', 'refresh until interrupted (default on a terminal)')
    .option('--no-watch', 'print once')
    .option('--interval <seconds>', 'refresh period', num('--interval', 0.1, 3600), 1)
    .option('--count <n>', 'stop after n refreshes (0: never)', int('--count', 0), 0)
    .addOption(outputOption())
    .action(async (o) => {
      result.code = await runStatus({
        sale: o.sale,
        redis: o.redis,
        redisMode: o.redisMode,
        gatewayMetrics: o.gatewayMetrics,
        processorMetrics: o.processorMetrics,
        watch: o.watch ?? Boolean(process.stdout.isTTY),
        intervalMs: o.interval * 1000,
        count: o.count,
        output: o.output as OutputFormat,
        security: securityFlags(o),
      });
    });
}
