/**
 * The per-key state of a policy and the exact arithmetic of each tier kind, as plain synchronous functions
 * over numbers (no Effect, no allocation on the admit path). The memory store runs on these; the Redis Lua
 * script in `RedisScript.ts` mirrors them line for line, so both backends give the same answers under the
 * same clock (the conformance suite checks this).
 *
 * Layout: `nums[2i]`, `nums[2i + 1]` hold tier i's state:
 * - continuous bucket: tokens, last refill time (ms)
 * - interval bucket: tokens, index of the last applied tick (`floor(t / refillEvery)`)
 * - fixed window: window index (`floor(t / window)`), cost used in that window
 * - sliding window: cost in the log, unused (the log itself is `logs[i]`)
 *
 * Time only ever helps admission (tokens refill, windows slide or reset), so the earliest time at which all
 * tiers admit a cost is the maximum of the tiers' earliest times — this gives exact `retryAfter` values and
 * lets `acquire` sleep exactly until tokens are due.
 *
 * Hand-rolled: Effect's RateLimiter has no sliding window, multi-tier atomicity, penalties or simulation.
 */
import { type CompiledPolicy, type CompiledTier, TierKind } from "../RateLimitPolicy.ts"

/** Tolerance for floating-point token arithmetic (continuous refill yields fractions). */
export const EPS = 1e-9

/** Rounds a wait up to whole milliseconds, ignoring float noise (12000.0000000001 → 12000). */
export const ceilMillis = (ms: number): number => (ms <= 0 ? 0 : Math.ceil(ms - 1e-6))

// A slot of a key's numbers: `nums` holds two per tier (`2 * i`, `2 * i + 1`), so every slot a tier index names exists.
const slot = (nums: ReadonlyArray<number>, k: number): number => nums[k] as number

/** Timestamp/cost log of one sliding-window tier; a deque over two arrays (compacted as it drains). */
export class SlidingLog {
  times: Array<number> = []
  costs: Array<number> = []
  head = 0

  get size(): number {
    return this.times.length - this.head
  }

  push(time: number, cost: number): void {
    this.times.push(time)
    this.costs.push(cost)
  }

  /** Drops entries with `time + window <= now`; returns the cost removed. */
  evict(now: number, windowMs: number): number {
    let removed = 0
    const cutoff = now - windowMs
    // head < times.length (checked first)
    while (this.head < this.times.length && (this.times[this.head] as number) <= cutoff) {
      // costs has the same length as times
      removed += this.costs[this.head] as number
      this.head++
    }
    if (this.head > 32 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head)
      this.costs = this.costs.slice(this.head)
      this.head = 0
    }
    return removed
  }

  /** Removes up to `amount` cost from the newest entries (reward); returns the cost removed. */
  removeNewest(amount: number): number {
    let left = amount
    while (left > EPS && this.times.length > this.head) {
      const i = this.costs.length - 1
      // the log is not empty here (length > head), so its last index exists
      const c = this.costs[i] as number
      if (c <= left + EPS) {
        this.times.pop()
        this.costs.pop()
        left -= c
      } else {
        this.costs[i] = c - left
        left = 0
      }
    }
    return amount - Math.max(0, left)
  }

  newest(): number | undefined {
    return this.times.length > this.head ? this.times[this.times.length - 1] : undefined
  }

  clone(): SlidingLog {
    const copy = new SlidingLog()
    copy.times = this.times.slice(this.head)
    copy.costs = this.costs.slice(this.head)
    return copy
  }
}

/** The state of one key under one policy. */
export class KeyState {
  policy: CompiledPolicy
  nums: Array<number>
  logs: Array<SlidingLog | undefined> | undefined
  /** time at which every tier is back to its fresh state (the sweep may drop the key from then on) */
  fullAt: number

  constructor(
    policy: CompiledPolicy,
    nums: Array<number>,
    logs: Array<SlidingLog | undefined> | undefined,
    fullAt: number
  ) {
    this.policy = policy
    this.nums = nums
    this.logs = logs
    this.fullAt = fullAt
  }
}

const freshPair = (tier: CompiledTier, now: number, nums: Array<number>): void => {
  switch (tier.kind) {
    case TierKind.BucketContinuous:
      nums.push(tier.limit, now)
      return
    case TierKind.BucketInterval:
      nums.push(tier.limit, Math.floor(now / tier.periodMs))
      return
    case TierKind.FixedWindow:
      nums.push(Math.floor(now / tier.periodMs), 0)
      return
    case TierKind.SlidingWindow:
      nums.push(0, 0)
      return
  }
}

/** A key's state as if it had never been seen. */
export const freshState = (policy: CompiledPolicy, now: number): KeyState => {
  const nums: Array<number> = []
  let logs: Array<SlidingLog | undefined> | undefined
  for (let i = 0; i < policy.tiers.length; i++) {
    // i < policy.tiers.length
    const tier = policy.tiers[i] as CompiledTier
    freshPair(tier, now, nums)
    if (tier.kind === TierKind.SlidingWindow) {
      logs ??= new Array<SlidingLog | undefined>(policy.tiers.length).fill(undefined)
      logs[i] = new SlidingLog()
    }
  }
  return new KeyState(policy, nums, logs, now)
}

