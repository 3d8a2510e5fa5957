import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Redacted } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { afterAll } from "vitest"
import { type CreateKeyInput, KEY_LENGTH, KeyRejected, Keys, KeyStore } from "../../src/identity/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"
import { failureOf, freshTenant, PEPPER, user } from "./support.ts"

const memory = Keys.layer({ pepper: PEPPER }).pipe(Layer.provideMerge(KeyStore.layerMemory()))

const reasonOf = <A, E>(exit: Exit.Exit<A, E>): string => {
  const error = failureOf(exit)
  assert.instanceOf(error, KeyRejected)
  return (error as KeyRejected).reason
}

describe("Keys", () => {
  it.effect("create returns the key once: tr_live_ + public id + 256-bit secret; only an HMAC is stored", () =>
    Effect.gen(function*() {
      const keys = yield* Keys
      const store = yield* KeyStore
      const tenant = freshTenant()
      const created = yield* keys.create({ principal: user(tenant), name: "ci", scopes: ["chat:write"] })
      const key = Redacted.value(created.key)
      assert.match(key, /^tr_live_[A-Za-z0-9_-]{55}$/)
      assert.strictEqual(key.length, KEY_LENGTH)
      assert.strictEqual(key.slice(8, 20), created.id)
      assert.strictEqual(String(created.key).includes(key), false) // Redacted prints <redacted>
      const stored = Option.getOrThrow(yield* store.get(created.id))
      assert.match(stored.hash, /^[0-9a-f]{64}$/)
      assert.isFalse(JSON.stringify(stored).includes(key.slice(20)))
      assert.strictEqual(stored.tenant, tenant)
    }).pipe(Effect.provide(memory)))

  it.effect("validate returns the principal, tenant, scopes, rate-limit policy and budget", () =>
    Effect.gen(function*() {
      const keys = yield* Keys
      const tenant = freshTenant()
      const created = yield* keys.create({
        principal: { kind: "service_account", id: "batch", tenant },
        name: "batch",
        scopes: ["chat:write", "embeddings:*"],
        limits: { tiers: [{ _tag: "FixedWindow", limit: 100, window: "1 minute" }] },
        budget: { limitUsd: 50, period: "month" }
      })
      const v = yield* keys.validate(created.key)
      assert.deepStrictEqual(v.principal, { kind: "service_account", id: "batch", tenant })
      assert.strictEqual(v.tenant, tenant)
      assert.deepStrictEqual(v.scopes, ["chat:write", "embeddings:*"])
      assert.deepStrictEqual(Option.getOrThrow(v.limits), {
        tiers: [{ _tag: "FixedWindow", limit: 100, window: 60000 }]
      })
      assert.deepStrictEqual(Option.getOrThrow(v.budget), { limitUsd: 50, period: "month" })
      assert.isTrue(Keys.hasScope(v.scopes, "embeddings:create"))
      assert.isFalse(Keys.hasScope(v.scopes, "admin:users"))
    }).pipe(Effect.provide(memory)))

  it.effect("an unknown key and a wrong secret for a known id fail with the same reason (unknown)", () =>
    Effect.gen(function*() {
      const keys = yield* Keys
      const created = yield* keys.create({ principal: user(freshTenant()), name: "a", scopes: [] })
      const key = Redacted.value(created.key)
      const last = key.at(-1) === "A" ? "B" : "A"
      const wrong = key.slice(0, -1) + last
      const unknown = "tr_live_" + "Z".repeat(55)
      const a = yield* Effect.exit(keys.validate(wrong))
      const b = yield* Effect.exit(keys.validate(unknown))
      assert.strictEqual(reasonOf(a), "unknown")
      assert.strictEqual(reasonOf(b), "unknown")
      assert.deepStrictEqual(failureOf(a), failureOf(b)) // no key id, nothing to tell them apart
      assert.strictEqual(reasonOf(yield* Effect.exit(keys.validate(""))), "missing")
      assert.strictEqual(reasonOf(yield* Effect.exit(keys.validate("sk-abc"))), "malformed")
      assert.strictEqual(reasonOf(yield* Effect.exit(keys.validate(key + "x"))), "malformed")
    }).pipe(Effect.provide(memory)))

  it.effect("a key is expired from expiresAt on (TestClock)", () =>
    Effect.gen(function*() {
      const keys = yield* Keys
      const created = yield* keys.create({ principal: user(freshTenant()), name: "a", scopes: [], expiresAt: 60_000 })
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual((yield* keys.validate(created.key)).keyId, created.id)
      yield* TestClock.adjust("1 second")
      const exit = yield* Effect.exit(keys.validate(created.key))
      assert.strictEqual(reasonOf(exit), "expired")
    }).pipe(Effect.provide(memory)))

  it.effect("revoke marks the key revoked from now on; a key of another tenant is KeyNotFound", () =>
    Effect.gen(function*() {
      const keys = yield* Keys
      const tenant = freshTenant()
      const created = yield* keys.create({ principal: user(tenant), name: "a", scopes: [] })
      const other = yield* Effect.exit(keys.revoke(freshTenant(), created.id))
      assert.strictEqual((failureOf(other) as { _tag: string })._tag, "KeyNotFound")
      yield* TestClock.adjust("5 seconds")
      const revoked = yield* keys.revoke(tenant, created.id)
      assert.strictEqual(revoked.revokedAt, 5000)
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* keys.revoke(tenant, created.id)).revokedAt, 5000) // idempotent
      assert.strictEqual(reasonOf(yield* Effect.exit(keys.validate(created.key))), "revoked")
      const again = yield* Effect.exit(keys.rotate(tenant, created.id, { grace: "1 hour" }))
      assert.strictEqual(reasonOf(again), "revoked")
    }).pipe(Effect.provide(memory)))

  it.effect("rotate issues a successor; the old key stays valid for the grace period only (TestClock)", () =>
    Effect.gen(function*() {
      const keys = yield* Keys
      const tenant = freshTenant()
      const old = yield* keys.create({
        principal: user(tenant),
        name: "a",
        scopes: ["chat:write"],
        budget: { limitUsd: 1, period: "day" }
      })
      yield* TestClock.adjust("10 seconds")
      const next = yield* keys.rotate(tenant, old.id, { grace: "1 minute" })
      assert.notStrictEqual(next.id, old.id)
      const v = yield* keys.validate(next.key)
      assert.deepStrictEqual(v.scopes, ["chat:write"])
      assert.deepStrictEqual(Option.getOrThrow(v.budget), { limitUsd: 1, period: "day" })
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual((yield* keys.validate(old.key)).keyId, old.id)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(reasonOf(yield* Effect.exit(keys.validate(old.key))), "expired")
      assert.strictEqual((yield* keys.validate(next.key)).keyId, next.id)
      const listed = yield* keys.list(tenant)
      assert.deepStrictEqual(listed.map((k) => [k.id, k.rotatedTo, k.expiresAt]), [[old.id, next.id, 70_000], [
        next.id,
        undefined,
        undefined
      ]])
    }).pipe(Effect.provide(memory)))

  it.effect("rotate with a bad grace fails InvalidIdentityInput naming rotate.grace and issues no successor", () =>
    Effect.gen(function*() {
      const keys = yield* Keys
      const tenant = freshTenant()
      const old = yield* keys.create({ principal: user(tenant), name: "a", scopes: ["chat:write"] })
      for (const grace of ["soon", "-1 second"]) {
        // untrusted input on purpose
        const exit = yield* Effect.exit(keys.rotate(tenant, old.id, { grace: grace as "1 hour" }))
        const error = failureOf(exit) as { readonly _tag?: string; readonly path?: string }
        assert.strictEqual(error._tag, "InvalidIdentityInput")
        assert.strictEqual(error.path, "rotate.grace")
      }
      assert.strictEqual((yield* keys.list(tenant)).length, 1)
      assert.strictEqual((yield* keys.validate(old.key)).keyId, old.id)
    }).pipe(Effect.provide(memory)))

  it.effect("list shows only the tenant's keys, masked, never a hash or secret", () =>
    Effect.gen(function*() {
      const keys = yield* Keys
      const t1 = freshTenant(), t2 = freshTenant()
      const a = yield* keys.create({ principal: user(t1, "alice"), name: "a", scopes: [] })
      yield* keys.create({ principal: user(t1, "bob"), name: "b", scopes: [] })
      yield* keys.create({ principal: user(t2, "alice"), name: "c", scopes: [] })
      const all = yield* keys.list(t1)
      assert.strictEqual(all.length, 2)
      assert.deepStrictEqual((yield* keys.list(t1, "alice")).map((k) => k.id), [a.id])
      assert.strictEqual(all[0]?.masked, `tr_live_${a.id}••••••••`)
      assert.isFalse(JSON.stringify(all).includes(Redacted.value(a.key).slice(20)))
      assert.isFalse("hash" in (all[0] ?? {}))
      assert.deepStrictEqual(yield* keys.list("not a tenant!"), [])
    }).pipe(Effect.provide(memory)))

  it.effect("create decodes its input with Schema: a bad field fails InvalidIdentityInput naming the path", () =>
    Effect.gen(function*() {
      const keys = yield* Keys
      const bad = { principal: { kind: "robot", id: "x", tenant: "t" }, name: "a", scopes: [] }
      // @ts-expect-error an invalid principal kind, as untrusted input would send it
      const exit = yield* Effect.exit(keys.create(bad))
      const error = failureOf(exit) as { _tag: string; path: string }
      assert.strictEqual(error._tag, "InvalidIdentityInput")
      assert.strictEqual(error.path, "create.principal.kind")
      const scope = failureOf(
        yield* Effect.exit(keys.create({ principal: user("t"), name: "a", scopes: ["has space"] }))
      ) as { path: string }
      assert.strictEqual(scope.path, "create.scopes[0]")
      const noTiers: unknown = { principal: user("t"), name: "a", scopes: [], limits: { tiers: [] } }
      // a cast: untrusted input that the static type would refuse
      const limits = failureOf(yield* Effect.exit(keys.create(noTiers as CreateKeyInput))) as { path: string }
      assert.strictEqual(limits.path, "create.limits.tiers[0]")
    }).pipe(Effect.provide(memory)))

  it.effect("a pepper shorter than 32 characters is refused at layer build", () =>
    Effect.gen(function*() {
      const build = Effect.gen(function*() {
        yield* Keys
      }).pipe(
        Effect.provide(Keys.layer({ pepper: Redacted.make("short") }).pipe(Layer.provide(KeyStore.layerMemory())))
      )
      const exit = yield* Effect.exit(build)
      assert.isTrue(Exit.isFailure(exit))
    }))

  it.effect("fuzz: validate of random strings and near-miss keys fails only with a typed KeyRejected", () =>
    Effect.gen(function*() {
      const keys = yield* Keys
      const created = yield* keys.create({ principal: user(freshTenant()), name: "a", scopes: [] })
      const key = Redacted.value(created.key)
      const samples = fc.sample(
        fc.oneof(
          fc.string({ maxLength: 100 }),
          fc.string({ unit: "binary", maxLength: 80 }),
          fc.stringMatching(/^tr_live_[A-Za-z0-9_-]{55}$/),
          fc.tuple(fc.nat(KEY_LENGTH - 1), fc.string({ minLength: 1, maxLength: 1 })).map(([i, c]) =>
            key.slice(0, i) + c + key.slice(i + 1)
          )
        ),
        { numRuns: 200, seed: 13 }
      )
      for (const sample of samples) {
        const exit = yield* Effect.exit(keys.validate(sample))
        if (sample === key) continue
        assert.isTrue(Exit.isFailure(exit), sample)
        assert.include(["missing", "malformed", "unknown"], reasonOf(exit))
      }
    }).pipe(Effect.provide(memory)))
})

describePostgres("Keys on PostgreSQL", () => {
  const schema = uniqueSchema("keysvc")
  afterAll(() => dropSchemaPromise(schema))
  const pg = Keys.layer({ pepper: PEPPER }).pipe(
    Layer.provideMerge(KeyStore.layerPostgres({ schema })),
    Layer.provide(pgLayer)
  )

  it.effect("create, validate, rotate with grace and revoke round-trip through the table", () =>
    Effect.gen(function*() {
      const keys = yield* Keys
      const tenant = freshTenant()
      const old = yield* keys.create({ principal: user(tenant), name: "a", scopes: ["chat:write"] })
      assert.strictEqual((yield* keys.validate(old.key)).tenant, tenant)
      const next = yield* keys.rotate(tenant, old.id, { grace: "1 minute" })
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(reasonOf(yield* Effect.exit(keys.validate(old.key))), "expired")
      yield* keys.revoke(tenant, next.id)
      assert.strictEqual(reasonOf(yield* Effect.exit(keys.validate(next.key))), "revoked")
    }).pipe(Effect.provide(pg)))
})
