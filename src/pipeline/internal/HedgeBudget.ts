/**
 * The hedging budget of `HedgeStep`: over a sliding window (`windowMillis`, kept as 10 buckets of a tenth each, so
 * memory is fixed), hedges may be at most `percent` % of the requests plus `reserve`. A hedge is allowed when
 * `hedges + 1 ≤ requests × percent / 100 + reserve`, counting the requests and hedges of the buckets that started
 * less than a window ago; a bucket older than the window is dropped, which gives the budget back. Time is the
 * caller's `Clock` ms (so `TestClock` drives it).
 *
 * Mirrors Finagle's `RetryBudget` (a percentage of requests over a TTL window, plus a minimum reserve), applied to
 * hedges as Envoy does for its `hedge_policy` with retry budgets. Hand-rolled: effect has no windowed counter.
 *
 * @since 0.1.0
 */

const BUCKETS = 10

/** A sliding-window budget of extra requests. */
export class HedgeBudget {
  private readonly requests = new Float64Array(BUCKETS)
  private readonly hedges = new Float64Array(BUCKETS)
  private readonly width: number
  /** The index (time / width) of the newest bucket. */
  private head = 0
  private started = false

  private readonly percent: number
  private readonly reserve: number

  constructor(percent: number, windowMillis: number, reserve: number) {
    this.percent = percent
    this.reserve = reserve
    this.width = Math.max(1, windowMillis / BUCKETS)
  }

  private advance(now: number): number {
    const index = Math.floor(now / this.width)
    if (!this.started) {
      this.started = true
      this.head = index
    } else if (index > this.head) {
      const passed = Math.min(BUCKETS, index - this.head)
      for (let i = 1; i <= passed; i++) {
        const slot = (this.head + i) % BUCKETS
        this.requests[slot] = 0
        this.hedges[slot] = 0
      }
      this.head = index
    }
    // a clock that went back writes into the newest bucket
    return this.head % BUCKETS
  }

  private sum(counts: Float64Array): number {
    let total = 0
    // i < BUCKETS, the array's length
    for (let i = 0; i < BUCKETS; i++) total += counts[i] as number
    return total
  }

  /** Counts one request at `now`. */
  request(now: number): void {
    const slot = this.advance(now)
    // advance() returns an index below BUCKETS
    this.requests[slot] = (this.requests[slot] as number) + 1
  }

  /** Takes one hedge from the budget at `now`: true (counted) when the budget allows it, else false. */
  tryHedge(now: number): boolean {
    const slot = this.advance(now)
    const allowed = this.sum(this.requests) * (this.percent / 100) + this.reserve
    if (this.sum(this.hedges) + 1 > allowed + 1e-9) return false
    // advance() returns an index below BUCKETS
    this.hedges[slot] = (this.hedges[slot] as number) + 1
    return true
  }
}