/** Brings tier `i` forward to `now` (refill, window roll-over, log eviction). */
export const refillTier = (tier: CompiledTier, st: KeyState, i: number, now: number): void => {
  const nums = st.nums
  const a = 2 * i
  switch (tier.kind) {
    case TierKind.BucketContinuous: {
      const last = slot(nums, a + 1)
      if (now > last) {
        const tokens = slot(nums, a) + ((now - last) * tier.refillTokens) / tier.periodMs
        nums[a] = tokens > tier.limit ? tier.limit : tokens
        nums[a + 1] = now
      }
      return
    }
    case TierKind.BucketInterval: {
      const tick = Math.floor(now / tier.periodMs)
      const last = slot(nums, a + 1)
      if (tick > last) {
        const tokens = slot(nums, a) + (tick - last) * tier.refillTokens
        nums[a] = tokens > tier.limit ? tier.limit : tokens
        nums[a + 1] = tick
      }
      return
    }
    case TierKind.FixedWindow: {
      // windows only roll forward: a `now` from an earlier window (a caller whose clock lags, or a request
      // that reaches the store after a newer one) counts against the stored, newer window
      const index = Math.floor(now / tier.periodMs)
      if (index > slot(nums, a)) {
        nums[a] = index
        nums[a + 1] = 0
      }
      return
    }
    case TierKind.SlidingWindow: {
      const log = st.logs?.[i]
      if (log !== undefined && log.size > 0) {
        const used = slot(nums, a) - log.evict(now, tier.periodMs)
        nums[a] = log.size === 0 || used < EPS ? 0 : used
      }
      return
    }
  }
}

/** Earliest time ≥ now at which tier `i` (already refilled to `now`) admits `cost`; Infinity if never. */
export const admitAt = (tier: CompiledTier, st: KeyState, i: number, cost: number, now: number): number => {
  if (cost > tier.limit + EPS) return Number.POSITIVE_INFINITY
  const nums = st.nums
  const a = 2 * i
  switch (tier.kind) {
    case TierKind.BucketContinuous: {
      const tokens = slot(nums, a)
      if (tokens + EPS >= cost) return now
      return now + ceilMillis(((cost - tokens) * tier.periodMs) / tier.refillTokens)
    }
    case TierKind.BucketInterval: {
      const tokens = slot(nums, a)
      if (tokens + EPS >= cost) return now
      const ticks = Math.ceil((cost - tokens) / tier.refillTokens - EPS)
      return (slot(nums, a + 1) + ticks) * tier.periodMs
    }
    case TierKind.FixedWindow: {
      if (slot(nums, a + 1) + cost <= tier.limit + EPS) return now
      return (slot(nums, a) + 1) * tier.periodMs
    }
    case TierKind.SlidingWindow: {
      const used = slot(nums, a)
      if (used + cost <= tier.limit + EPS) return now
      const log = st.logs?.[i]
      if (log === undefined) return now
      let freed = 0
      for (let j = log.head; j < log.times.length; j++) {
        // j < log.times.length, and costs has the same length
        freed += log.costs[j] as number
        // j < log.times.length
        if (used - freed + cost <= tier.limit + EPS) return (log.times[j] as number) + tier.periodMs
      }
      return now
    }
  }
}

/** Takes `cost` from tier `i` (admission already established). */
export const consumeTier = (tier: CompiledTier, st: KeyState, i: number, cost: number, now: number): void => {
  const nums = st.nums
  const a = 2 * i
  switch (tier.kind) {
    case TierKind.BucketContinuous:
    case TierKind.BucketInterval: {
      const left = slot(nums, a) - cost
      nums[a] = left > 0 ? left : 0
      return
    }
    case TierKind.FixedWindow:
      nums[a + 1] = slot(nums, a + 1) + cost
      return
    case TierKind.SlidingWindow:
      st.logs?.[i]?.push(now, cost)
      nums[a] = slot(nums, a) + cost
      return
  }
}

/** Penalty (`delta > 0`: remove tokens / add hits) or reward (`delta < 0`), clamped to the tier's range. */
export const adjustTier = (tier: CompiledTier, st: KeyState, i: number, delta: number, now: number): void => {
  const nums = st.nums
  const a = 2 * i
  switch (tier.kind) {
    case TierKind.BucketContinuous:
    case TierKind.BucketInterval:
      nums[a] = Math.min(tier.limit, Math.max(0, slot(nums, a) - delta))
      return
    case TierKind.FixedWindow:
      nums[a + 1] = Math.max(0, slot(nums, a + 1) + delta)
      return
    case TierKind.SlidingWindow: {
      const log = st.logs?.[i]
      if (log === undefined) return
      if (delta > 0) {
        log.push(now, delta)
        nums[a] = slot(nums, a) + delta
      } else {
        nums[a] = Math.max(0, slot(nums, a) - log.removeNewest(-delta))
      }
      return
    }
  }
}

