/**
 * The validation cache of `Keys` (`Keys.make({ cache })`, src/identity/internal/KeyCache.ts): a repeat validation
 * skips the store read; a revocation or rotation by this process applies at once; expiry is still checked on a hit;
 * an entry lives `ttl` (TestClock); an unknown or forged key always misses; the table is bounded.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Duration } from "effect"
import { Effect, Exit, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import type { KeyStoreShape } from "../../src/identity/index.ts"
import { Keys, KeyStore } from "../../src/identity/index.ts"
import { failureOf, freshTenant, PEPPER, user } from "./support.ts"

/** A memory KeyStore that counts its `get`s. */
const counted = () => {
  const reads = { get: 0 }
  const layer = Layer.effect(
    KeyStore,
    Effect.map(Effect.service(KeyStore), (inner): KeyStoreShape => ({
      ...inner,
      get: (id) =>
        Effect.suspend(() => {
          reads.get++
          return inner.get(id)
        })
    }))
  ).pipe(Layer.provide(KeyStore.layerMemory()))
  return { reads, layer }
}

const withCache = (cache: { readonly ttl?: Duration.Input; readonly maxEntries?: number }) => {
  const { layer, reads } = counted()
  return { reads, layer: Layer.effect(Keys, Keys.make({ pepper: PEPPER, cache })).pipe(Layer.provideMerge(layer)) }
}

const reason = <A, E>(exit: Exit.Exit<A, E>) => (failureOf(exit) as { readonly reason?: string }).reason

describe("Keys validation cache", () => {
  it.effect("the validation cache: a repeat validation skips the store read; a revocation here applies at once", () => {
    const { layer, reads } = withCache({ ttl: "5 seconds" })
    return Effect.gen(function*() {
      const keys = yield* Keys
      const tenant = freshTenant()
      const created = yield* keys.create({ principal: user(tenant), name: "c", scopes: ["*"] })
      yield* keys.validate(created.key)
      yield* keys.validate(created.key)
      yield* keys.validate(created.key)
      assert.strictEqual(reads.get, 1)
      yield* keys.revoke(tenant, created.id)
      assert.strictEqual(reason(yield* Effect.exit(keys.validate(created.key))), "revoked")
    }).pipe(Effect.provide(layer))
  })

  it.effect("the validation cache: an entry lives ttl; expiry is still checked on a hit", () => {
    const { layer, reads } = withCache({ ttl: "5 seconds" })
    return Effect.gen(function*() {
      const keys = yield* Keys
      const tenant = freshTenant()
      const created = yield* keys.create({ principal: user(tenant), name: "c", scopes: ["*"], expiresAt: 3_000 })
      yield* keys.validate(created.key)
      yield* TestClock.adjust("2 seconds")
      yield* keys.validate(created.key)
      assert.strictEqual(reads.get, 1)
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(reason(yield* Effect.exit(keys.validate(created.key))), "expired")
      const other = yield* keys.create({ principal: user(tenant), name: "d", scopes: ["*"] })
      yield* keys.validate(other.key)
      yield* TestClock.adjust("6 seconds")
      yield* keys.validate(other.key)
      assert.strictEqual(reads.get, 3)
    }).pipe(Effect.provide(layer))
  })

  it.effect("the validation cache: an unknown or forged key always misses; a rotation here applies at once", () => {
    const { layer, reads } = withCache({ maxEntries: 2 })
    return Effect.gen(function*() {
      const keys = yield* Keys
      const tenant = freshTenant()
      const created = yield* keys.create({ principal: user(tenant), name: "c", scopes: ["*"] })
      const key = created.key
      yield* keys.validate(key)
      const before = reads.get
      for (let i = 0; i < 3; i++) {
        assert.strictEqual(
          reason(yield* Effect.exit(keys.validate(`tr_live_${created.id}${"A".repeat(43)}`))),
          "unknown"
        )
      }
      assert.strictEqual(reads.get, before + 3)
      yield* keys.rotate(tenant, created.id, { grace: "0 millis" })
      assert.strictEqual(reason(yield* Effect.exit(keys.validate(key))), "expired")
      // bounded: more keys than maxEntries keep working
      for (let i = 0; i < 4; i++) {
        const k = yield* keys.create({ principal: user(tenant), name: `k${i}`, scopes: ["*"] })
        assert.isTrue(Option.isSome(Option.some(yield* keys.validate(k.key))))
      }
    }).pipe(Effect.provide(layer))
  })
})
