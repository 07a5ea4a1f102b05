#!/usr/bin/env node
/** The `flashsale` command. Subcommands register themselves here. Exit codes: see ./exit.ts (docs/cli.md). */
import { Command, CommanderError } from 'commander';
import { registerCommands, result } from './commands.ts';
import { registerDlqCommands } from './dlq-command.ts';
import { CliError, EXIT } from './exit.ts';
import { redact } from './security.ts';

// kafkajs 2.2.4 schedules timers with negative delays on Node >= 24 (harmless); keep the output readable
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

const program = new Command('flashsale')
  .description('Flash Sale Engine command line: run a sale locally, load it, watch it, redrive its DLQ')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();
registerCommands(program);
registerDlqCommands(program);
for (const c of program.commands) c.exitOverride();

try {
  await program.parseAsync(process.argv);
  process.exitCode = result.code;
} catch (e) {
  if (e instanceof CommanderError) {
    // --help and --version exit 0; usage errors (already printed by commander) exit 2
    process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (e instanceof CliError) {
    process.stderr.write(`flashsale: ${redact(e.message)}\n`);
    process.exitCode = e.exitCode;
  } else if ((e as Error).name === 'ManifestError') {
    process.stderr.write(`flashsale: ${redact((e as Error).message)}\n`);
    process.exitCode = EXIT.usage;
  } else {
    process.stderr.write(`flashsale: ${redact((e as Error).message)}\n`);
    process.exitCode = EXIT.failure;
  }
}
process.exit(process.exitCode ?? 0);
