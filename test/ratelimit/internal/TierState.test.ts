/**
 * `TierState.migrate` (a key's state carried to a new version of its policy): what a tier has used carries
 * over (a bucket's deficit, a window's hits, a sliding log), so a state back to fresh migrates to exactly the
 * fresh state of the new policy, for every tier kind and every change of limit, period or kind. This is what
 * lets the sweep (and a Redis expiry) forget a fresh key without changing a later answer.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import {
  admitAt,
  consumeTier,
  freshState,
  type KeyState,
  migrate,
  refillAll,
  remainingOf,
  updateFullAt
} from "../../../src/ratelimit/internal/TierState.ts"
import {
  type CompiledPolicy,
  type CompiledTier,
  decodePolicy,
  type RateLimitPolicyInput
} from "../../../src/ratelimit/RateLimitPolicy.ts"

type Kind = "continuous" | "interval" | "fixed" | "sliding"
const kinds: ReadonlyArray<Kind> = ["continuous", "interval", "fixed", "sliding"]

const tierOf = (kind: Kind, limit: number, period: number): RateLimitPolicyInput["tiers"][number] => {
  switch (kind) {
    case "continuous":
      return { _tag: "TokenBucket", name: "t", capacity: limit, refillTokens: 1, refillEvery: period }
    case "interval":
      return {
        _tag: "TokenBucket",
        name: "t",
        capacity: limit,
        refillTokens: 1,
        refillEvery: period,
        refill: "interval"
      }
    case "fixed":
      return { _tag: "FixedWindow", name: "t", limit, window: period }
    case "sliding":
      return { _tag: "SlidingWindow", name: "t", limit, window: period }
  }
}
const policyOf = (kind: Kind, limit: number, period: number): CompiledPolicy =>
  Effect.runSync(decodePolicy("p", { tiers: [tierOf(kind, limit, period)] }))

/** Consumes each cost at its time when every tier admits it (as `MemoryStore.decide` does). */
const drive = (policy: CompiledPolicy, arrivals: ReadonlyArray<readonly [number, number]>): [KeyState, number] => {
  let now = 1_000_000
  const st = freshState(policy, now)
  for (const [gap, cost] of arrivals) {
    now += gap
    refillAll(st, now)
    if (policy.tiers.every((tier, i) => admitAt(tier, st, i, cost, now) === now)) {
      policy.tiers.forEach((tier, i) => consumeTier(tier, st, i, cost, now))
    }
  }
  updateFullAt(st, now)
  return [st, now]
}

const view = (st: KeyState) => ({ nums: st.nums, logs: st.logs?.map((log) => log?.size) })

const spec = fc.record({
  kind: fc.constantFrom(...kinds),
  limit: fc.integer({ min: 1, max: 10 }),
  period: fc.constantFrom(100, 250, 1000)
})

describe("TierState.migrate", () => {
  it("a state back to fresh migrates to the fresh state of the new policy, for every tier kind and change", () => {
    fc.assert(
      fc.property(
        spec,
        spec,
        fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.constantFrom(0.5, 1, 2, 3)), { maxLength: 20 }),
        fc.integer({ min: 0, max: 5_000 }),
        (from, to, arrivals, extra) => {
          const old = policyOf(from.kind, from.limit, from.period)
          const next = policyOf(to.kind, to.limit, to.period)
          const [st, last] = drive(old, arrivals)
          const at = Math.max(st.fullAt, last) + extra // the state is fresh from `fullAt` on
          assert.deepStrictEqual(view(migrate(st, next, at)), view(freshState(next, at)))
        }
      ),
      { numRuns: 2_000 }
    )
  })

  it("a bucket keeps its deficit (limit - tokens), clamped to the new limit: a raise adds the difference", () => {
    const [st, now] = drive(policyOf("continuous", 6, 60_000), [[0, 2]]) // 4 of 6 left
    // a one-tier policy: tier 0 exists
    const left = (next: CompiledPolicy) => remainingOf(next.tiers[0] as CompiledTier, migrate(st, next, now), 0)
    assert.strictEqual(left(policyOf("continuous", 10, 60_000)), 8)
    assert.strictEqual(left(policyOf("interval", 3, 60_000)), 1)
    assert.strictEqual(left(policyOf("continuous", 2, 60_000)), 0)
    assert.strictEqual(left(policyOf("continuous", 6, 1_000)), 4)
  })
})
