/**
 * What a check returns: `Allowed` (remaining per tier, time to full reset) or, internally, a `Refusal`
 * (binding tier and exact wait) that the service turns into the typed `RateLimited` failure; plus the
 * read-only `RateLimitStatus` of a key and the stats/event types of the service.
 *
 * `Allowed` is a small class whose per-tier record and `Duration` are computed on access, so the memory hot
 * path allocates one object and one array per admitted check. Mirrors Effect's `ConsumeResult`
 * (`remaining`, `resetAfter`) extended to several tiers.
 */
import { Duration } from "effect"

/** An admitted request. */
export class Allowed {
  readonly _tag = "Allowed" as const
  readonly policy: string
  /** tier names, in policy order (shared with the policy; do not mutate) */
  readonly tierNames: ReadonlyArray<string>
  /** what is left in each tier after this request, in policy order */
  readonly remainingList: ReadonlyArray<number>
  /** ms until every tier is back to full if nothing more is consumed */
  readonly resetAfterMillis: number
  /** set when the store failed and the request was admitted by `failOpen` or by the `insurance` limiter */
  readonly degraded: "failOpen" | "insurance" | undefined

  constructor(
    policy: string,
    tierNames: ReadonlyArray<string>,
    remainingList: ReadonlyArray<number>,
    resetAfterMillis: number,
    degraded?: "failOpen" | "insurance"
  ) {
    this.policy = policy
    this.tierNames = tierNames
    this.remainingList = remainingList
    this.resetAfterMillis = resetAfterMillis
    this.degraded = degraded
  }

  /** Remaining capacity per tier name. */
  get remaining(): Readonly<Record<string, number>> {
    const out: Record<string, number> = {}
    // both lists have one entry per tier and i < their length
    for (let i = 0; i < this.tierNames.length; i++) out[this.tierNames[i] as string] = this.remainingList[i] as number
    return out
  }

  /** Time until every tier is back to full. */
  get resetAfter(): Duration.Duration {
    return Duration.millis(this.resetAfterMillis)
  }
}

/** A refused decision: the binding tier (index into the policy) and the exact wait in ms (Infinity: never). */
export interface Refusal {
  readonly _tag: "Refusal"
  readonly tierIndex: number
  readonly retryAfterMillis: number
}

/** The outcome of a check: allowed, or refused with the binding tier and the exact retry delay. */
export type Decision = Allowed | Refusal

/** One tier of a key's status. */
export interface TierStatus {
  readonly name: string
  readonly kind: "TokenBucket" | "FixedWindow" | "SlidingWindow"
  readonly limit: number
  readonly remaining: number
  readonly resetAfterMillis: number
}

/** A key's state without consuming anything. */
export interface RateLimitStatus {
  readonly key: string
  readonly policy: string
  readonly tiers: ReadonlyArray<TierStatus>
  /** ms until a request of cost 1 would be admitted (0: now) */
  readonly retryAfterMillis: number
}

/** Counters kept by the service (plain numbers, read with `stats`). */
export interface RateLimiterStats {
  readonly backend: "memory" | "redis"
  readonly checks: number
  readonly allowed: number
  readonly limited: number
  readonly acquired: number
  readonly acquireRejected: number
  readonly waiting: number
  /** keys held in memory (memory backend, or the insurance limiter of the Redis backend) */
  readonly keys: number
  readonly evicted: number
  readonly storeErrors: number
  readonly fallbacks: { readonly failOpen: number; readonly failClosed: number; readonly insurance: number }
  /**
   * leased mode (Redis): tokens held in this process's leases (the outstanding-lease bound), lease requests
   * sent to Redis, checks answered from a lease, tokens dropped with expired leases; zeros otherwise
   */
  readonly leases: {
    readonly outstanding: number
    readonly requests: number
    readonly served: number
    readonly dropped: number
  }
}

/** Events emitted by the service (`events` stream and the `onEvent` hook). */
export type RateLimiterEvent =
  | {
    readonly _tag: "StoreFallback"
    readonly mode: "failOpen" | "failClosed" | "insurance"
    readonly operation: string
    readonly key: string
    readonly reason: string
    readonly timestamp: number
  }
  | { readonly _tag: "StoreRecovered"; readonly timestamp: number; readonly failures: number }
  | {
    readonly _tag: "PoliciesChanged"
    readonly names: ReadonlyArray<string>
    readonly removed: ReadonlyArray<string>
    readonly timestamp: number
  }
  | { readonly _tag: "KeysEvicted"; readonly count: number; readonly timestamp: number }
