import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted } from "effect"
import { ConfigStore } from "../../src/config/index.ts"
import { KeyProvider, SecretBox } from "../../src/identity/index.ts"
import { storeLayer } from "./support.ts"

const KEY = "e".repeat(64)
const boxLayer = SecretBox.layer.pipe(Layer.provide(KeyProvider.layerStatic({ current: KEY })))
const API_KEY = "sk-encrypted-at-rest-0123456789"

const seal = (value: string) =>
  Effect.runPromise(
    Effect.gen(function*() {
      return yield* (yield* SecretBox).seal(value)
    }).pipe(Effect.provide(boxLayer))
  )

const readKey = (files: Map<string, string>, withBox: boolean) =>
  Effect.gen(function*() {
    const box = yield* SecretBox
    const layer = storeLayer({ configFile: "/c.json", files, ...(withBox ? { openSecret: box.open } : {}) })
    return yield* Effect.gen(function*() {
      const config = yield* (yield* ConfigStore).get
      return config.providers["openai"]?.apiKey
    }).pipe(Effect.provide(layer))
  }).pipe(Effect.provide(boxLayer))

describe("config: encrypted secrets (enc:v1 envelopes)", () => {
  it.effect("the config loader opens an enc:v1 envelope at a secret path; the value exists only as Redacted", () =>
    Effect.gen(function*() {
      const envelope = yield* Effect.promise(() => seal(API_KEY))
      const files = new Map([["/c.json", JSON.stringify({ providers: { openai: { apiKey: envelope } } })]])
      const key = yield* readKey(files, true)
      assert.isTrue(key !== undefined && Redacted.isRedacted(key))
      assert.strictEqual(Redacted.value(key!), API_KEY)
    }))

  it.effect("an envelope without a key provider, or a tampered one, fails loading with ConfigSourceError naming the path", () =>
    Effect.gen(function*() {
      const envelope = yield* Effect.promise(() => seal(API_KEY))
      const files = new Map([["/c.json", JSON.stringify({ providers: { openai: { apiKey: envelope } } })]])
      const without = yield* Effect.exit(readKey(files, false))
      assert.isTrue(Exit.isFailure(without))
      assert.include(String(without), "providers.openai.apiKey")
      const tampered = envelope.slice(0, -2) + (envelope.endsWith("AA") ? "BB" : "AA")
      const bad = new Map([["/c.json", JSON.stringify({ providers: { openai: { apiKey: tampered } } })]])
      const exit = yield* Effect.exit(readKey(bad, true))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(exit), "tampered")
      assert.notInclude(String(exit), tampered)
    }))
})
