import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted } from "effect"
import fc from "fast-check"
import { KeyProvider, SecretBox, SecretError } from "../../src/identity/index.ts"
import { failureOf } from "./support.ts"

const KEY_A = "a".repeat(64)
const KEY_B = Buffer.alloc(32, 7).toString("base64")

const boxWith = (current: string, previous: ReadonlyArray<string> = []) =>
  SecretBox.layer.pipe(Layer.provide(KeyProvider.layerStatic({ current, previous })))

const reasonOf = <A>(exit: Exit.Exit<A, unknown>): string => {
  const error = failureOf(exit)
  assert.instanceOf(error, SecretError)
  return (error as SecretError).reason
}

const sealUnder = (key: string, value: string) =>
  Effect.runPromise(
    Effect.gen(function*() {
      return yield* (yield* SecretBox).seal(value)
    }).pipe(Effect.provide(boxWith(key)))
  )

describe("SecretBox", () => {
  it.effect("seal gives an enc:v1 envelope under the current key id; open returns the value only as Redacted", () =>
    Effect.gen(function*() {
      const box = yield* SecretBox
      const envelope = yield* box.seal(Redacted.make("sk-provider-secret"))
      assert.isTrue(SecretBox.isEnvelope(envelope))
      assert.isFalse(envelope.includes("sk-provider-secret"))
      const opened = yield* box.open(envelope)
      assert.isTrue(Redacted.isRedacted(opened))
      assert.strictEqual(String(opened).includes("sk-provider"), false)
      assert.strictEqual(Redacted.value(opened), "sk-provider-secret")
      // a fresh IV each call: the same value seals to different envelopes
      assert.notStrictEqual(yield* box.seal("x"), yield* box.seal("x"))
    }).pipe(Effect.provide(boxWith(KEY_A))))

  it.effect("tamper detection: any edited character of an envelope fails open with tampered or malformed", () =>
    Effect.gen(function*() {
      const box = yield* SecretBox
      const envelope = yield* box.seal("top secret value!") // 17 + 16 bytes: no base64 padding bits to edit unseen
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.nat(envelope.length - 1), fc.constantFrom(...alphabet), async (i, c) => {
            fc.pre(envelope[i] !== c)
            const edited = envelope.slice(0, i) + c + envelope.slice(i + 1)
            const exit = await Effect.runPromiseExit(box.open(edited))
            assert.isTrue(Exit.isFailure(exit))
            assert.include(["tampered", "malformed", "unknown-key"], reasonOf(exit))
          }),
          { numRuns: 200 }
        )
      )
    }).pipe(Effect.provide(boxWith(KEY_A))))

  it.effect("tamper detection: an appended character or an edit of the unused low bits of the last character fails open (malformed: not canonical base64url, or tampered)", () =>
    Effect.gen(function*() {
      const box = yield* SecretBox
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
      const opened: Array<string> = []
      for (const value of ["a", "ab", "abc", "secret-value-1"]) {
        const envelope = yield* box.seal(value)
        const last = alphabet.indexOf(envelope.at(-1)!)
        // bodies of 17, 18, 19 and 30 bytes end in a character with 4, 2, 0 or 4 unused low bits
        const edits = [`${envelope}A`, `${envelope}AA`, envelope.slice(0, -1) + alphabet[last ^ 1]]
        for (const edited of edits) {
          const exit = yield* Effect.exit(box.open(edited))
          if (Exit.isSuccess(exit)) opened.push(edited)
          else assert.include(["malformed", "tampered"], reasonOf(exit))
        }
      }
      assert.deepStrictEqual(opened, [])
    }).pipe(Effect.provide(boxWith(KEY_A))))

  it.effect("wrong key: an envelope under a key the provider does not hold fails unknown-key; a forged key id fails tampered", () =>
    Effect.gen(function*() {
      const box = yield* SecretBox
      const underB = yield* Effect.promise(() => sealUnder(KEY_B, "v"))
      assert.strictEqual(reasonOf(yield* Effect.exit(box.open(underB))), "unknown-key")
      // same key id as A's, but sealed by B: the tag does not verify under A
      const idA = (yield* (yield* KeyProvider).current).id
      const forged = underB.replace(/^enc:v1:[0-9a-f]{16}/, `enc:v1:${idA}`)
      assert.strictEqual(reasonOf(yield* Effect.exit(box.open(forged))), "tampered")
      assert.strictEqual(reasonOf(yield* Effect.exit(box.open("plain-value"))), "malformed")
    }).pipe(Effect.provide(Layer.merge(boxWith(KEY_A), KeyProvider.layerStatic({ current: KEY_A })))))

  it.effect("rotation re-encrypts: rotate re-seals every envelope under the new key; the old key id stays in the old envelope", () =>
    Effect.gen(function*() {
      const old = yield* Effect.promise(() => Promise.all(["one", "two"].map((v) => sealUnder(KEY_A, v))))
      const box = yield* SecretBox
      const already = yield* box.seal("three")
      const rotation = yield* box.rotate([...old, already])
      assert.strictEqual(rotation.reencrypted, 2)
      assert.strictEqual(rotation.envelopes[2], already)
      for (const e of rotation.envelopes) assert.strictEqual(SecretBox.keyIdOfEnvelope(e), rotation.keyId)
      assert.notStrictEqual(SecretBox.keyIdOfEnvelope(old[0]!), rotation.keyId)
      const values = yield* Effect.forEach(rotation.envelopes, (e) => Effect.map(box.open(e), Redacted.value))
      assert.deepStrictEqual(values, ["one", "two", "three"])
      // after the retired key is dropped, the rotated envelopes still open
      const newOnly = yield* Effect.promise(() =>
        Effect.runPromise(
          Effect.gen(function*() {
            return yield* (yield* SecretBox).open(rotation.envelopes[0]!)
          }).pipe(Effect.provide(boxWith(KEY_B)))
        )
      )
      assert.strictEqual(Redacted.value(newOnly), "one")
    }).pipe(Effect.provide(boxWith(KEY_B, [KEY_A]))))

  it.effect("layerEnv reads TROUPE_MASTER_KEY; missing fails no-master-key, a short key fails bad-key", () =>
    Effect.gen(function*() {
      const build = (env: Record<string, string>) =>
        Effect.exit(Layer.build(KeyProvider.layerEnv({ env })).pipe(Effect.scoped))
      assert.strictEqual(reasonOf(yield* build({})), "no-master-key")
      assert.strictEqual(reasonOf(yield* build({ TROUPE_MASTER_KEY: "abcd" })), "bad-key")
      assert.isTrue(Exit.isSuccess(yield* build({ TROUPE_MASTER_KEY: KEY_A, TROUPE_MASTER_KEY_PREVIOUS: `${KEY_B}` })))
    }))

  it.effect("fuzz: seal then open round-trips any string; open of any string fails typed, never a defect", () =>
    Effect.gen(function*() {
      const box = yield* SecretBox
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.string({ unit: "grapheme", maxLength: 200 }), fc.string(), async (value, junk) => {
            const roundTrip = await Effect.runPromise(Effect.flatMap(box.seal(value), box.open))
            assert.strictEqual(Redacted.value(roundTrip), value)
            const exit = await Effect.runPromiseExit(box.open(junk))
            assert.isTrue(Exit.isFailure(exit))
            assert.instanceOf(failureOf(exit), SecretError)
          }),
          { numRuns: 200 }
        )
      )
    }).pipe(Effect.provide(boxWith(KEY_A))))
})
