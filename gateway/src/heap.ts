/**
 * The gateway's V8 heap setting. Under load V8 grows the young generation to 2 x 64 MB semi-spaces (Node 24): half of
 * the gateway's peak RSS (`make bench`: peak 283-287 MB, new space 128 MB). Capped at 8 MB each the peak stays under
 * 200 MB at the same throughput (docs/benchmarks.md). The cap is a start-up flag of V8 (it cannot be changed once the
 * heap exists), so a process started without it replaces itself (`process.execve`, same pid, before anything is
 * opened) with one that has it; whoever starts the gateway (the image, the operator, `flashsale up`, the tests) needs
 * no flag of its own.
 */
const FLAG = '--max-semi-space-size';

/** Re-execute this process with `--max-semi-space-size=<mb>` unless it has that flag already (mb 0: leave V8's). */
export function applySemiSpaceCap(mb: number): void {
  if (mb <= 0 || process.execArgv.some((a) => a.startsWith(FLAG))) return;
  process.execve?.(process.execPath, [
    process.execPath,
    `${FLAG}=${mb}`,
    ...process.execArgv,
    ...process.argv.slice(1),
  ]);
}
