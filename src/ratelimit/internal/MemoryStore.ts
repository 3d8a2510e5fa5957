/**
 * The in-memory rate-limit store: a synchronous `Map<key, KeyState>` owned by one service instance. Every
 * operation is a plain function call (no Effect, no promise), so the memory hot path costs a Map lookup, a
 * little arithmetic per tier and one result object — this is what lets `check` beat rate-limiter-flexible's
 * `RateLimiterMemory` (which allocates a promise and a result per call and a timer per key).
 *
 * Memory follows active keys: a key whose every tier is back to its fresh state (`fullAt <= now`) carries no
 * information, so `sweep` (run by a supervised fiber) drops it without changing any future answer — also
 * across a policy change, since a fresh state migrates to the new policy's fresh state (`TierState.migrate`).
 * A refused check of a key not held stores nothing (as the Lua script, so both backends agree). Effect's
 * `layerStoreMemory` never evicts; this is hand-rolled, as are multi-tier atomicity, sliding logs,
 * penalties and `simulate` (used by FIFO `acquire` to predict exact wake-up times).
 *
 * Bounded (`maxKeys`, default 100,000): a new key at the bound first sweeps the keys back to fresh (dropping
 * them changes no answer); if that frees less than 1/16 of the bound, the oldest keys (insertion order) are
 * evicted down to 15/16 of it — an evicted key starts fresh when seen again, so under a flood of distinct keys
 * the oldest ones may be admitted again early. Amortised O(1) per new key (a sweep at most every bound/16 new
 * keys). Memory at the bound: see `ratelimit.bytes-per-key.at-bound` in `bench/results.json`.
 *
 * Also used as the `insurance` limiter of the Redis backend.
 */

/** Default bound on the keys a memory store holds. */
export const DEFAULT_MAX_KEYS = 100_000
import type { CompiledPolicy, CompiledTier } from "../RateLimitPolicy.ts"
import { TierKind } from "../RateLimitPolicy.ts"
import { Allowed, type RateLimitStatus, type Refusal, type TierStatus } from "../RateLimitResult.ts"
import { SweepWake } from "./Background.ts"
import {
  adjustTier,
  admitAt,
  cloneState,
  consumeTier,
  freshState,
  type KeyState,
  migrate,
  refillAll,
  refillTier,
  remainingOf,
  resetAfterOf,
  updateFullAt
} from "./TierState.ts"

const kindName = (kind: TierKind): TierStatus["kind"] =>
  kind === TierKind.FixedWindow ? "FixedWindow" : kind === TierKind.SlidingWindow ? "SlidingWindow" : "TokenBucket"

/** The in-process state of every key and tier, bounded by `maxKeys` (fresh keys swept first, then the oldest evicted). */
export class MemoryStore {
  readonly states = new Map<string, KeyState>()
  /** out-parameters of the last refused `decide` (avoids allocating on the refusal path) */
  rejectTier = -1
  rejectRetryMillis = 0
  evicted = 0
  readonly maxKeys: number
  /** wakes the sweep loop when a key becomes due before its planned sweep (see `Background.sweepLoop`) */
  readonly wake = new SweepWake()
  /** after a `sweep`: the earliest `fullAt` among the keys kept (Infinity: none) */
  nextDue = Number.POSITIVE_INFINITY

  constructor(maxKeys: number = DEFAULT_MAX_KEYS) {
    this.maxKeys = maxKeys
  }

  get size(): number {
    return this.states.size
  }

  /** The key's state under `policy`, created fresh (and held) or migrated if its policy changed. */
  stateOf(key: string, policy: CompiledPolicy, now: number): KeyState {
    const st = this.states.get(key)
    if (st === undefined) return this.insert(key, freshState(policy, now), now)
    return st.policy === policy ? st : this.migrated(key, st, policy, now)
  }

  private insert(key: string, st: KeyState, now: number): KeyState {
    if (this.states.size >= this.maxKeys) this.makeRoom(now)
    this.states.set(key, st)
    return st
  }

  private migrated(key: string, st: KeyState, policy: CompiledPolicy, now: number): KeyState {
    const next = migrate(st, policy, now)
    updateFullAt(next, now)
    this.states.set(key, next)
    return next
  }

  /**
   * Admits `cost` on every tier atomically, or on none: returns `Allowed`, or `undefined` with
   * `rejectTier` / `rejectRetryMillis` set to the binding tier and the exact wait. A refusal of a key not
   * held keeps no state (a fresh key is refused only a cost above a limit; the Lua script writes nothing).
   */
  decide(key: string, policy: CompiledPolicy, cost: number, now: number): Allowed | undefined {
    let st = this.states.get(key)
    const unseen = st === undefined
    if (st === undefined) st = freshState(policy, now)
    else if (st.policy !== policy) st = this.migrated(key, st, policy, now)
    const tiers = policy.tiers
    const n = tiers.length
    let due = now
    let binding = -1
    for (let i = 0; i < n; i++) {
      // i < tiers.length
      const tier = tiers[i] as CompiledTier
      refillTier(tier, st, i, now)
      const at = admitAt(tier, st, i, cost, now)
      if (at > due) {
        due = at
        binding = i
      }
    }
    if (binding >= 0) {
      this.rejectTier = binding
      this.rejectRetryMillis = due - now
      return undefined
    }
    if (unseen) this.insert(key, st, now)
    const remaining = new Array<number>(n)
    let reset = 0
    for (let i = 0; i < n; i++) {
      // i < tiers.length
      const tier = tiers[i] as CompiledTier
      consumeTier(tier, st, i, cost, now)
      remaining[i] = remainingOf(tier, st, i)
      const r = resetAfterOf(tier, st, i, now)
      if (r > reset) reset = r
    }
    st.fullAt = now + reset
    if (st.fullAt < this.wake.planned) this.wake.poke(st.fullAt)
    return new Allowed(policy.name, policy.tierNames, remaining, reset)
  }

