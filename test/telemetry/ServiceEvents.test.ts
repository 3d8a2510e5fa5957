/**
 * The services emit the catalogue's events through a TelemetryHub in their context: cache hit/miss/eviction and
 * config changes (with secrets masked). (Rate-limit events: `test/ratelimit`; supervisor lifecycle:
 * `LifecycleBridge.test.ts`.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Cache } from "../../src/cache/index.ts"
import { ConfigStore } from "../../src/config/index.ts"
import { RateLimiter } from "../../src/ratelimit/index.ts"
import { type TelemetryEvent, TelemetryHub } from "../../src/telemetry/index.ts"
import { storeLayer } from "../config/support.ts"

const record = (prefix: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const seen: Array<TelemetryEvent> = []
    yield* (yield* TelemetryHub).attach(`test-${prefix.join(".")}`, [prefix], (event) => {
      seen.push(event)
    })
    return seen
  })

describe("service events through the hub", () => {
  it.effect("the cache emits hit, miss and eviction events (with the cache name and tier)", () =>
    Effect.gen(function*() {
      const seen = yield* record(["troupe", "cache"])
      const cache = yield* Cache
      yield* cache.get("k") // miss
      yield* cache.put("k", "v", { ttl: "1 second" })
      yield* cache.get("k") // hit
      yield* TestClock.adjust("1 second")
      yield* cache.get("k") // expired on read: ttl eviction, then miss
      assert.deepStrictEqual(seen.map((e) => `${e.name.join(".")} ${JSON.stringify(e.metadata)}`), [
        `troupe.cache.miss {"cache":"answers","tier":"l1"}`,
        `troupe.cache.hit {"cache":"answers","tier":"l1"}`,
        `troupe.cache.eviction {"cache":"answers","tier":"l1","reason":"ttl"}`,
        `troupe.cache.miss {"cache":"answers","tier":"l1"}`
      ])
    }).pipe(
      Effect.provide(
        Cache.layerMemory({ name: "answers", sweepInterval: "1 hour" }).pipe(Layer.provideMerge(TelemetryHub.layer()))
      )
    ))

  it.effect("the config store emits config.changed with the changed paths and no secret", () =>
    Effect.gen(function*() {
      const seen = yield* record(["troupe", "config"])
      const store = yield* ConfigStore
      yield* store.update("providers.openai.apiKey", "sk-test-SECRET-0123456789abcdef")
      yield* store.update("providers.openai.timeout", 12_000)
      const changed = seen.filter((e) => e.name.join(".") === "troupe.config.changed")
      assert.strictEqual(changed.length, 2)
      assert.deepStrictEqual(changed.map((e) => e.measurements["changed_paths"]), [1, 1])
      const dump = JSON.stringify(seen)
      assert.include(dump, "providers.openai.timeout")
      assert.notInclude(dump, "SECRET")
    }).pipe(Effect.provide(storeLayer().pipe(Layer.provideMerge(TelemetryHub.layer())))))
})

describe("rate limiter events through the hub", () => {
  it.effect("a refused check emits troupe.rate_limiter.limited with retry_after and the policy", () =>
    Effect.gen(function*() {
      const seen = yield* record(["troupe", "rate_limiter"])
      const limiter = yield* RateLimiter
      yield* limiter.check("user:1")
      const refused = yield* Effect.flip(limiter.check("user:1"))
      assert.strictEqual(refused._tag, "RateLimited")
      assert.deepStrictEqual(seen.map((e) => [e.name.join("."), e.measurements, e.metadata]), [
        ["troupe.rate_limiter.limited", { count: 1, retry_after: 60_000 }, {
          limiter: "api",
          policy: "tight",
          tier: "minute"
        }]
      ])
    }).pipe(Effect.provide(
      RateLimiter.layerMemory({
        name: "api",
        defaultPolicy: "tight",
        policies: { tight: { tiers: [{ _tag: "FixedWindow", name: "minute", limit: 1, window: "1 minute" }] } }
      }).pipe(Layer.provideMerge(TelemetryHub.layer()))
    )))
})
