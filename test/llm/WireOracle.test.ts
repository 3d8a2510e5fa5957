/**
 * The wire fixtures (`support/WireFixtures.ts`, troupe's own, in the providers' documented shapes) replayed byte for
 * byte by the fake server — whole, one byte per write, and cut in the middle of every multi-byte UTF-8 character —
 * through troupe's providers and through the official `openai` and `@anthropic-ai/sdk` clients as oracles: the
 * same bytes give the same text, tool calls, finish reason and usage (or both fail, with the same message).
 */
import Anthropic from "@anthropic-ai/sdk"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { gzipSync } from "node:zlib"
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach } from "vitest"
import type { LlmProviderShape, LlmRequest, LlmStreamPart, ToolCall, Usage } from "../../src/llm/index.ts"
import { AnthropicProvider, OpenAiCompatibleProvider, StreamAccumulator } from "../../src/llm/index.ts"
import { anthropicFinishReason } from "../../src/llm/internal/AnthropicWire.ts"
import { openAiFinishReason } from "../../src/llm/internal/OpenAiWire.ts"
import { parseToolArguments, usageFrom } from "../../src/llm/LlmResponse.ts"
import type { WriteMode } from "./support/FakeProviderServer.ts"
import { FakeProviderServer } from "./support/FakeProviderServer.ts"
import type { WireFixture } from "./support/WireFixtures.ts"
import { wireFixtures } from "./support/WireFixtures.ts"

const KEY = "sk-oracle-0123456789abcdef"
const MODES: ReadonlyArray<WriteMode> = ["whole", "bytes", "utf8-split"]

const request: LlmRequest = {
  model: "fixture-model",
  messages: [{ role: "user", content: "Weather?" }],
  params: { maxTokens: 256 }
}

/** What both sides are compared on. */
type Reading =
  | {
    readonly _tag: "answer"
    readonly text: string
    readonly toolCalls: ReadonlyArray<ToolCall>
    readonly finishReason: string
    readonly usage: Usage
  }
  | { readonly _tag: "error"; readonly message: string }

const errorMessage = (u: unknown): string => (u instanceof Error ? u.message : String(u))

// ---- the oracles: the SDKs' own readings, mapped onto troupe's vocabulary field for field --------------------

const openAiUsage = (u: OpenAI.CompletionUsage | undefined | null): Usage =>
  usageFrom({
    inputTokens: u?.prompt_tokens ?? 0,
    outputTokens: u?.completion_tokens ?? 0,
    totalTokens: u?.total_tokens,
    cachedInputTokens: u?.prompt_tokens_details?.cached_tokens ?? undefined,
    reasoningTokens: u?.completion_tokens_details?.reasoning_tokens ?? undefined
  })

const readOpenAiSdk = async (baseURL: string, stream: boolean): Promise<Reading> => {
  const client = new OpenAI({ apiKey: KEY, baseURL, maxRetries: 0 })
  const body = { model: request.model, messages: [{ role: "user" as const, content: "Weather?" }], max_tokens: 256 }
  try {
    const completion = stream
      ? await client.chat.completions.stream({ ...body, stream_options: { include_usage: true } }).finalChatCompletion()
      : await client.chat.completions.create(body)
    const choice = completion.choices[0]
    const calls = (choice?.message.tool_calls ?? []).flatMap((c) =>
      c.type === "function"
        ? [{ id: c.id, name: c.function.name, arguments: parseToolArguments(c.function.arguments) }]
        : []
    )
    return {
      _tag: "answer",
      text: choice?.message.content ?? "",
      toolCalls: calls,
      // an answer without a choice has no finish reason: troupe calls that `other`
      finishReason: choice === undefined ? "other" : openAiFinishReason(choice.finish_reason, calls.length > 0),
      usage: openAiUsage(completion.usage)
    }
  } catch (e) {
    return { _tag: "error", message: errorMessage(e) }
  }
}

const anthropicUsage = (u: Anthropic.Usage): Usage =>
  usageFrom({
    inputTokens: u.input_tokens + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0),
    outputTokens: u.output_tokens,
    cachedInputTokens: u.cache_read_input_tokens ?? undefined,
    cacheWriteInputTokens: u.cache_creation_input_tokens ?? undefined
  })

const readAnthropicSdk = async (baseURL: string, stream: boolean): Promise<Reading> => {
  const client = new Anthropic({ apiKey: KEY, baseURL, maxRetries: 0 })
  const body = { model: request.model, max_tokens: 256, messages: [{ role: "user" as const, content: "Weather?" }] }
  try {
    const message = stream ? await client.messages.stream(body).finalMessage() : await client.messages.create(body)
    let text = ""
    const calls: Array<ToolCall> = []
    for (const block of message.content) {
      if (block.type === "text") text += block.text
      if (block.type === "tool_use") {
        calls.push({ id: block.id, name: block.name, arguments: block.input as ToolCall["arguments"] })
      }
    }
    return {
      _tag: "answer",
      text,
      toolCalls: calls,
      finishReason: anthropicFinishReason(message.stop_reason, calls.length > 0),
      usage: anthropicUsage(message.usage)
    }
  } catch (e) {
    return { _tag: "error", message: errorMessage(e) }
  }
}

