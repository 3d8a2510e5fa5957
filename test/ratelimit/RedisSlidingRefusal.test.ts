/**
 * A refusal on a full sliding window costs the same whatever the log's length: the script reads the log from
 * its oldest member only as far as the exact `retryAfter` needs, never the whole log (which made 1,000
 * concurrent fibers push a slow-but-healthy Redis past the store timeout).
 */
import { NodeRedis } from "@effect/platform-node"
import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { createClient } from "redis"
import { afterAll } from "vitest"
import { RateLimiter } from "../../src/ratelimit/index.ts"
import { describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"

const prefix = uniquePrefix("rl-sliding")

const median = (xs: Array<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

describeRedis("sliding window refusal (Redis)", () => {
  afterAll(async () => {
    const client = createClient({ url: redisUrl })
    await client.connect()
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await client.del(keys)
    }
    await client.close()
  })

  it.live(
    "a refusal on a 5,000-entry log costs about what one on a 5-entry log costs (no log load)",
    () =>
      Effect.gen(function*() {
        const rl = yield* RateLimiter
        yield* Effect.forEach(Array.from({ length: 5_000 }), () => rl.check("big", { policy: "big" }), {
          concurrency: 200,
          discard: true
        })
        yield* Effect.forEach(Array.from({ length: 5 }), () => rl.check("small", { policy: "small" }), {
          discard: true
        })
        const time = (key: string, policy: string) =>
          Effect.gen(function*() {
            const start = process.hrtime.bigint()
            const refused = yield* Effect.flip(rl.check(key, { policy }))
            assert.strictEqual(refused._tag, "RateLimited")
            return Number(process.hrtime.bigint() - start) / 1e6
          })
        const big: Array<number> = []
        const small: Array<number> = []
        for (let i = 0; i < 30; i++) {
          big.push(yield* time("big", "big"))
          small.push(yield* time("small", "small"))
        }
        // loading the whole log costs ~1 µs per entry in Redis's Lua: 5,000 entries were ~20x a small refusal
        assert.isBelow(median(big), 3 * median(small) + 0.5, `big ${median(big)} ms vs small ${median(small)} ms`)
        // and the exact retryAfter still comes from the oldest entry
        const refused = yield* Effect.flip(rl.check("big", { policy: "big" }))
        assert.isAbove(refused._tag === "RateLimited" ? refused.retryAfterMillis : 0, 3_500_000)
      }).pipe(Effect.provide(
        RateLimiter.layerRedis({
          prefix,
          onStoreError: "failClosed",
          policies: {
            default: { tiers: [{ _tag: "FixedWindow", limit: 10, window: 1000 }] },
            big: { tiers: [{ _tag: "SlidingWindow", limit: 5_000, window: "1 hour" }] },
            small: { tiers: [{ _tag: "SlidingWindow", limit: 5, window: "1 hour" }] }
          }
        }).pipe(Layer.provide(NodeRedis.layer({ url: redisUrl })))
      )),
    60_000
  )
})
