/**
 * Cache statistics: the mutable counters a cache instance bumps on its hot path, and the immutable
 * `CacheStats` snapshot returned by `stats()`.
 *
 * Counters are plain numbers on one object (no Effect, no Ref) so that counting a hit costs an increment; the
 * same counters back the Effect Metrics registered in `CacheMetrics.ts`, read when metrics are snapshotted.
 * Mirrors the statistics of `lru-cache`/Caffeine (`hitRate`, eviction counts by cause) with L1 and L2 kept apart.
 *
 * @since 0.1.0
 */

/** Evictions by reason: expiry, capacity bound, or explicit `delete`/`clear`. */
export interface EvictionCounts {
  readonly ttl: number
  readonly capacity: number
  readonly manual: number
}

/** Statistics of the in-memory tier. */
export interface L1Stats {
  readonly hits: number
  readonly misses: number
  readonly hitRatio: number
  readonly entries: number
  readonly bytes: number
  readonly evictions: EvictionCounts
}

/** Statistics of the Redis tier (all zero and `enabled: false` for a memory-only cache). */
export interface L2Stats {
  readonly enabled: boolean
  readonly hits: number
  readonly misses: number
  readonly hitRatio: number
  readonly writes: number
  /** `ttl`: entries found expired on read (by their stored expiry); `manual`: deletes; `capacity`: always 0 (Redis evicts on its own). */
  readonly evictions: EvictionCounts
  /** Failed or timed-out Redis commands. */
  readonly errors: number
  /** L2 values that did not decode with the value Schema (each one counted as a miss). */
  readonly decodeFailures: number
  /** Whether Redis is currently considered down (L2 bypassed, L1 keeps serving). */
  readonly degraded: boolean
  /** Number of healthy → degraded transitions. */
  readonly degradations: number
  /** Number of degraded → healthy transitions. */
  readonly recoveries: number
}

/** A snapshot of a cache's statistics. */
export interface CacheStats {
  /** Lookups answered from any tier. */
  readonly hits: number
  /** Lookups answered by no tier. */
  readonly misses: number
  /** `hits / (hits + misses)`, 0 when there were no lookups. */
  readonly hitRatio: number
  /** Live entries in L1 (expired entries not yet swept included until the next sweep). */
  readonly entries: number
  /** Sum of L1 entry sizes. */
  readonly bytes: number
  /** L1 evictions by reason. */
  readonly evictions: EvictionCounts
  /** Tokens saved by hits on entries that carry a token count (LLM responses). */
  readonly tokensSaved: number
  /** Computations run by `getOrCompute` (single-flight: concurrent misses count once). */
  readonly computations: number
  /** `getOrCompute` callers that joined a computation already in flight. */
  readonly coalesced: number
  /** `getOrCompute` calls answered by a cached failure (`failureTtl`). */
  readonly failureHits: number
  /** Values not cached because they were too large (`getOrCompute` still returns them). */
  readonly rejected: number
  readonly l1: L1Stats
  readonly l2: L2Stats
}

const ratio = (hits: number, misses: number): number => (hits + misses === 0 ? 0 : hits / (hits + misses))

/** The mutable counters of one cache instance. */
export class CacheCounters {
  l1Hits = 0
  l1Misses = 0
  l1EvictTtl = 0
  l1EvictCapacity = 0
  l1EvictManual = 0
  l2Enabled = false
  l2Hits = 0
  l2Misses = 0
  l2Writes = 0
  l2EvictTtl = 0
  l2EvictManual = 0
  l2Errors = 0
  l2DecodeFailures = 0
  l2Degraded = false
  l2Degradations = 0
  l2Recoveries = 0
  tokensSaved = 0
  computations = 0
  coalesced = 0
  failureHits = 0
  rejected = 0

  /** Lookups answered by some tier. */
  get hits(): number {
    return this.l1Hits + this.l2Hits
  }

  /** Lookups that missed every tier (an L1 miss answered by L2 is not a miss overall). */
  get misses(): number {
    return this.l1Misses - this.l2Hits
  }

  snapshot(entries: number, bytes: number): CacheStats {
    const evictions = { ttl: this.l1EvictTtl, capacity: this.l1EvictCapacity, manual: this.l1EvictManual }
    return {
      hits: this.hits,
      misses: this.misses,
      hitRatio: ratio(this.hits, this.misses),
      entries,
      bytes,
      evictions,
      tokensSaved: this.tokensSaved,
      computations: this.computations,
      coalesced: this.coalesced,
      failureHits: this.failureHits,
      rejected: this.rejected,
      l1: {
        hits: this.l1Hits,
        misses: this.l1Misses,
        hitRatio: ratio(this.l1Hits, this.l1Misses),
        entries,
        bytes,
        evictions
      },
      l2: {
        enabled: this.l2Enabled,
        hits: this.l2Hits,
        misses: this.l2Misses,
        hitRatio: ratio(this.l2Hits, this.l2Misses),
        writes: this.l2Writes,
        evictions: { ttl: this.l2EvictTtl, capacity: 0, manual: this.l2EvictManual },
        errors: this.l2Errors,
        decodeFailures: this.l2DecodeFailures,
        degraded: this.l2Degraded,
        degradations: this.l2Degradations,
        recoveries: this.l2Recoveries
      }
    }
  }
}
