/** Latency percentiles over recorded samples (exact: samples are kept, a run has at most a few million). */
export class Samples {
  private data = new Float64Array(1024);
  private n = 0;

  add(v: number): void {
    if (this.n === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.n++] = v;
  }

  /** add another run's samples (a worker thread's) */
  addAll(values: Float64Array): void {
    for (const v of values) this.add(v);
  }

  /** a copy of the samples, to post from a worker thread */
  values(): Float64Array {
    return this.data.slice(0, this.n);
  }

  get count(): number {
    return this.n;
  }

  summary(): { p50: number; p95: number; p99: number; max: number; mean: number } {
    if (this.n === 0) return { p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
    const sorted = this.data.slice(0, this.n).sort();
    const at = (q: number) => sorted[Math.min(this.n - 1, Math.ceil(q * this.n) - 1)] ?? 0;
    let sum = 0;
    for (const v of sorted) sum += v;
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[this.n - 1] ?? 0, mean: sum / this.n };
  }
}

export function increment(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}
