import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import type { PolicySink, RateLimitPolicy } from "../../src/config/index.ts"
import { ConfigStore, RateLimiterConfigSync } from "../../src/config/index.ts"
import { RateLimiter, RateLimitKey } from "../../src/ratelimit/index.ts"
import { storeLayer } from "./support.ts"

const onePerMinute = { tiers: [{ _tag: "FixedWindow", name: "minute", limit: 1, window: "1 minute" }] }
const threePerMinute = { tiers: [{ _tag: "FixedWindow", name: "minute", limit: 3, window: "1 minute" }] }

const windowOf = (policy: RateLimitPolicy | undefined) => {
  const tier = policy?.tiers[0]
  return tier === undefined || tier._tag === "TokenBucket" ? undefined : [tier.limit, Duration.toMillis(tier.window)]
}

describe("RateLimiterConfigSync", () => {
  it.effect("policies from the configuration reach the running RateLimiter live, and fall back when removed", () =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      const sync = yield* RateLimiterConfigSync
      const limiter = yield* RateLimiter
      yield* sync.awaitVersion(1)
      const builtIn = windowOf((yield* limiter.policies).get("openai"))
      // the file's rateLimits entry is applied at start
      assert.deepStrictEqual(windowOf((yield* limiter.policies).get("search")), [3, 60_000])

      const key = RateLimitKey.make({ provider: "openai", user: "u1" })
      yield* limiter.check(key) // built-in openai policy: plenty of room
      yield* limiter.check(key)

      const change = yield* store.update("providers.openai.rateLimit", onePerMinute)
      yield* sync.awaitVersion(change.version)
      assert.deepStrictEqual(windowOf((yield* limiter.policies).get("openai")), [1, 60_000])
      const limited = yield* Effect.flip(
        limiter.check(RateLimitKey.make({ provider: "openai", user: "u2" })).pipe(
          Effect.andThen(limiter.check(RateLimitKey.make({ provider: "openai", user: "u2" })))
        )
      )
      assert.strictEqual(limited._tag, "RateLimited")

      const removed = yield* store.update("providers.openai.rateLimit", null)
      yield* sync.awaitVersion(removed.version)
      assert.deepStrictEqual(windowOf((yield* limiter.policies).get("openai")), builtIn)

      const unrelated = yield* store.update("providers.openai.timeout", 1000) // not a rate-limit path
      yield* sync.awaitVersion(unrelated.version)
      assert.strictEqual(yield* sync.appliedVersion, unrelated.version)
    }).pipe(Effect.provide(
      RateLimiterConfigSync.layer.pipe(
        Layer.provideMerge(Layer.mergeAll(
          storeLayer({
            configFile: "/rl.json",
            files: new Map([["/rl.json", JSON.stringify({ rateLimits: { search: threePerMinute } })]])
          }),
          RateLimiter.layerMemory()
        ))
      )
    )))

  it.effect("a crashing watcher is restarted by its supervisor and keeps applying changes", () => {
    const applied: Array<ReadonlyArray<string>> = []
    let crashes = 1
    const sink: PolicySink = {
      policies: Effect.succeed(new Map()),
      applyPolicies: (policies) =>
        Effect.suspend(() => {
          if (crashes-- > 0) return Effect.die(new Error("limiter hiccup"))
          applied.push(Object.keys(policies).sort())
          return Effect.void
        })
    }
    return Effect.gen(function*() {
      const store = yield* ConfigStore
      const sync = yield* RateLimiterConfigSync
      yield* sync.awaitVersion(1) // first attempt died; the restarted watcher applied version 1
      const change = yield* store.update("rateLimits.search", onePerMinute)
      yield* sync.awaitVersion(change.version)
      assert.deepStrictEqual(applied, [[], ["search"]])
    }).pipe(Effect.provide(RateLimiterConfigSync.layerSink(sink).pipe(Layer.provideMerge(storeLayer()))))
  })
})
