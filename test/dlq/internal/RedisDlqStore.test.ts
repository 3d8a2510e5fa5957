/**
 * The Redis DLQ backend's own rules, beyond the conformance suite: the claim (a compare-and-set) reads the letter's
 * version (status, redrives, claim stamp) from its own hash, never decoding the letter, so an input nested past what
 * Redis's cjson decodes cannot make a letter unclaimable; letters stored in the old layout (no version entry) still
 * are claimed, and one of them that cjson cannot decode is skipped and reported by a redrive of many.
 */
import { NodeRedis } from "@effect/platform-node"
import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Redis } from "effect/persistence"
import { afterAll } from "vitest"
import type { DeadLetter } from "../../../src/dlq/index.ts"
import { DeadLetters } from "../../../src/dlq/index.ts"
import { makeRedisDlqStore } from "../../../src/dlq/internal/RedisDlqStore.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../../support/redis.ts"

const redisLayer = NodeRedis.layer({ url: redisUrl })

/** A tool's JSON schema nested `depth` levels. */
const nestedSchema = (depth: number): unknown => {
  let v: unknown = { type: "string" }
  for (let i = 0; i < depth; i++) v = { items: v }
  return v
}

const letterOf = (id: string, input: unknown): DeadLetter => ({
  id,
  kind: "request",
  source: "s",
  input,
  error: { tag: "Error", message: "400" },
  attempts: 1,
  firstFailedAt: 1,
  deadAt: 1,
  status: "dead",
  redrives: 0
})

/** Writes `letter` as the earlier layout did: the stream entry, the letter JSON and the entry id, no version. */
const putOldLayout = (prefix: string, letter: DeadLetter) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const sid = yield* redis.send<string>("XADD", `${prefix}s`, "*", "id", letter.id)
    yield* redis.send("HSET", `${prefix}l`, letter.id, JSON.stringify(letter))
    yield* redis.send("HSET", `${prefix}x`, letter.id, sid)
  })

describeRedis("RedisDlqStore", () => {
  const prefixes: Array<string> = []
  afterAll(async () => {
    await Effect.runPromise(
      Effect.forEach(prefixes, cleanupRedisPrefix, { discard: true }).pipe(Effect.provide(redisLayer))
    )
  })
  const fresh = () => {
    const prefix = uniquePrefix("dlq-store")
    prefixes.push(prefix)
    return prefix
  }

  it.effect("the claim compares status, redrives and claim stamp without decoding the letter: a letter nested past what cjson decodes is claimed and settled", () =>
    Effect.gen(function*() {
      const store = makeRedisDlqStore(yield* Redis.Redis, fresh())
      const letter = letterOf("deep", { tools: [{ name: "t", parameters: nestedSchema(1_100) }] })
      assert.isTrue(yield* store.put(letter))
      const claimed: DeadLetter = { ...letter, status: "redriving", claimedAt: 5 }
      assert.isTrue(yield* store.swap({ status: "dead", redrives: 0 }, claimed))
      // a claim from the stale read loses; the settle of the claim wins once
      assert.isFalse(yield* store.swap({ status: "dead", redrives: 0 }, claimed))
      const settled: DeadLetter = { ...letter, status: "redriven", redrives: 1, redrivenAt: 6 }
      assert.isFalse(yield* store.swap({ status: "redriving", redrives: 0, claimedAt: 4 }, settled))
      assert.isTrue(yield* store.swap({ status: "redriving", redrives: 0, claimedAt: 5 }, settled))
      assert.strictEqual((yield* store.get("deep"))?.status, "redriven")
      assert.strictEqual(yield* store.remove(["deep"]), 1)
    }).pipe(Effect.provide(redisLayer)))

  it.effect("a letter stored in the old layout (no version entry) is still claimed and redriven", () => {
    const prefix = fresh()
    return Effect.gen(function*() {
      yield* putOldLayout(prefix, letterOf("old", { q: 1 }))
      const dlq = yield* DeadLetters
      assert.deepStrictEqual(yield* dlq.redrive("old"), { id: "old", result: "redriven" })
      const letter = yield* dlq.inspect("old")
      assert.strictEqual(letter.status, "redriven")
      assert.strictEqual(letter.redrives, 1)
      assert.deepStrictEqual(yield* dlq.redrive("old"), { id: "old", result: "skipped" })
      assert.strictEqual(yield* dlq.purge(), 1)
    }).pipe(Effect.provide(
      Layer.merge(
        DeadLetters.layerRedis({ prefix, redrive: () => Effect.void }),
        redisLayer
      ).pipe(Layer.provide(redisLayer))
    ))
  })

  it.live("a letter in the old layout that cjson cannot decode is skipped and reported by a redrive of many, which goes on with the others", () => {
    const prefix = fresh()
    return Effect.gen(function*() {
      yield* putOldLayout(prefix, letterOf("poison", { tools: [{ name: "t", parameters: nestedSchema(1_100) }] }))
      const dlq = yield* DeadLetters
      yield* dlq.record({ id: "fine", kind: "request", source: "s", input: {}, error: "e", attempts: 1 })
      const outcomes = yield* dlq.redriveMany({}, { ratePerSecond: 10_000 })
      assert.deepStrictEqual(outcomes.map((o) => [o.id, o.result]), [["poison", "skipped"], ["fine", "redriven"]])
      assert.include(outcomes[0]?.reason ?? "", "decode")
      assert.strictEqual((yield* dlq.inspect("poison")).status, "dead")
      assert.strictEqual(yield* dlq.purge(), 2)
    }).pipe(Effect.provide(
      Layer.merge(
        DeadLetters.layerRedis({ prefix, redrive: () => Effect.void }),
        redisLayer
      ).pipe(Layer.provide(redisLayer))
    ))
  })
})
