/**
 * The level to log an item's drift at. A bucketed item read mid-burst can show a passing drift even after the audit's
 * re-reads, and with a short audit interval in several audits running; the alert waits for a drift that lasts
 * (FlashSaleInventoryDrift: drift != 0 for 2 min). So a drift is a warning until it has lasted `errorAfterMs` (half the alert's
 * wait), then an error; an audit without drift starts the item again.
 */
export class DriftStreaks {
  private readonly since = new Map<string, number>();
  private readonly errorAfterMs: number;

  constructor(errorAfterMs = 60_000) {
    this.errorAfterMs = errorAfterMs;
  }

  level(itemId: string, drift: number, now: number): 'warn' | 'error' | undefined {
    if (drift === 0) {
      this.since.delete(itemId);
      return undefined;
    }
    const first = this.since.get(itemId) ?? now;
    this.since.set(itemId, first);
    return now - first >= this.errorAfterMs ? 'error' : 'warn';
  }
}
