/**
 * `MemoryStore`: a key back to fresh carries no information, so dropping it (the sweep) changes no later
 * answer, even across a policy change; and a refused check of a key the store has not seen keeps no state
 * (as the Lua script, which writes nothing for it).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { MemoryStore } from "../../../src/ratelimit/internal/MemoryStore.ts"
import { decodePolicy } from "../../../src/ratelimit/RateLimitPolicy.ts"

const bucket = (capacity: number) =>
  Effect.runSync(decodePolicy("p", {
    tiers: [{ _tag: "TokenBucket", name: "b", capacity, refillTokens: capacity, refillEvery: 1000 }]
  }))

describe("MemoryStore", () => {
  it("sweeping a key back to fresh changes no later answer, also after a capacity raise", () => {
    const [small, big] = [bucket(4), bucket(6)]
    const store = new MemoryStore()
    store.decide("swept", small, 1, 0) // fresh again at 250
    store.sweep(1_000) // drops "swept"
    store.decide("kept", small, 1, 5_000) // fresh again at 5_250, kept
    assert.deepStrictEqual([store.states.has("swept"), store.states.has("kept")], [false, true])
    const swept = store.decide("swept", big, 6, 10_000)
    const kept = store.decide("kept", big, 6, 10_000)
    assert.deepStrictEqual([swept?.remainingList, kept?.remainingList], [[0], [0]])
  })

  it("a refused check of an unseen key keeps no state", () => {
    const small = bucket(4)
    const store = new MemoryStore()
    assert.isUndefined(store.decide("over", small, 5, 0))
    assert.strictEqual(store.rejectRetryMillis, Number.POSITIVE_INFINITY)
    assert.strictEqual(store.size, 0)
    assert.isDefined(store.decide("over", small, 1, 0))
    assert.isUndefined(store.decide("over", small, 5, 0)) // a seen key keeps its state
    assert.strictEqual(store.size, 1)
  })
})
