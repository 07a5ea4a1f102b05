/** Durations as the runbook writes them ("30s", "1m", "300ms", "1h"); a bare number is seconds. */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurationMs(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) throw new Error(`"${text}" is not a duration (examples: 300ms, 30s, 1m, 2h)`);
  const value = Number(m[1]) * (UNITS[m[2] ?? 's'] ?? 1000);
  if (!Number.isFinite(value)) throw new Error(`"${text}" is out of range`);
  return Math.round(value);
}
