/**
 * Progress on stderr (stdout stays clean for the table or JSON): a redrawn bar on a terminal, a line every few
 * seconds otherwise (CI logs, `make demo` piped through tee).
 */
export class Progress {
  private lastLine = 0;
  private drawn = false;
  private readonly tty: boolean;
  private readonly out: NodeJS.WriteStream;
  private readonly enabled: boolean;

  constructor(enabled: boolean, out: NodeJS.WriteStream = process.stderr) {
    this.out = out;
    this.tty = Boolean(out.isTTY);
    this.enabled = enabled;
  }

  static bar(done: number, total: number, width = 28): string {
    const f = total > 0 ? Math.min(1, done / total) : 0;
    const full = Math.round(f * width);
    return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(f * 100).toFixed(0).padStart(3)}%`;
  }

  update(text: string, done: number, total: number): void {
    if (!this.enabled) return;
    const line = `${Progress.bar(done, total)} ${text}`;
    if (this.tty) {
      this.out.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else if (Date.now() - this.lastLine >= 2000 || done >= total) {
      this.out.write(`${line}\n`);
      this.lastLine = Date.now();
    }
  }

  /** end the current bar (keeps it on screen) */
  done(): void {
    if (this.enabled && this.tty && this.drawn) this.out.write('\n');
    this.drawn = false;
    this.lastLine = 0;
  }
}

export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