  /** `decide` returning a `Refusal` object instead of out-parameters. */
  decideOrRefuse(key: string, policy: CompiledPolicy, cost: number, now: number): Allowed | Refusal {
    const allowed = this.decide(key, policy, cost, now)
    return allowed ?? { _tag: "Refusal", tierIndex: this.rejectTier, retryAfterMillis: this.rejectRetryMillis }
  }

  /**
   * Predicts, without changing state, when the last of `costs` would be admitted if the costs were
   * acquired in order (each no earlier than the previous one): the exact FIFO wait of a queued acquire.
   */
  simulate(key: string, policy: CompiledPolicy, costs: ReadonlyArray<number>, now: number): Refusal {
    const existing = this.states.get(key)
    const st = existing === undefined
      ? freshState(policy, now)
      : existing.policy === policy
      ? cloneState(existing)
      : migrate(cloneState(existing), policy, now)
    let t = now
    let binding = 0
    for (const cost of costs) {
      refillAll(st, t)
      let due = t
      for (let i = 0; i < policy.tiers.length; i++) {
        // i < policy.tiers.length
        const at = admitAt(policy.tiers[i] as CompiledTier, st, i, cost, t)
        if (at > due) {
          due = at
          binding = i
        }
      }
      if (!Number.isFinite(due)) {
        return { _tag: "Refusal", tierIndex: binding, retryAfterMillis: Number.POSITIVE_INFINITY }
      }
      t = due
      refillAll(st, t)
      // i < policy.tiers.length
      for (let i = 0; i < policy.tiers.length; i++) consumeTier(policy.tiers[i] as CompiledTier, st, i, cost, t)
    }
    return { _tag: "Refusal", tierIndex: binding, retryAfterMillis: t - now }
  }

  /** A key's tiers and the wait for a cost-1 request, without consuming. */
  status(key: string, policy: CompiledPolicy, now: number): RateLimitStatus {
    const existing = this.states.get(key)
    const st = existing === undefined ? freshState(policy, now) : this.stateOf(key, policy, now)
    refillAll(st, now)
    let due = now
    const tiers = policy.tiers.map((tier, i): TierStatus => {
      const at = admitAt(tier, st, i, 1, now)
      if (at > due) due = at
      return {
        name: tier.name,
        kind: kindName(tier.kind),
        limit: tier.limit,
        remaining: remainingOf(tier, st, i),
        resetAfterMillis: resetAfterOf(tier, st, i, now)
      }
    })
    return { key, policy: policy.name, tiers, retryAfterMillis: due - now }
  }

  /** Penalty (`delta > 0`) or reward (`delta < 0`) on every tier of the key. */
  adjust(key: string, policy: CompiledPolicy, delta: number, now: number): void {
    const st = this.stateOf(key, policy, now)
    refillAll(st, now)
    // i < policy.tiers.length
    for (let i = 0; i < policy.tiers.length; i++) adjustTier(policy.tiers[i] as CompiledTier, st, i, delta, now)
    updateFullAt(st, now)
    if (st.fullAt < this.wake.planned) this.wake.poke(st.fullAt)
  }

  reset(key: string): void {
    this.states.delete(key)
  }

  /** Applies due interval-refill ticks to every key that has an interval bucket (the `:refill` timer). */
  tick(now: number): number {
    let touched = 0
    for (const st of this.states.values()) {
      if (!st.policy.hasIntervalTier) continue
      const tiers = st.policy.tiers
      for (let i = 0; i < tiers.length; i++) {
        // i < tiers.length
        const tier = tiers[i] as CompiledTier
        if (tier.kind === TierKind.BucketInterval) refillTier(tier, st, i, now)
      }
      touched++
    }
    return touched
  }

  /** At the bound: sweep, then evict the oldest keys down to 15/16 of the bound if the sweep freed too little. */
  private makeRoom(now: number): void {
    const target = this.maxKeys - Math.max(1, Math.floor(this.maxKeys / 16))
    if (this.states.size - this.sweep(now) <= target) return
    for (const key of this.states.keys()) {
      if (this.states.size <= target) break
      this.states.delete(key)
      this.evicted++
    }
  }

  /** Drops keys whose state is back to fresh; returns how many were dropped. */
  sweep(now: number): number {
    let dropped = 0
    let next = Number.POSITIVE_INFINITY
    for (const [key, st] of this.states) {
      if (st.fullAt <= now) {
        this.states.delete(key)
        dropped++
      } else if (st.fullAt < next) next = st.fullAt
    }
    this.nextDue = next
    this.evicted += dropped
    return dropped
  }
}
