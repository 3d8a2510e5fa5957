/**
 * The request bodies the wire encoders build, as pure functions, and the usage they price: reasoning models,
 * OpenAI's own API, the rules each body keeps for any request (fast-check), and costs with cache writes and
 * provider totals.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import fc from "fast-check"
import { LlmRequest } from "../../src/llm/index.ts"
import type { Usage } from "../../src/llm/index.ts"
import { encodeAnthropicBody } from "../../src/llm/internal/AnthropicWire.ts"
import { encodeOpenAiBody, isReasoningModel, maxTokensField } from "../../src/llm/internal/OpenAiWire.ts"
import { isOfficialOpenAi } from "../../src/llm/OpenAiCompatibleProvider.ts"
import { costOf } from "../../src/pipeline/PriceTable.ts"

describe("OpenAI request bodies", () => {
  it("reasoning models: o-series and gpt-5 (any gateway prefix), not gpt-5-chat or gpt-4o", () => {
    for (
      const m of [
        "o1",
        "o1-mini",
        "o3-mini",
        "o3",
        "o4-mini-2025-04-16",
        "gpt-5",
        "gpt-5-mini",
        "openai/o3-mini",
        "gpt-5.1"
      ]
    ) {
      assert.isTrue(isReasoningModel(m), m)
    }
    for (
      const m of [
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-5-chat-latest",
        "llama-3.1-8b-instant",
        "omni-moderation",
        "deepseek-chat"
      ]
    ) {
      assert.isFalse(isReasoningModel(m), m)
    }
  })

  it("OpenAI's own API takes max_completion_tokens for every model; other servers max_tokens unless reasoning", () => {
    assert.isTrue(isOfficialOpenAi("https://api.openai.com/v1"))
    assert.isTrue(isOfficialOpenAi("https://my-deployment.openai.azure.com/openai"))
    assert.isFalse(isOfficialOpenAi("https://api.groq.com/openai/v1"))
    assert.strictEqual(maxTokensField("gpt-4o-mini", true), "max_completion_tokens")
    assert.strictEqual(maxTokensField("gpt-4o-mini", false), "max_tokens")
    assert.strictEqual(maxTokensField("o3-mini", false), "max_completion_tokens")
    const body = Effect.runSync(
      encodeOpenAiBody(
        { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], params: { maxTokens: 9 } },
        false,
        {
          officialApi: true
        }
      )
    )
    assert.deepStrictEqual([body["max_completion_tokens"], body["max_tokens"]], [9, undefined])
  })
})

/** Arbitrary valid requests (through the Schema's own arbitrary), with the parameters the rules care about. */
const requests = fc.record({
  model: fc.constantFrom("gpt-4o-mini", "o3-mini", "gpt-5", "claude-sonnet-4-5", "llama-3"),
  messages: fc.array(
    fc.oneof(
      fc.record({ role: fc.constant("user" as const), content: fc.constantFrom("", " ", "hi", "Grüße 東京") }),
      fc.record({ role: fc.constant("assistant" as const), content: fc.constantFrom("", "ok") }),
      fc.record({ role: fc.constant("system" as const), content: fc.constantFrom("be terse", "") })
    ),
    { minLength: 1, maxLength: 5 }
  ),
  params: fc.record({
    temperature: fc.option(fc.double({ min: 0, max: 2, noNaN: true }), { nil: undefined }),
    topP: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    maxTokens: fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: undefined }),
    stop: fc.option(fc.array(fc.constantFrom("a", "END", "\n\n"), { maxLength: 8 }), { nil: undefined })
  }, { requiredKeys: [] }),
  toolChoice: fc.option(fc.constantFrom("auto" as const, "none" as const, "required" as const), { nil: undefined })
}).map((r) => JSON.parse(JSON.stringify(r)) as unknown) // drops undefined keys, as a JSON caller would send them

const decode = Schema.decodeUnknownExit(LlmRequest)

describe("wire encoders keep their rules for any request (fuzz)", () => {
  it("OpenAI: at most 4 stop sequences or a typed failure; no sampling for reasoning models; no tool_choice without tools", () => {
    fc.assert(
      fc.property(requests, (input) => {
        const decoded = decode(input)
        if (Exit.isFailure(decoded)) return
        const request = decoded.value
        const exit = Effect.runSyncExit(encodeOpenAiBody(request, false))
        if ((request.params?.stop?.length ?? 0) > 4) {
          assert.isTrue(Exit.isFailure(exit))
          return
        }
        assert.isTrue(Exit.isSuccess(exit))
        if (Exit.isFailure(exit)) return
        const body = exit.value
        assert.notProperty(body, "tool_choice")
        if (isReasoningModel(request.model)) {
          assert.notProperty(body, "temperature")
          assert.notProperty(body, "top_p")
          assert.notProperty(body, "max_tokens")
        }
      }),
      { numRuns: 300 }
    )
  })

  it("Anthropic: temperature > 1 fails typed; never temperature and top_p together; never an empty text block", () => {
    fc.assert(
      fc.property(requests, (input) => {
        const decoded = decode(input)
        if (Exit.isFailure(decoded)) return
        const request = decoded.value
        const exit = Effect.runSyncExit(encodeAnthropicBody(request, false))
        if ((request.params?.temperature ?? 0) > 1) {
          assert.isTrue(Exit.isFailure(exit))
          return
        }
        if (Exit.isFailure(exit)) {
          // only when nothing is left to send
          assert.isTrue(request.messages.every((m) => m.role === "system" || m.content.trim() === ""))
          return
        }
        const body = exit.value
        assert.isFalse("temperature" in body && "top_p" in body)
        const turns = body["messages"] as Array<{ content: Array<{ type: string; text?: string }> }>
        for (const turn of turns) {
          assert.isAbove(turn.content.length, 0)
          for (const block of turn.content) if (block.type === "text") assert.notStrictEqual(block.text?.trim(), "")
        }
      }),
      { numRuns: 300 }
    )
  })
})

describe("costOf prices every usage field", () => {
  const price = { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 }

  it("cache writes at the cache-write price, reads at the cached price, the rest at the input price", () => {
    const usage: Usage = {
      inputTokens: 1_000_000 + 2_000_000 + 4_000_000,
      outputTokens: 1_000_000,
      totalTokens: 8_000_000,
      cachedInputTokens: 4_000_000,
      cacheWriteInputTokens: 2_000_000
    }
    assert.closeTo(costOf(price, usage), 3 + 2 * 3.75 + 4 * 0.3 + 15, 1e-9)
  })

  it("tokens the provider's total counts beyond input + output (xAI reasoning) are priced as output", () => {
    const usage: Usage = { inputTokens: 213, outputTokens: 120, totalTokens: 560, reasoningTokens: 227 }
    assert.closeTo(costOf({ input: 1_000_000, output: 1_000_000 }, usage), 560, 1e-9)
  })
})
