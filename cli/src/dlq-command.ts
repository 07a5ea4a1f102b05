/** `flashsale dlq list|replay`: commander wiring over ./dlq.ts. */

import { DLQ_REASONS } from '@flashsale/common';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { listDlq, replayDlq } from './dlq.ts';
import { cliSecurity } from './security.ts';

const kafkaOption = () =>
  new Option('--kafka <brokers>', 'Kafka bootstrap brokers, host:port[,host:port...]')
    .env('KAFKA_ADDR')
    .default('127.0.0.1:9092');

/** TLS trust and SASL for the Kafka connection; the credentials come from the environment (docs/cli.md). */
const kafkaCaOption = () =>
  new Option('--kafka-ca <file>', 'CA bundle (PEM) to trust for Kafka TLS (turns TLS on)').env('KAFKA_TLS_CA_FILE');
const kafkaPasswordFileOption = () =>
  new Option(
    '--kafka-password-file <file>',
    'file holding the SASL password (else KAFKA_PASSWORD; KAFKA_SASL_MECHANISM and KAFKA_USERNAME from the environment)',
  );

interface SecurityOpts {
  kafkaCa?: string;
  kafkaPasswordFile?: string;
}

const security = (o: SecurityOpts) => cliSecurity({ kafkaCa: o.kafkaCa, kafkaPasswordFile: o.kafkaPasswordFile });

const brokers = (s: string) =>
  s
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);

export function registerDlqCommands(program: Command): Command {
  const dlq = program.command('dlq').description('inspect and redrive the dead-letter queue of a sale');
  dlq
    .command('list')
    .description('unhandled DLQ messages grouped by reason')
    .requiredOption('--sale <name>', 'sale name')
    .addOption(kafkaOption())
    .addOption(kafkaCaOption())
    .addOption(kafkaPasswordFileOption())
    .option('--json', 'print JSON')
    .action(async (opts: { sale: string; kafka: string; json?: boolean } & SecurityOpts) => {
      const s = await listDlq({ sale: opts.sale, brokers: brokers(opts.kafka), security: security(opts) });
      if (opts.json) {
        const { messages: _m, ...rest } = s;
        process.stdout.write(`${JSON.stringify(rest, null, 2)}\n`);
        return;
      }
      process.stdout.write(`DLQ of sale ${s.sale}: ${s.total} unhandled message(s)\n`);
      for (const r of s.reasons) {
        process.stdout.write(
          `  ${r.reason.padEnd(22)} ${String(r.count).padStart(7)}   oldest ${r.oldestAgeSeconds.toFixed(0)} s   e.g. ${r.sampleOrderIds.join(', ')}\n`,
        );
      }
    });
  dlq
    .command('replay')
    .description('replay DLQ messages to the orders topic (idempotent: the processor dedupes)')
    .requiredOption('--sale <name>', 'sale name')
    .addOption(kafkaOption())
    .addOption(kafkaCaOption())
    .addOption(kafkaPasswordFileOption())
    .addOption(new Option('--reason <reason...>', 'only these reasons').choices([...DLQ_REASONS]))
    .option('--count <n>', 'at most n messages, oldest first', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('--count must be a positive integer');
      return n;
    })
    .option('--dry-run', 'show what would be replayed; change nothing')
    .option('--json', 'print JSON')
    .action(
      async (
        opts: {
          sale: string;
          kafka: string;
          reason?: string[];
          count?: number;
          dryRun?: boolean;
          json?: boolean;
        } & SecurityOpts,
      ) => {
        const r = await replayDlq({
          sale: opts.sale,
          brokers: brokers(opts.kafka),
          reasons: opts.reason,
          count: opts.count,
          dryRun: opts.dryRun,
          security: security(opts),
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
          return;
        }
        const verb = r.dryRun ? 'would replay' : 'replayed';
        process.stdout.write(`${verb} ${r.dryRun ? r.selected : r.replayed} message(s)`);
        process.stdout.write(
          ` ${JSON.stringify(r.byReason)}${r.requeued ? `; ${r.requeued} skipped message(s) requeued` : ''}\n`,
        );
      },
    );
  return dlq;
}
