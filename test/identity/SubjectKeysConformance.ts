/**
 * The one conformance suite every `SubjectKeys` backend passes (memory and PostgreSQL); the rule names match
 * SubjectKeys.ts's module doc.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { KeyProvider, SecretBox, type SubjectKeyRecord, SubjectKeys } from "../../src/identity/index.ts"
import { freshTenant } from "./support.ts"

let n = 0
const record = (tenant: string, subject = "alice"): SubjectKeyRecord => ({
  tenant,
  subject,
  keyId: `k${process.pid}x${++n}`.padEnd(16, "0"),
  wrapped: "enc:v1:wrapped",
  createdAt: 1000 + n
})

export const subjectKeysConformance = (layer: () => Layer.Layer<SubjectKeys, unknown>): void => {
  const run = <A, E>(body: Effect.Effect<A, E, SubjectKeys>) => body.pipe(Effect.provide(layer()))

  it.effect("create stores the record unless the subject already has one, and returns the subject's record either way", () =>
    run(Effect.gen(function*() {
      const keys = yield* SubjectKeys
      const t = freshTenant()
      const first = record(t)
      assert.deepStrictEqual(yield* keys.create(first), first)
      assert.deepStrictEqual(yield* keys.create(record(t)), first)
      assert.deepStrictEqual(Option.getOrThrow(yield* keys.find(t, "alice")), first)
      assert.deepStrictEqual(Option.getOrThrow(yield* keys.byId(first.keyId)), first)
      assert.isTrue(Option.isNone(yield* keys.find(t, "bob")))
      assert.isTrue(Option.isNone(yield* keys.find(freshTenant(), "alice")))
    })))

  it.effect("destroy deletes the subject's record: it cannot be found by subject or by id; a later create makes a new key", () =>
    run(Effect.gen(function*() {
      const keys = yield* SubjectKeys
      const t = freshTenant()
      const a = yield* keys.create(record(t, "alice"))
      const b = yield* keys.create(record(t, "bob"))
      assert.isTrue(yield* keys.destroy(t, "alice"))
      assert.isFalse(yield* keys.destroy(t, "alice"))
      assert.isTrue(Option.isNone(yield* keys.find(t, "alice")))
      assert.isTrue(Option.isNone(yield* keys.byId(a.keyId)))
      assert.deepStrictEqual(Option.getOrThrow(yield* keys.byId(b.keyId)), b)
      const again = yield* keys.create(record(t, "alice"))
      assert.notStrictEqual(again.keyId, a.keyId)
    })))

  it.effect("dataKeyFor wraps a fresh 32-byte key under the master key; openWithId unwraps it, None once destroyed", () =>
    Effect.gen(function*() {
      const keys = yield* SubjectKeys
      const provider = yield* KeyProvider
      const t = freshTenant()
      const key = yield* SubjectKeys.dataKeyFor(keys, provider, t, "alice")
      assert.strictEqual(Redacted.value(key.key).length, 32)
      const again = yield* SubjectKeys.dataKeyFor(keys, provider, t, "alice")
      assert.strictEqual(again.id, key.id)
      const stored = Option.getOrThrow(yield* keys.find(t, "alice"))
      assert.isTrue(stored.wrapped.startsWith("enc:v1:"))
      assert.notInclude(stored.wrapped, Buffer.from(Redacted.value(key.key)).toString("base64"))
      const opened = yield* SubjectKeys.openWithId(keys, provider, key.id)
      assert.deepStrictEqual(Redacted.value(Option.getOrThrow(opened).key), Redacted.value(key.key))
      yield* keys.destroy(t, "alice")
      assert.isTrue(Option.isNone(yield* SubjectKeys.openWithId(keys, provider, key.id)))
    }).pipe(Effect.provide(Layer.merge(layer(), KeyProvider.layerStatic({ current: "e".repeat(64) })))))

  const K1 = "1".repeat(64)
  const K2 = "2".repeat(64)
  const providerOf = (current: string, previous: ReadonlyArray<string> = []) =>
    Effect.flatMap(
      KeyProvider.parseKey(current),
      (c) => Effect.map(Effect.forEach(previous, KeyProvider.parseKey), (p) => KeyProvider.fromKeys(c, p))
    )

  it.effect("a master-key rotation: dataKeyFor re-wraps the subject's key under the current master key on use, keeping its id and bytes", () =>
    run(Effect.gen(function*() {
      const keys = yield* SubjectKeys
      const t = freshTenant()
      const k2 = yield* providerOf(K2)
      const key = yield* SubjectKeys.dataKeyFor(keys, yield* providerOf(K1), t, "alice")
      const used = yield* SubjectKeys.dataKeyFor(keys, yield* providerOf(K2, [K1]), t, "alice")
      assert.deepStrictEqual([used.id, Redacted.value(used.key)], [key.id, Redacted.value(key.key)])
      const stored = Option.getOrThrow(yield* keys.find(t, "alice"))
      assert.strictEqual(SecretBox.keyIdOfEnvelope(stored.wrapped), (yield* k2.current).id)
      // K1 retired: the key still opens
      const opened = Option.getOrThrow(yield* SubjectKeys.openWithId(keys, k2, key.id))
      assert.deepStrictEqual(Redacted.value(opened.key), Redacted.value(key.key))
    })))

  it.effect("rewrap re-seals every subject key not under the current master key, so the previous master key can be retired", () =>
    run(Effect.gen(function*() {
      const keys = yield* SubjectKeys
      const t = freshTenant()
      const k1 = yield* providerOf(K1)
      const before = yield* Effect.forEach(["a", "b", "c"], (subject) => SubjectKeys.dataKeyFor(keys, k1, t, subject))
      const rotated = yield* providerOf(K2, [K1])
      yield* SubjectKeys.dataKeyFor(keys, rotated, t, "d") // already under K2
      assert.strictEqual(yield* SubjectKeys.rewrap(keys, rotated, { tenant: t, batch: 2 }), 3)
      assert.strictEqual(yield* SubjectKeys.rewrap(keys, rotated, { tenant: t }), 0)
      const k2 = yield* providerOf(K2)
      for (const key of before) {
        const opened = Option.getOrThrow(yield* SubjectKeys.openWithId(keys, k2, key.id))
        assert.deepStrictEqual(Redacted.value(opened.key), Redacted.value(key.key))
      }
    })))
}
