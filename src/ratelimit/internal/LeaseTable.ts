/**
 * Leased mode (Redis backend, opt-in per policy with `lease`): a process takes a batch of `k` tokens from
 * Redis in one script call — the policy's ordinary atomic `consume` with cost `k`, so `k` comes from every
 * tier or from none — and answers checks from that batch in memory, without a round trip. Hand-rolled: no
 * peer (rate-limiter-flexible, Effect's RateLimiter) leases tokens across processes.
 *
 * Rules:
 * - A check served from a lease is a token Redis already counted, so the total admitted by all processes never
 *   exceeds what the tiers allow: *total admitted ≤ N*, always, whatever the number of processes.
 * - A token is counted when it is leased, not when it is served, and it is served at most `ttl` (caller clock)
 *   after it was leased; a lease never crosses a fixed window's boundary. So fixed windows stay exact per
 *   window; a token bucket or a sliding window is exact over an interval `ttl` longer than its own.
 * - What a lease holds and does not serve is not available to other processes until it is returned:
 *   when demand exceeds N, *total admitted ≥ N − outstanding*, where outstanding is the tokens held in
 *   unexpired leases. This is the cost in fairness: a process that leased early can admit while another,
 *   asking Redis, is refused. `LeaseTable.outstanding` (and the `troupe_ratelimit_lease_outstanding` gauge,
 *   set at every lease and never below the tokens held since) is the bound.
 * - Unused tokens go back (one `adjust` per lease) when the layer is released, if the lease has not expired
 *   and no tier is a sliding window (giving back to a log would drop the newest entries, which may be other
 *   processes' admissions, so those tokens are left to age out); an expired lease's tokens are dropped, and
 *   the tiers recover them as they always do (window roll, refill, log entries aging out).
 * - `k` adapts to the observed rate: enough for half a `ttl` at the rate served since the previous lease,
 *   at most double the previous `k`, at most `maxTokens`, and at most the smallest tier's remaining (as
 *   Redis reported it at the previous lease) divided by the expected processes, so near the limit `k`
 *   shrinks to the check's own cost and the last tokens are not stranded in one process. A lease for `k`
 *   that is refused is retried at once for the check's cost alone (same call semantics, one more round trip).
 * - One lease request per key at a time: checks arriving while it runs wait for it; a refusal answers them
 *   all (the limit is reached); a store error follows the layer's `onStoreError` policy per check, exactly
 *   as without a lease (the request that failed is answered by the policy's fallback for its own cost).
 * - The table is bounded (`maxKeys`, default 100,000): past it, expired leases go first, then the oldest;
 *   a dropped lease's tokens are lost, never served twice.
 */
import { Cause, Deferred, Effect, Exit } from "effect"
import type { RateLimitStoreError } from "../RateLimitError.ts"
import type { CompiledPolicy } from "../RateLimitPolicy.ts"
import { TierKind } from "../RateLimitPolicy.ts"
import { Allowed, type Decision, type Refusal } from "../RateLimitResult.ts"

/** What one lease request answered. */
export interface LeaseGrant {
  /** the answer for the check that asked (its own cost included) */
  readonly decision: Decision
  /** tokens beyond the check's cost now held by the process (0 on a refusal or a degraded answer) */
  readonly leased: number
}

/** The store operations the table needs (the Redis backend supplies them). */
export interface LeaseStore {
  /** takes `k` tokens from every tier or none; if refused and `k > cost`, takes `cost` instead */
  readonly take: (
    key: string,
    policy: CompiledPolicy,
    k: number,
    cost: number,
    now: number
  ) => Effect.Effect<LeaseGrant, RateLimitStoreError>
  /** gives `tokens` back to every tier */
  readonly giveBack: (
    key: string,
    policy: CompiledPolicy,
    tokens: number,
    now: number
  ) => Effect.Effect<void, RateLimitStoreError>
  /** called with the process's outstanding tokens after every lease */
  readonly onLease: (outstanding: number) => void
}

class Lease {
  tokens = 0
  expiresAt = 0
  takenAt: number
  /** tokens served since the last lease request */
  served = 0
  k = 0
  /** smallest tier remaining reported by Redis at the last lease (Infinity before the first) */
  minRemaining = Number.POSITIVE_INFINITY
  remaining: ReadonlyArray<number> = []
  resetAfter = 0
  pending: Deferred.Deferred<Refusal | undefined, RateLimitStoreError> | undefined = undefined
  /** the cost of the check whose lease request is `pending` */
  pendingCost = 0
  readonly key: string
  readonly policy: CompiledPolicy
  constructor(key: string, policy: CompiledPolicy, now: number) {
    this.key = key
    this.policy = policy
    this.takenAt = now
  }
}

