import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Layer } from "effect"
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

  it.effect("rate-limit policies are applied as soon as they change, also for a provider whose name contains a dot", () => {
    const applied: Array<ReadonlyArray<string>> = []
    const sink: PolicySink = {
      policies: Effect.succeed(new Map()),
      applyPolicies: (policies) => Effect.sync(() => applied.push(Object.keys(policies).sort()))
    }
    return Effect.gen(function*() {
      const store = yield* ConfigStore
      const sync = yield* RateLimiterConfigSync
      yield* sync.awaitVersion(1)
      const change = yield* store.update(["providers", "my.proxy", "rateLimit"], onePerMinute)
      yield* sync.awaitVersion(change.version)
      assert.deepStrictEqual(applied, [[], ["my.proxy"]])
    }).pipe(Effect.provide(
      RateLimiterConfigSync.layerSink(sink).pipe(Layer.provideMerge(storeLayer({
        configFile: "/dot.json",
        files: new Map([[
          "/dot.json",
          JSON.stringify({ providers: { "my.proxy": { baseUrl: "https://p.internal/v1" } } })
        ]])
      })))
    ))
  })

  it.effect("a slow watcher that misses intermediate changes still applies the latest policies", () => {
    const applied: Array<number | undefined> = []
    const release = Deferred.makeUnsafe<void>()
    const entered = Deferred.makeUnsafe<void>()
    const limitOf = (policy: RateLimitPolicy | undefined) => windowOf(policy)?.[0]
    const sink: PolicySink = {
      policies: Effect.succeed(new Map()),
      applyPolicies: (policies) =>
        Effect.gen(function*() {
          const limit = limitOf(policies.search)
          if (limit === 1) { // the first change blocks the watcher while the store moves on
            yield* Deferred.succeed(entered, undefined)
            yield* Deferred.await(release)
          }
          applied.push(limit)
        })
    }
    return Effect.gen(function*() {
      const store = yield* ConfigStore
      const sync = yield* RateLimiterConfigSync
      yield* sync.awaitVersion(1)
      yield* store.update("rateLimits.search", onePerMinute)
      yield* Deferred.await(entered)
      yield* store.update("rateLimits.search", threePerMinute) // will be dropped from the watcher's full buffer
      let last = 0
      for (let i = 0; i < 600; i++) last = (yield* store.update("providers.openai.timeout", 1000 + i)).version
      yield* Deferred.succeed(release, undefined)
      yield* sync.awaitVersion(last)
      assert.deepStrictEqual(applied, [undefined, 1, 3])
    }).pipe(Effect.provide(RateLimiterConfigSync.layerSink(sink).pipe(Layer.provideMerge(storeLayer()))))
  })
})
