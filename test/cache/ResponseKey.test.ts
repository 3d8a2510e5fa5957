/** Tests of response-cache keys: canonical JSON, SHA-256 keys, normalisation, request validation. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { canonicalJson, makeResponseKey, modelPrefix, type ResponseKeyInput } from "../../src/cache/ResponseKey.ts"

const base: ResponseKeyInput = {
  provider: "openai",
  model: "gpt-4o",
  modelVersion: "2024-08-06",
  messages: [{ role: "user", content: "What is  the\ncapital of France?" }],
  params: { temperature: 0, maxTokens: 100 }
}
const key = (request: unknown, normalize = false) => makeResponseKey(request, { namespace: "llm", normalize })

describe("ResponseKey", () => {
  it("canonical JSON sorts keys recursively and drops undefined", () => {
    assert.strictEqual(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: undefined } }), `{"a":{"d":[2,{"e":0,"f":1}]},"b":1}`)
  })

  it.effect("the key is namespace:model:sha256(canonical JSON)", () =>
    Effect.gen(function*() {
      const k = yield* key(base)
      const expected = createHash("sha256").update(canonicalJson(base)).digest("hex")
      assert.strictEqual(k, `llm:gpt-4o:${expected}`)
      assert.isTrue(k.startsWith(modelPrefix("gpt-4o", "llm")))
    }))

  it.effect("key order does not matter; anything that determines the answer does", () =>
    Effect.gen(function*() {
      const reordered = { params: { maxTokens: 100, temperature: 0 }, messages: base.messages, modelVersion: "2024-08-06", model: "gpt-4o", provider: "openai" }
      assert.strictEqual(yield* key(reordered), yield* key(base))
      const variants: Array<ResponseKeyInput> = [
        { ...base, provider: "azure" },
        { ...base, model: "gpt-4o-mini" },
        { ...base, modelVersion: "2024-11-20" },
        { ...base, params: { temperature: 0.7, maxTokens: 100 } },
        { ...base, tools: [{ name: "search", parameters: { type: "object" } }] },
        { ...base, messages: [{ role: "system", content: "What is  the\ncapital of France?" }] }
      ]
      const keys = new Set([yield* key(base), ...(yield* Effect.forEach(variants, (v) => key(v)))])
      assert.strictEqual(keys.size, variants.length + 1)
    }))

  it.effect("whitespace normalisation is optional", () =>
    Effect.gen(function*() {
      const spaced = { ...base, messages: [{ role: "user", content: "  What is the capital   of France? " }] }
      const tidy = { ...base, messages: [{ role: "user", content: "What is the capital of France?" }] }
      const parts = { ...base, messages: [{ role: "user", content: [{ type: "text", text: "What is\tthe capital of France?" }] }] }
      assert.notStrictEqual(yield* key(spaced), yield* key(tidy))
      assert.strictEqual(yield* key(spaced, true), yield* key(tidy, true))
      assert.strictEqual(yield* key(base, true), yield* key(tidy, true))
      assert.notStrictEqual(yield* key(parts, true), yield* key(tidy, true)) // parts stay parts
      assert.strictEqual(
        yield* key(parts, true),
        yield* key({ ...parts, messages: [{ role: "user", content: [{ type: "text", text: "What is the capital of France?" }] }] }, true)
      )
    }))

  it.effect("a model name cannot prefix-match another model", () =>
    Effect.gen(function*() {
      const k = yield* key({ ...base, model: "llama3:8b" })
      assert.isFalse(k.startsWith(modelPrefix("llama3", "llm")))
      assert.isTrue(k.startsWith(modelPrefix("llama3:8b", "llm")))
    }))

  it.effect("an invalid request fails with InvalidResponseRequest naming the field", () =>
    Effect.gen(function*() {
      const e1 = yield* Effect.flip(key({ ...base, messages: [{ role: "", content: "x" }] }))
      assert.strictEqual(e1._tag, "InvalidResponseRequest")
      assert.strictEqual(e1.path, "messages.0.role")
      const e2 = yield* Effect.flip(key({ provider: "openai", messages: [] }))
      assert.strictEqual(e2.path, "model")
      const e3 = yield* Effect.flip(key({ ...base, params: { temperature: Number.NaN } }))
      assert.strictEqual(e3.path, "params.temperature")
    }))
})