// ---- troupe ----------------------------------------------------------------------------------------------------

/** Every ToolCallStart gets its ToolCall and exactly one Finish comes last. */
const assertStreamInvariants = (parts: ReadonlyArray<LlmStreamPart>): void => {
  const started = parts.flatMap((p) => (p._tag === "ToolCallStart" ? [p.index] : []))
  const completed = parts.flatMap((p) => (p._tag === "ToolCall" ? [p.index] : []))
  assert.deepStrictEqual([...completed].sort(), [...started].sort(), "every started tool call completes")
  assert.strictEqual(parts.filter((p) => p._tag === "Finish").length, 1)
  assert.strictEqual(parts.at(-1)?._tag, "Finish")
}

const readTroupe = (provider: LlmProviderShape, stream: boolean): Effect.Effect<Reading> => {
  const answer = stream
    ? Stream.runCollect(provider.stream(request)).pipe(Effect.map((parts) => {
      assertStreamInvariants(parts)
      const acc = new StreamAccumulator()
      parts.forEach((p) => acc.add(p))
      const response = acc.response()
      if (response === undefined) throw new Error("no Finish part")
      return response
    }))
    : provider.generate(request)
  return answer.pipe(
    Effect.map((r): Reading => ({
      _tag: "answer",
      text: r.text,
      toolCalls: r.toolCalls,
      finishReason: r.finishReason,
      usage: r.usage
    })),
    Effect.catch((e) =>
      Effect.succeed<Reading>({ _tag: "error", message: `${e._tag} ${String(e.retryable)} ${e.message}` })
    )
  )
}

// ---- the suite -------------------------------------------------------------------------------------------------

describe("wire fixtures: troupe reads the bytes as the official SDKs do", () => {
  let server: FakeProviderServer
  beforeAll(async () => {
    server = await FakeProviderServer.start()
  })
  afterAll(() => server.close())
  beforeEach(() => server.reset())

  const enqueue = (fixture: WireFixture, write: WriteMode) => {
    const raw = new TextEncoder().encode(fixture.body)
    server.enqueue({
      kind: "raw",
      headers: { ...fixture.headers, ...(fixture.gzip === true ? { "content-encoding": "gzip" } : {}) },
      body: fixture.gzip === true ? new Uint8Array(gzipSync(raw)) : raw,
      write
    })
  }

  const makeProvider = (fixture: WireFixture) =>
    (fixture.wire === "openai" ? OpenAiCompatibleProvider.make : AnthropicProvider.make)({
      baseUrl: server.baseUrl,
      apiKey: Redacted.make(KEY),
      timeout: 5000
    })

  for (const fixture of wireFixtures) {
    for (const write of MODES) {
      it.live(`${fixture.name} [${write}]`, () =>
        Effect.gen(function*() {
          enqueue(fixture, write)
          const provider = yield* makeProvider(fixture)
          const troupe = yield* readTroupe(provider, fixture.stream)
          enqueue(fixture, write)
          const sdk = yield* Effect.promise(() =>
            fixture.wire === "openai"
              ? readOpenAiSdk(server.baseUrl, fixture.stream)
              : readAnthropicSdk(server.baseUrl.replace(/\/v1$/, ""), fixture.stream)
          )
          const expected = fixture.expect
          if (expected._tag === "error") {
            assert.strictEqual(troupe._tag, "error", `troupe should fail: ${JSON.stringify(troupe)}`)
            assert.strictEqual(sdk._tag, "error", `the SDK should fail: ${JSON.stringify(sdk)}`)
            if (troupe._tag === "error" && sdk._tag === "error") {
              assert.include(troupe.message, `${expected.errorTag} ${String(expected.retryable)}`)
              assert.include(troupe.message, expected.messageIncludes)
              assert.include(sdk.message, expected.messageIncludes)
            }
            return
          }
          assert.strictEqual(troupe._tag, "answer", JSON.stringify(troupe))
          assert.strictEqual(sdk._tag, "answer", JSON.stringify(sdk))
          if (troupe._tag !== "answer" || sdk._tag !== "answer") return
          // troupe reads what the fixture means
          assert.strictEqual(troupe.text, expected.text)
          assert.deepStrictEqual(troupe.toolCalls, expected.toolCalls)
          assert.strictEqual(troupe.finishReason, expected.finishReason)
          assert.deepStrictEqual(troupe.usage, expected.usage)
          // and the SDK reads the same bytes the same way
          assert.strictEqual(sdk.text, troupe.text)
          if (expected.argumentsComparable === false) {
            assert.deepStrictEqual(
              sdk.toolCalls.map((c) => [c.id, c.name]),
              troupe.toolCalls.map((c) => [c.id, c.name])
            )
          } else {
            assert.deepStrictEqual(sdk.toolCalls, troupe.toolCalls)
          }
          assert.strictEqual(sdk.finishReason, troupe.finishReason)
          assert.deepStrictEqual(sdk.usage, troupe.usage)
        }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
    }
  }
})
