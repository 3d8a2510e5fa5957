/**
 * The deletes and clears of one cache, as the tiered cache needs them after the fact:
 *
 * - **Marks** (`CacheShape.mark` / `put(…, { since })`): a ring of the last `INVALIDATION_LOG_SIZE` (1,024) deletes
 *   and clears, each a key or a prefix. A put given a mark stores nothing when one of the invalidations since the
 *   mark matches its key; a mark older than the ring counts as invalidated for every key (the safe answer).
 * - **Clears in progress**: a clear empties L1 at once but reaches the L2 keys one `SCAN` page at a time, so an L2
 *   value read meanwhile may be one the clear has yet to delete. While a prefix's clear runs, an L2 value under it
 *   is neither returned nor promoted into L1. Bounded: past `MAX_CLEARING_PREFIXES` (1,000) distinct prefixes
 *   cleared at once, every key counts as under a clear until those clears finish.
 *
 * Synchronous and allocation-free on the hot path: `invalidatedSince` is one comparison when nothing was
 * invalidated since the mark, `underClear` one when no clear is running.
 *
 * @since 0.1.0
 */
import type { CacheMark } from "../CacheShape.ts"

/** How many deletes and clears a mark can look back over. */
export const INVALIDATION_LOG_SIZE = 1024
/** Distinct prefixes tracked while their clear runs (past it, every key counts as under a clear). */
export const MAX_CLEARING_PREFIXES = 1000

/** The invalidation history and clears in progress of one cache. */
export class Invalidations {
  private readonly log: Array<string> = new Array<string>(INVALIDATION_LOG_SIZE).fill("")
  private readonly isPrefix: Array<boolean> = new Array<boolean>(INVALIDATION_LOG_SIZE).fill(false)
  private count = 0
  private readonly clearing = new Map<string, number>()
  private clearingUntracked = 0

  /** The current mark (the number of invalidations so far). */
  mark(): CacheMark {
    return this.count as CacheMark // a mark is the invalidation count, branded
  }

  /** Whether `mark` is a mark this history could have given (an integer from 0 to the current count). */
  isMark(mark: unknown): mark is CacheMark {
    return typeof mark === "number" && Number.isSafeInteger(mark) && mark >= 0 && mark <= this.count
  }

  /** Records a delete of `key`, or a clear of every key starting with `prefix` (`prefix: true`). */
  record(keyOrPrefix: string, prefix: boolean): void {
    const i = this.count % INVALIDATION_LOG_SIZE
    this.log[i] = keyOrPrefix
    this.isPrefix[i] = prefix
    this.count++
  }

  /** Whether `key` was deleted or cleared since `mark` (always, for a mark older than the log). */
  invalidatedSince(key: string, mark: CacheMark): boolean {
    if (mark === this.count) return false
    if (this.count - mark > INVALIDATION_LOG_SIZE) return true
    for (let n = mark; n < this.count; n++) {
      const i = n % INVALIDATION_LOG_SIZE
      const entry = this.log[i] as string // the ring is filled
      if (this.isPrefix[i] === true ? key.startsWith(entry) : key === entry) return true
    }
    return false
  }

  /** Marks a clear of `prefix` as running; returns its release (call it once, when the clear has finished). */
  clearStarted(prefix: string): () => void {
    const running = this.clearing.get(prefix)
    if (running === undefined && this.clearing.size >= MAX_CLEARING_PREFIXES) {
      this.clearingUntracked++
      return () => {
        this.clearingUntracked--
      }
    }
    this.clearing.set(prefix, (running ?? 0) + 1)
    return () => {
      const n = this.clearing.get(prefix) ?? 1
      if (n <= 1) this.clearing.delete(prefix)
      else this.clearing.set(prefix, n - 1)
    }
  }

  /** Whether a running clear covers `key`. */
  underClear(key: string): boolean {
    if (this.clearingUntracked > 0) return true
    if (this.clearing.size === 0) return false
    for (const prefix of this.clearing.keys()) if (key.startsWith(prefix)) return true
    return false
  }
}