/** What is left in tier `i` (tokens or window capacity), never negative. */
export const remainingOf = (tier: CompiledTier, st: KeyState, i: number): number => {
  const nums = st.nums
  const a = 2 * i
  switch (tier.kind) {
    case TierKind.BucketContinuous:
    case TierKind.BucketInterval:
      return slot(nums, a)
    case TierKind.FixedWindow:
      return Math.max(0, tier.limit - slot(nums, a + 1))
    case TierKind.SlidingWindow:
      return Math.max(0, tier.limit - slot(nums, a))
  }
}

/** Milliseconds until tier `i` is back to its fresh state if nothing more is consumed. */
export const resetAfterOf = (tier: CompiledTier, st: KeyState, i: number, now: number): number => {
  const nums = st.nums
  const a = 2 * i
  switch (tier.kind) {
    case TierKind.BucketContinuous: {
      const missing = tier.limit - slot(nums, a)
      return missing <= EPS ? 0 : ceilMillis((missing * tier.periodMs) / tier.refillTokens)
    }
    case TierKind.BucketInterval: {
      const missing = tier.limit - slot(nums, a)
      if (missing <= EPS) return 0
      return (slot(nums, a + 1) + Math.ceil(missing / tier.refillTokens - EPS)) * tier.periodMs - now
    }
    case TierKind.FixedWindow:
      return slot(nums, a + 1) > 0 ? (slot(nums, a) + 1) * tier.periodMs - now : 0
    case TierKind.SlidingWindow: {
      const newest = st.logs?.[i]?.newest()
      return newest === undefined ? 0 : newest + tier.periodMs - now
    }
  }
}

/** Refills every tier to `now`. */
export const refillAll = (st: KeyState, now: number): void => {
  const tiers = st.policy.tiers
  // i < tiers.length
  for (let i = 0; i < tiers.length; i++) refillTier(tiers[i] as CompiledTier, st, i, now)
}

/** Max over tiers of the time to full reset; also stores `fullAt`. */
export const updateFullAt = (st: KeyState, now: number): number => {
  const tiers = st.policy.tiers
  let reset = 0
  for (let i = 0; i < tiers.length; i++) {
    // i < tiers.length
    const r = resetAfterOf(tiers[i] as CompiledTier, st, i, now)
    if (r > reset) reset = r
  }
  st.fullAt = now + reset
  return reset
}

/**
 * A bucket's tokens carried to a new limit: the deficit (`limit - tokens`, what was used and not yet
 * refilled) is kept, clamped to the new range, so a full bucket is full under the new limit too (a deficit
 * within EPS counts as none, as in `resetAfterOf`); an unchanged limit keeps the tokens as they are.
 * `RedisScriptBody.ts`'s `migrate` does the same arithmetic.
 */
export const carriedTokens = (tokens: number, prevLimit: number, limit: number): number => {
  const deficit = prevLimit - tokens
  if (deficit <= EPS) return limit
  if (prevLimit === limit) return tokens
  return limit - deficit > 0 ? limit - deficit : 0
}

/**
 * Moves a key's state to a new version of its policy without losing it: tiers are matched by name; a
 * matched tier keeps what it has used — a bucket its deficit (`carriedTokens`), a window its hits, a sliding
 * window its log — and a new tier starts fresh. So a state back to fresh migrates to exactly the fresh state
 * of the new policy, for every tier kind: forgetting a fresh key (the sweep, a Redis expiry) changes no
 * later answer. Changing a fixed window's length starts a new window (indexes of different lengths do not
 * compare).
 */
export const migrate = (st: KeyState, next: CompiledPolicy, now: number): KeyState => {
  const fresh = freshState(next, now)
  const old = st.policy
  for (let i = 0; i < next.tiers.length; i++) {
    // i < next.tiers.length
    const tier = next.tiers[i] as CompiledTier
    const j = old.tierNames.indexOf(tier.name)
    if (j === -1) continue
    // j is a found index of old.tierNames, which has one name per tier
    const prev = old.tiers[j] as CompiledTier
    refillTier(prev, st, j, now)
    const bucket = (k: number) => k === TierKind.BucketContinuous || k === TierKind.BucketInterval
    if (bucket(tier.kind) && bucket(prev.kind)) {
      fresh.nums[2 * i] = carriedTokens(slot(st.nums, 2 * j), prev.limit, tier.limit)
    } else if (
      tier.kind === TierKind.FixedWindow && prev.kind === TierKind.FixedWindow && tier.periodMs === prev.periodMs
    ) {
      fresh.nums[2 * i + 1] = slot(st.nums, 2 * j + 1)
    } else if (
      tier.kind === TierKind.SlidingWindow && prev.kind === TierKind.SlidingWindow && fresh.logs !== undefined
    ) {
      const log = st.logs?.[j]
      if (log !== undefined) {
        fresh.logs[i] = log
        fresh.nums[2 * i] = slot(st.nums, 2 * j)
        refillTier(tier, fresh, i, now)
      }
    }
  }
  return fresh
}

/** A deep copy (for simulating queued acquires without touching the real state). */
export const cloneState = (st: KeyState): KeyState =>
  new KeyState(st.policy, st.nums.slice(), st.logs?.map((l) => l?.clone()), st.fullAt)
