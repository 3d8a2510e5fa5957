/** Tests of response-cache keys: canonical JSON, SHA-256 keys, normalisation, request validation. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { createHash } from "node:crypto"
import {
  canonicalJson,
  hashRequest,
  hashRequestFields,
  makeResponseKey,
  modelPrefix,
  type ResponseKeyInput
} from "../../src/cache/ResponseKey.ts"

// The definition of canonical JSON, written the obvious way: the fast serializer must produce exactly this.
const referenceCanonicalJson = (value: unknown): string => {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null"
  if (Array.isArray(value)) {
    return `[${value.map((v) => (v === undefined ? "null" : referenceCanonicalJson(v))).join(",")}]`
  }
  const record = value as Record<string, unknown>
  const members = Object.keys(record).filter((k) => record[k] !== undefined).sort()
  return `{${members.map((k) => `${JSON.stringify(k)}:${referenceCanonicalJson(record[k])}`).join(",")}}`
}

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
    assert.strictEqual(
      canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: undefined } }),
      `{"a":{"d":[2,{"e":0,"f":1}]},"b":1}`
    )
  })

  it("canonical JSON is JSON.stringify with sorted keys, for any value (escapes, lone surrogates, -0, undefined)", () => {
    fc.assert(
      fc.property(
        fc.anything({ withObjectString: true, withNullPrototype: true, maxDepth: 4 }),
        (v) => canonicalJson(v) === referenceCanonicalJson(v)
      ),
      { numRuns: 600 }
    )
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.jsonValue({ maxDepth: 2 }), (s, v) => {
        const value = { [s]: [s, v], z: { [s]: s } }
        return canonicalJson(value) === referenceCanonicalJson(value)
      }),
      { numRuns: 600 }
    )
  })

  it("hashRequestFields is hashRequest of the same record, without building it", () => {
    const json = fc.jsonValue({ maxDepth: 2 })
    const message = fc.record({
      role: fc.string({ minLength: 1 }),
      content: fc.oneof(fc.string({ unit: "binary" }), fc.array(json))
    })
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.string({ minLength: 1, unit: "binary" }),
        fc.array(message),
        fc.dictionary(fc.string(), json),
        fc.option(fc.array(json), { nil: undefined }),
        fc.option(json, { nil: undefined }),
        (provider, model, messages, params, tools, toolChoice) => {
          const record = {
            provider,
            model,
            messages,
            params,
            ...(tools !== undefined ? { tools } : {}),
            ...(toolChoice !== undefined ? { toolChoice } : {})
          } as ResponseKeyInput
          return hashRequest(record) === hashRequestFields(provider, model, messages, params, tools, toolChoice)
        }
      ),
      { numRuns: 1000 }
    )
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
      const reordered = {
        params: { maxTokens: 100, temperature: 0 },
        messages: base.messages,
        modelVersion: "2024-08-06",
        model: "gpt-4o",
        provider: "openai"
      }
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
      const parts = {
        ...base,
        messages: [{ role: "user", content: [{ type: "text", text: "What is\tthe capital of France?" }] }]
      }
      assert.notStrictEqual(yield* key(spaced), yield* key(tidy))
      assert.strictEqual(yield* key(spaced, true), yield* key(tidy, true))
      assert.strictEqual(yield* key(base, true), yield* key(tidy, true))
      assert.notStrictEqual(yield* key(parts, true), yield* key(tidy, true)) // parts stay parts
      assert.strictEqual(
        yield* key(parts, true),
        yield* key({
          ...parts,
          messages: [{ role: "user", content: [{ type: "text", text: "What is the capital of France?" }] }]
        }, true)
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
      assert.strictEqual(e1.path, "messages[0].role")
      const e2 = yield* Effect.flip(key({ provider: "openai", messages: [] }))
      assert.strictEqual(e2.path, "model")
      const e3 = yield* Effect.flip(key({ ...base, params: { temperature: Number.NaN } }))
      assert.strictEqual(e3.path, "params.temperature")
    }))
})
