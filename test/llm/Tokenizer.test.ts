import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, type Schema } from "effect"
import * as fc from "fast-check"
import { encode as encodeO200k } from "gpt-tokenizer/encoding/o200k_base"
import { estimateRequestTokens, type LlmRequest, Tokenizer } from "../../src/llm/index.ts"
import { jsonLength } from "../../src/llm/TokenEstimate.ts"
import type { LlmCallInput } from "../../src/pipeline/index.ts"
import { Llm } from "../../src/pipeline/index.ts"
import { CountingProvider, pipelineLayer } from "../pipeline/support.ts"

const request: LlmRequest = {
  model: "gpt-4o-mini",
  messages: [{ role: "system", content: "Be terse." }, {
    role: "user",
    content: "What is the weather in Oslo, Norway, tomorrow morning?"
  }]
}

describe("TokenCounter", () => {
  it("bpe counts OpenAI BPE tokens (tiktoken's recipe: 3 per message, 3 to prime the reply)", () => {
    assert.strictEqual(Tokenizer.bpe.countText("hello world", "gpt-4o"), 2)
    const expected = 3 + (3 + encodeO200k("Be terse.").length) +
      (3 + encodeO200k("What is the weather in Oslo, Norway, tomorrow morning?").length)
    assert.strictEqual(Tokenizer.bpe.countRequest(request), expected)
    assert.strictEqual(Tokenizer.encodingOf("openai:gpt-4o-mini"), "o200k_base")
    assert.strictEqual(Tokenizer.encodingOf("gpt-4-turbo"), "cl100k_base")
    assert.strictEqual(Tokenizer.encodingOf("gpt-3.5-turbo"), "cl100k_base")
    assert.strictEqual(Tokenizer.charEstimate.countRequest(request), estimateRequestTokens(request))
  })

  it("never throws on any text (fuzz)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 500 }), (text) => {
        const n = Tokenizer.bpe.countText(text, "gpt-4o")
        return Number.isInteger(n) && n >= 0 && n <= Math.max(1, text.length * 4)
      }),
      { numRuns: 200 }
    )
  })

  it("counting a request never throws: tool-call arguments too deep for JSON.stringify are counted by their JSON length", () => {
    let deep: Schema.Json = "leaf"
    for (let i = 0; i < 200_000; i++) deep = [deep]
    const shallow: Schema.Json = [[["leaf"]]]
    const withArgs = (args: Schema.Json): LlmRequest => ({
      model: "gpt-4o",
      messages: [{ role: "user", content: "go" }, {
        role: "assistant",
        content: "",
        toolCalls: [{ id: "c1", name: "echo", arguments: args }]
      }]
    })
    // the JSON text of `deep` is 200,000 × "[]" around "\"leaf\"": about 400,006 characters
    const chars = 2 * 200_000 + 6
    // "go" + "" + "echo" + the arguments, at 4 characters per token, and 3 tokens per message
    assert.strictEqual(estimateRequestTokens(withArgs(shallow)), Math.ceil((2 + 4 + 12) / 4) + 6)
    assert.strictEqual(estimateRequestTokens(withArgs(deep)), Math.ceil((2 + 4 + chars) / 4) + 6)
    assert.strictEqual(jsonLength(shallow), JSON.stringify(shallow).length)
    assert.strictEqual(jsonLength(deep), chars)
    const counted = Tokenizer.bpe.countRequest(withArgs(deep))
    assert.isTrue(Number.isInteger(counted) && counted >= Math.ceil(chars / 4))
  })

  it("jsonLength is the length of the JSON text of any JSON value (fuzz)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => jsonLength(value as Schema.Json) === JSON.stringify(value).length),
      { numRuns: 300 }
    )
  })

  const ask = (content: string): LlmCallInput =>
    ({ model: "fast", messages: [{ role: "user", content }], options: { cache: "bypass" } }) as LlmCallInput

  it.effect("the rate limit reserves the counter's estimate; the estimate is reported beside the actual usage", () => {
    const primary = new CountingProvider("primary")
    const text = "Tokenizers split text into sub-word units; the estimate should follow them."
    return Effect.gen(function*() {
      const llm = yield* Llm
      const result = yield* llm.generate(ask(text))
      assert.strictEqual(
        result.meta.estimatedInputTokens,
        Tokenizer.bpe.countRequest({ model: "model-a", messages: [{ role: "user", content: text }] })
      )
      assert.notStrictEqual(
        result.meta.estimatedInputTokens,
        estimateRequestTokens({ model: "model-a", messages: [{ role: "user", content: text }] })
      )
      assert.isAbove(result.usage.inputTokens, 0) // the provider's actual count, kept beside the estimate
    }).pipe(
      Effect.provide(
        pipelineLayer([primary.provider], { rateLimit: { mode: "check" } }).pipe(Layer.provide(Tokenizer.layerBpe))
      )
    )
  })

  it.effect("without a counter the default estimate (~4 characters per token) is used", () => {
    const primary = new CountingProvider("primary")
    return Effect.gen(function*() {
      const result = yield* (yield* Llm).generate(ask("x".repeat(200)))
      assert.strictEqual(
        result.meta.estimatedInputTokens,
        estimateRequestTokens({ model: "model-a", messages: [{ role: "user", content: "x".repeat(200) }] })
      )
    }).pipe(Effect.provide(pipelineLayer([primary.provider], { rateLimit: { mode: "check" } })))
  })
})
