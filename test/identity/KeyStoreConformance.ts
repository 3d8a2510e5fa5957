/**
 * The one conformance suite every `KeyStore` backend passes (memory and PostgreSQL); the rule names match
 * KeyStore.ts's module doc.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option } from "effect"
import type { KeyRecord } from "../../src/identity/index.ts"
import { KeyStore } from "../../src/identity/index.ts"
import { failureOf, freshTenant, user } from "./support.ts"

let n = 0
const record = (tenant: string, principalId = "alice", overrides: Partial<KeyRecord> = {}): KeyRecord => ({
  id: `id${process.pid}x${++n}`.padEnd(12, "0").slice(0, 12),
  tenant,
  principal: user(tenant, principalId),
  name: "ci",
  scopes: ["chat:write"],
  hash: "00".repeat(32),
  createdAt: 1000 + n,
  ...overrides
})

export const keyStoreConformance = (layer: () => Layer.Layer<KeyStore, unknown>): void => {
  const run = <A, E>(body: Effect.Effect<A, E, KeyStore>) => body.pipe(Effect.provide(layer()))

  it.effect("insert then get finds the record by its public id", () =>
    run(Effect.gen(function*() {
      const store = yield* KeyStore
      const r = record(freshTenant(), "alice", {
        expiresAt: 5000,
        limits: { tiers: [{ _tag: "FixedWindow", limit: 10, window: 60000 }] },
        budget: { limitUsd: 12.5, period: "month" }
      })
      yield* store.insert(r)
      const got = yield* store.get(r.id)
      assert.deepStrictEqual(Option.getOrThrow(got), r)
      assert.isTrue(Option.isNone(yield* store.get("nosuchid0000")))
    })))

  it.effect("the public id is unique: a duplicate insert fails", () =>
    run(Effect.gen(function*() {
      const store = yield* KeyStore
      const r = record(freshTenant())
      yield* store.insert(r)
      const exit = yield* Effect.exit(store.insert(r))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual((failureOf(exit) as { _tag: string })._tag, "IdentityStoreError")
    })))

  it.effect("list returns only that tenant's records, oldest first, optionally one principal's", () =>
    run(Effect.gen(function*() {
      const store = yield* KeyStore
      const t1 = freshTenant(), t2 = freshTenant()
      const a = record(t1, "alice"), b = record(t1, "bob"), c = record(t2, "alice"), d = record(t1, "alice")
      for (const r of [a, b, c, d]) yield* store.insert(r)
      assert.deepStrictEqual((yield* store.list(t1)).map((r) => r.id), [a.id, b.id, d.id])
      assert.deepStrictEqual((yield* store.list(t1, "alice")).map((r) => r.id), [a.id, d.id])
      assert.deepStrictEqual((yield* store.list(t2)).map((r) => r.id), [c.id])
      assert.deepStrictEqual(yield* store.list(freshTenant()), [])
    })))

  it.effect("update patches a record of that tenant; a key of another tenant is not found", () =>
    run(Effect.gen(function*() {
      const store = yield* KeyStore
      const t1 = freshTenant(), t2 = freshTenant()
      const r = record(t1)
      yield* store.insert(r)
      assert.isTrue(Option.isNone(yield* store.update(t2, r.id, { revokedAt: 7 })))
      const updated = yield* store.update(t1, r.id, { revokedAt: 7, rotatedTo: "next" })
      assert.deepStrictEqual(Option.getOrThrow(updated), { ...r, revokedAt: 7, rotatedTo: "next" })
      assert.deepStrictEqual(Option.getOrThrow(yield* store.get(r.id)), { ...r, revokedAt: 7, rotatedTo: "next" })
      assert.isTrue(Option.isNone(yield* store.update(t1, "nosuchid0000", { revokedAt: 1 })))
    })))

  it.effect("remove deletes a record of that tenant and answers whether there was one", () =>
    run(Effect.gen(function*() {
      const store = yield* KeyStore
      const t1 = freshTenant(), t2 = freshTenant()
      const r = record(t1)
      yield* store.insert(r)
      assert.isFalse(yield* store.remove(t2, r.id))
      assert.isTrue(Option.isSome(yield* store.get(r.id)))
      assert.isTrue(yield* store.remove(t1, r.id))
      assert.isFalse(yield* store.remove(t1, r.id))
      assert.isTrue(Option.isNone(yield* store.get(r.id)))
      assert.deepStrictEqual(yield* store.list(t1), [])
    })))
}