/** The caller-clock time at which a lease taken at `now` expires: `ttl` later, or the next fixed-window boundary. */
export const leaseExpiry = (policy: CompiledPolicy, now: number): number => {
  let at = now + (policy.lease?.ttlMs ?? 0)
  for (const tier of policy.tiers) {
    if (tier.kind === TierKind.FixedWindow) {
      const boundary = (Math.floor(now / tier.periodMs) + 1) * tier.periodMs
      if (boundary < at) at = boundary
    }
  }
  return at
}

/** The batch size of the next lease (see the module doc). */
export const nextBatch = (
  policy: CompiledPolicy,
  state: { readonly served: number; readonly takenAt: number; readonly k: number; readonly minRemaining: number },
  need: number,
  now: number,
  processes: number
): number => {
  const lease = policy.lease
  if (lease === undefined) return need
  const elapsed = Math.max(1, now - state.takenAt)
  let k = Math.ceil((state.served / elapsed) * (lease.ttlMs / 2))
  k = Math.min(k, Math.max(4, 2 * state.k), lease.maxTokens)
  if (Number.isFinite(state.minRemaining)) k = Math.min(k, Math.floor(state.minRemaining / processes))
  else k = Math.min(k, Math.floor(Math.min(...policy.tiers.map((t) => t.limit)) / (4 * processes)))
  return Math.max(need, k)
}

/** Per-process leases, keyed by policy and key. */
export class LeaseTable {
  private readonly leases = new Map<string, Lease>()
  /** tokens held in leases (unexpired or not yet swept) */
  outstanding = 0
  /** lease requests sent to the store */
  requests = 0
  /** checks answered from a lease without a round trip */
  served = 0
  /** tokens dropped with an expired or evicted lease */
  dropped = 0

  private readonly store: LeaseStore
  private readonly processes: number
  private readonly maxKeys: number

  constructor(store: LeaseStore, processes: number, maxKeys: number = 100_000) {
    this.store = store
    this.processes = processes
    this.maxKeys = maxKeys
  }

  get size(): number {
    return this.leases.size
  }

  /** answers a check from the key's unexpired lease, if it holds `cost` tokens; `undefined` otherwise */
  serveSync(key: string, policy: CompiledPolicy, cost: number, now: number): Allowed | undefined {
    const lease = this.leases.get(policy.name + "\u0000" + key)
    if (lease === undefined || lease.policy !== policy || lease.tokens < cost || !(now < lease.expiresAt)) {
      return undefined
    }
    lease.tokens -= cost
    lease.served += cost
    this.outstanding -= cost
    this.served++
    return this.allowed(lease)
  }

  consume(
    key: string,
    policy: CompiledPolicy,
    cost: number,
    now: number
  ): Effect.Effect<Decision, RateLimitStoreError> {
    const id = policy.name + "\u0000" + key
    let lease = this.leases.get(id)
    if (lease !== undefined && lease.policy !== policy) {
      this.drop(id, lease)
      lease = undefined
    }
    if (lease !== undefined) {
      if (lease.tokens >= cost && now < lease.expiresAt) {
        lease.tokens -= cost
        lease.served += cost
        this.outstanding -= cost
        this.served++
        return Exit.succeed(this.allowed(lease))
      }
      const pending = lease.pending
      if (pending !== undefined) {
        // a refusal answers the waiters that cost at least as much; a cheaper one may still pass: it asks again
        const refusedAtCost = lease.pendingCost
        return Effect.flatMap(
          Deferred.await(pending),
          (refusal): Effect.Effect<Decision, RateLimitStoreError> =>
            refusal === undefined || cost < refusedAtCost ? this.consume(key, policy, cost, now) : Exit.succeed(refusal)
        )
      }
    } else {
      lease = new Lease(key, policy, now)
      this.insert(id, lease, now)
    }
    return this.request(lease, key, policy, cost, now)
  }

  private allowed(lease: Lease): Allowed {
    const remaining = new Array<number>(lease.remaining.length)
    // both arrays have the lease's tier count, and i < it
    for (let i = 0; i < remaining.length; i++) remaining[i] = (lease.remaining[i] as number) + lease.tokens
    return new Allowed(lease.policy.name, lease.policy.tierNames, remaining, lease.resetAfter)
  }

