/**
 * A bounded window of one target's latencies (the last `size` samples, in a ring) and a nearest-rank percentile
 * over it, for `HedgeStep`'s percentile delays. The percentile is recomputed (a sorted copy, O(n log n)) only when
 * a sample arrived since the last read, so a steady stream of hedge decisions costs one sort per new sample at most.
 *
 * Hand-rolled: effect's `Metric.summary` keeps quantiles by age, not over the last N samples, and cannot be read
 * synchronously on the hot path.
 *
 * @since 0.1.0
 */

/** The last `size` latencies of one target. */
export class LatencyWindow {
  private readonly ring: Float64Array
  private next = 0
  private filled = 0
  private dirty = false
  private sorted: Float64Array | undefined = undefined

  /** The most samples held. */
  readonly size: number

  constructor(size: number) {
    this.size = size
    this.ring = new Float64Array(size)
  }

  /** Samples held (at most `size`). */
  get count(): number {
    return this.filled
  }

  /** Adds one latency in ms (the oldest sample is dropped once the window is full). */
  add(millis: number): void {
    this.ring[this.next] = millis
    this.next = (this.next + 1) % this.size
    if (this.filled < this.size) this.filled++
    this.dirty = true
  }

  /** The nearest-rank `p`-th percentile (0 < p < 100) of the samples held, or `undefined` when there are none. */
  percentile(p: number): number | undefined {
    if (this.filled === 0) return undefined
    if (this.dirty || this.sorted === undefined) {
      this.sorted = this.ring.slice(0, this.filled).sort()
      this.dirty = false
    }
    const rank = Math.min(this.filled, Math.max(1, Math.ceil((p / 100) * this.filled)))
    return this.sorted[rank - 1]
  }
}
