/**
 * The contract between the RateLimiter service (validation, policy registry, FIFO acquire, stats, events)
 * and a state backend (memory or Redis). A backend answers atomic per-key operations at a given time `now`
 * (the caller's `Clock`, so TestClock drives both backends); it never waits and never sees invalid input.
 *
 * The memory backend also offers `decideSync`, a synchronous fast path the service calls directly
 * (no Effect per check), with the refusal details left in `MemoryStore.rejectTier` / `rejectRetryMillis`.
 */
import type { Effect } from "effect"
import type { RateLimitStoreError } from "../RateLimitError.ts"
import type { CompiledPolicy } from "../RateLimitPolicy.ts"
import type { Allowed, Decision, RateLimitStatus, Refusal } from "../RateLimitResult.ts"
import type { BackgroundChild } from "./Background.ts"
import type { LeaseTable } from "./LeaseTable.ts"
import type { MemoryStore } from "./MemoryStore.ts"

/** What a limiter backend does: check, consume and give back tokens of one key's tiers atomically. */
export interface RateLimitBackend {
  readonly kind: "memory" | "redis"
  /** synchronous fast path (memory only) */
  readonly decideSync?:
    | ((key: string, policy: CompiledPolicy, cost: number, now: number) => Allowed | undefined)
    | undefined
  /** the store whose `rejectTier` / `rejectRetryMillis` describe the last `decideSync` refusal */
  readonly memory?: MemoryStore | undefined
  /** leased mode's table (Redis only) */
  readonly leases?: LeaseTable | undefined
  readonly consume: (
    key: string,
    policy: CompiledPolicy,
    cost: number,
    now: number
  ) => Effect.Effect<Decision, RateLimitStoreError>
  readonly simulate: (
    key: string,
    policy: CompiledPolicy,
    costs: ReadonlyArray<number>,
    now: number
  ) => Effect.Effect<Refusal, RateLimitStoreError>
  readonly status: (
    key: string,
    policy: CompiledPolicy,
    now: number
  ) => Effect.Effect<RateLimitStatus, RateLimitStoreError>
  readonly adjust: (
    key: string,
    policy: CompiledPolicy,
    delta: number,
    now: number
  ) => Effect.Effect<void, RateLimitStoreError>
  readonly reset: (key: string, policy: CompiledPolicy) => Effect.Effect<void, RateLimitStoreError>
  /** keys held in process memory */
  readonly keys: () => number
  readonly evicted: () => number
  /** drops idle keys (state back to fresh); returns the count */
  readonly sweep: (now: number) => number
  /** applies due interval-refill ticks */
  readonly tick: (now: number) => void
}