  private request(
    lease: Lease,
    key: string,
    policy: CompiledPolicy,
    cost: number,
    now: number
  ): Effect.Effect<Decision, RateLimitStoreError> {
    // an expired remainder is dropped; an unexpired one (smaller than `cost`) pays part of this check
    let held = lease.tokens
    if (held > 0 && !(now < lease.expiresAt)) {
      this.outstanding -= held
      this.dropped += held
      lease.tokens = 0
      held = 0
    }
    const need = cost - held
    // the held remainder pays part of this check: reserved now, so no other check spends it meanwhile
    lease.tokens -= held
    this.outstanding -= held
    let refund = held
    const giveBackHeld = () => {
      lease.tokens += refund
      this.outstanding += refund
      refund = 0
    }
    const k = nextBatch(policy, lease, need, now, this.processes)
    const pending = Deferred.makeUnsafe<Refusal | undefined, RateLimitStoreError>()
    lease.pending = pending
    lease.pendingCost = cost
    this.requests++
    const settle = (value: Exit.Exit<Refusal | undefined, RateLimitStoreError>) => {
      if (lease.pending === pending) lease.pending = undefined
      Deferred.doneUnsafe(pending, value)
    }
    return this.store.take(key, policy, k, need, now).pipe(
      Effect.map((grant): Decision => {
        const decision = grant.decision
        if (decision._tag === "Refusal") {
          giveBackHeld()
          lease.minRemaining = 0
          settle(Exit.succeed(decision))
          return decision
        }
        refund = 0
        if (decision.degraded === undefined) {
          this.outstanding += grant.leased
          lease.tokens += grant.leased
          lease.k = k
          lease.served = cost
          lease.takenAt = now
          lease.expiresAt = leaseExpiry(policy, now)
          lease.remaining = decision.remainingList
          lease.resetAfter = decision.resetAfterMillis
          let min = Number.POSITIVE_INFINITY
          for (const r of decision.remainingList) if (r < min) min = r
          lease.minRemaining = min
          this.store.onLease(this.outstanding)
        }
        settle(Exit.succeed(undefined))
        return decision
      }),
      Effect.onExit((exit) => {
        // a failure reaches the waiters as their own (the layer's policy chose to fail); an interruption
        // lets them ask again
        if (exit._tag === "Failure") {
          giveBackHeld()
          const error = Cause.findError(exit.cause)
          settle(error._tag === "Success" ? Exit.fail(error.success) : Exit.succeed(undefined))
        }
        return Effect.void
      })
    )
  }

  private insert(id: string, lease: Lease, now: number): void {
    if (this.leases.size >= this.maxKeys) {
      this.sweep(now)
      const target = this.maxKeys - Math.max(1, Math.floor(this.maxKeys / 16))
      for (const [other, l] of this.leases) {
        if (this.leases.size <= target) break
        this.drop(other, l)
      }
    }
    this.leases.set(id, lease)
  }

  private drop(id: string, lease: Lease): void {
    this.outstanding -= lease.tokens
    this.dropped += lease.tokens
    lease.tokens = 0
    this.leases.delete(id)
  }

  /** drops expired leases that no request is waiting on; returns the count */
  sweep(now: number): number {
    let n = 0
    for (const [id, lease] of this.leases) {
      if (lease.pending === undefined && !(now < lease.expiresAt)) {
        this.drop(id, lease)
        n++
      }
    }
    return n
  }

  /** forgets every lease of `key` (its tokens are dropped, the store's state was reset) */
  reset(key: string): void {
    for (const [id, lease] of this.leases) if (lease.key === key) this.drop(id, lease)
  }

  /** gives every unexpired, returnable lease's tokens back (on release); errors are ignored */
  release(now: number): Effect.Effect<void> {
    const back: Array<Lease> = []
    for (const lease of this.leases.values()) {
      if (lease.tokens > 0 && now < lease.expiresAt && lease.policy.lease?.returnable === true) back.push(lease)
    }
    return Effect.forEach(back, (lease) => {
      const tokens = lease.tokens
      lease.tokens = 0
      this.outstanding -= tokens
      return Effect.ignore(this.store.giveBack(lease.key, lease.policy, tokens, now))
    }, { concurrency: 16, discard: true })
  }
}
