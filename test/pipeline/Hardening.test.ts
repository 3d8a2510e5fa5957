/**
 * Issue 11 (sections 2 and 3) on the pipeline: scripted stand-ins never pose as the real provider, cache keys carry
 * the credential's identity, refusals are their own part and never cached, per-model tables and metric labels are
 * bounded, a call's `timeout` bounds the whole call, streams have a deadline, an idle deadline and a size cap, and
 * hostile usage numbers are never priced.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, FileSystem, Layer, Option, Stream } from "effect"
import { TestClock } from "effect/testing"
import { afterAll, beforeAll, beforeEach } from "vitest"
import { Cache } from "../../src/cache/index.ts"
import { ConfigStore } from "../../src/config/index.ts"
import { LruMap } from "../../src/internal/LruMap.ts"
import type { LlmProviderShape, LlmRequest, LlmResponse, LlmStreamPart } from "../../src/llm/index.ts"
import { makeUsage, ProviderRateLimited, ProviderServerError } from "../../src/llm/index.ts"
import { decodeOpenAiResponse, OpenAiStreamState } from "../../src/llm/internal/OpenAiWire.ts"
import type { LlmCallInput, LlmOutputPart } from "../../src/pipeline/index.ts"
import {
  CallDeadlineExceeded,
  Llm,
  LlmPipeline,
  ProviderRegistry,
  StreamLimitExceeded
} from "../../src/pipeline/index.ts"
import { MAX_MODEL_LABELS } from "../../src/pipeline/internal/LlmTracking.ts"
import { RateLimiter } from "../../src/ratelimit/index.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"
import { FakeProviderServer } from "../llm/support/FakeProviderServer.ts"
import { configLayer, CountingProvider, pipelineLayer, recordEvents } from "./support.ts"

const ask = (content: string, extra: Record<string, unknown> = {}): LlmCallInput =>
  ({ model: "fast", messages: [{ role: "user", content }], ...extra }) as LlmCallInput

const response = (text: string, extra: Partial<LlmResponse> = {}): LlmResponse => ({
  provider: "primary",
  model: "model-a",
  text,
  toolCalls: [],
  finishReason: "stop",
  usage: makeUsage(3, 4),
  ...extra
})

/** A provider named `name` whose `generate` and `stream` are given; counts calls. */
const customProvider = (
  name: string,
  generate: (request: LlmRequest) => Effect.Effect<LlmResponse, ProviderServerError | ProviderRateLimited>,
  stream: (request: LlmRequest) => Stream.Stream<LlmStreamPart, ProviderServerError> = () => Stream.empty
) => {
  const counter = { calls: 0 }
  const provider: LlmProviderShape = {
    name,
    api: "openai-compatible",
    generate: (request) => Effect.suspend(() => (counter.calls++, generate(request))),
    stream: (request) => Stream.suspend(() => (counter.calls++, stream(request)))
  }
  return { provider, counter }
}

const finish = (finishReason: LlmResponse["finishReason"] = "stop"): LlmStreamPart => ({
  _tag: "Finish",
  provider: "primary",
  model: "model-a",
  finishReason,
  usage: makeUsage(1, 1)
})

const collect = (stream: Stream.Stream<LlmOutputPart, unknown>) => Stream.runCollect(stream)

describe("scripted stand-ins (issue 11 §2)", () => {
  let server: FakeProviderServer
  beforeAll(async () => {
    server = await FakeProviderServer.start()
  })
  afterAll(() => server.close())
  beforeEach(() => server.reset())

  const layer = () =>
    LlmPipeline.layer({
      retry: false,
      breaker: false,
      usage: { prices: { "primary:model-a": { input: 100, output: 100 } } }
    }).pipe(
      Layer.provideMerge(Layer.mergeAll(
        ProviderRegistry.layerFromConfig({
          scriptedWhenNoKey: { rules: [{ when: "always", reply: { text: "scripted text" } }] }
        }).pipe(
          Layer.provide(NodeHttpClient.layerUndici)
        ),
        Cache.layerMemory({ maxEntries: 100 }),
        RateLimiter.layerMemory()
      )),
      Layer.provideMerge(
        ConfigStore.layer({
          env: () => ({}),
          defaults: { providers: { primary: { baseUrl: server.baseUrl } }, models: { fast: "primary:model-a" } }
        }).pipe(Layer.provide(FileSystem.layerNoop({})))
      ),
      Layer.provideMerge(TelemetryHub.layer())
    )

  it.live("a scripted answer is labelled scripted, costs 0, and is never served once a real key is set", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      const recorder = yield* recordEvents([["troupe", "llm"]])
      const first = yield* llm.generate(ask("the same prompt"))
      assert.strictEqual(first.text, "scripted text")
      assert.strictEqual(first.provider, "scripted")
      assert.strictEqual(first.meta.provider, "scripted")
      assert.strictEqual(first.meta.standInFor, "primary")
      assert.strictEqual(first.meta.costUsd, 0)
      assert.strictEqual(recorder.named("troupe.llm.call.stop")[0]?.metadata["provider"], "scripted")
      const prometheus = yield* (yield* TelemetryHub).prometheus()
      assert.notMatch(prometheus, /troupe_llm_calls_total\{[^}]*provider="primary"/)
      // cached under the stand-in's key
      assert.isTrue((yield* llm.generate(ask("the same prompt"))).meta.cached)
      // a real key: the same prompt reaches the real provider, not the scripted answer from the cache
      server.defaultReply = { kind: "answer", text: "real text" }
      yield* (yield* ConfigStore).update("providers.primary.apiKey", "sk-real-key-0123456789")
      const real = yield* llm.generate(ask("the same prompt"))
      assert.strictEqual(real.text, "real text")
      assert.isFalse(real.meta.cached)
      assert.strictEqual(real.meta.provider, "primary")
      assert.isUndefined(real.meta.standInFor)
    }).pipe(Effect.provide(layer())))
})

describe("response-cache keys and refusals (issue 11 §2)", () => {
  it.effect("a per-request apiKey is part of the cache key (by its hash): another key never gets the cached answer", () => {
    const primary = new CountingProvider("primary", (n) => ({ text: `answer #${n}` }))
    return Effect.gen(function*() {
      const llm = yield* Llm
      const server = yield* llm.generate(ask("q"))
      const right = yield* llm.generate(ask("q", { options: { apiKey: "key-of-alice-0123456789" } }))
      const wrong = yield* llm.generate(ask("q", { options: { apiKey: "wrong-key-0123456789" } }))
      const again = yield* llm.generate(ask("q", { options: { apiKey: "key-of-alice-0123456789" } }))
      assert.deepStrictEqual([server.text, right.text, wrong.text], ["answer #1", "answer #2", "answer #3"])
      assert.isTrue(again.meta.cached)
      assert.strictEqual(again.text, "answer #2")
      assert.strictEqual(primary.calls, 3)
    }).pipe(Effect.provide(pipelineLayer([primary.provider])))
  })

  it.effect("the response-cache key includes the tenant: another tenant never gets the cached answer", () => {
    const primary = new CountingProvider("primary", (n) => ({ text: `answer #${n}` }))
    return Effect.gen(function*() {
      const llm = yield* Llm
      const acme = yield* llm.generate(ask("q", { options: { tenant: "acme" } }))
      const globex = yield* llm.generate(ask("q", { options: { tenant: "globex" } }))
      const none = yield* llm.generate(ask("q"))
      const again = yield* llm.generate(ask("q", { options: { tenant: "acme" } }))
      assert.deepStrictEqual([acme.text, globex.text, none.text], ["answer #1", "answer #2", "answer #3"])
      assert.isFalse(globex.meta.cached)
      assert.isFalse(none.meta.cached)
      assert.isTrue(again.meta.cached)
      assert.strictEqual(again.text, "answer #1")
      assert.strictEqual(primary.calls, 3)
    }).pipe(Effect.provide(pipelineLayer([primary.provider])))
  })

  it.effect("a refusal (generate) is returned with finish content-filter and never cached", () => {
    const { counter, provider } = customProvider(
      "primary",
      () => Effect.succeed(response("", { finishReason: "content-filter", refusal: "I can't help with that." }))
    )
    return Effect.gen(function*() {
      const llm = yield* Llm
      const first = yield* llm.generate(ask("forbidden"))
      assert.strictEqual(first.refusal, "I can't help with that.")
      assert.strictEqual(first.text, "")
      const second = yield* llm.generate(ask("forbidden"))
      assert.isFalse(second.meta.cached)
      assert.strictEqual(counter.calls, 2)
    }).pipe(Effect.provide(pipelineLayer([provider])))
  })

  it.effect("a streamed refusal is its own part and finish reason, and is never cached", () => {
    const { counter, provider } = customProvider(
      "primary",
      () => Effect.succeed(response("x")),
      () =>
        Stream.fromIterable<LlmStreamPart>([{ _tag: "RefusalDelta", delta: "I can't " }, {
          _tag: "RefusalDelta",
          delta: "help."
        }, finish("content-filter")])
    )
    return Effect.gen(function*() {
      const llm = yield* Llm
      const parts = yield* collect(llm.stream(ask("forbidden")))
      assert.deepStrictEqual(parts.map((p) => p._tag), ["RefusalDelta", "RefusalDelta", "Finish"])
      const last = parts.at(-1)
      assert.strictEqual(last?._tag === "Finish" ? last.finishReason : undefined, "content-filter")
      yield* collect(llm.stream(ask("forbidden")))
      assert.strictEqual(counter.calls, 2)
      const generated = yield* llm.generate(ask("forbidden"))
      assert.isFalse(generated.meta.cached)
    }).pipe(Effect.provide(pipelineLayer([provider])))
  })

  it.effect("OpenAI wire: a streamed refusal becomes RefusalDelta parts and finish content-filter (non-streamed too)", () =>
    Effect.gen(function*() {
      const request: LlmRequest = { model: "gpt-4o", messages: [{ role: "user", content: "x" }] }
      const state = new OpenAiStreamState("openai", request, [])
      const parts = [
        ...(yield* state.onEvent(JSON.stringify({ choices: [{ delta: { role: "assistant", refusal: "" } }] }))),
        ...(yield* state.onEvent(JSON.stringify({ choices: [{ delta: { refusal: "I'm sorry, " } }] }))),
        ...(yield* state.onEvent(
          JSON.stringify({ choices: [{ delta: { refusal: "I can't." }, finish_reason: "stop" }] })
        )),
        ...(yield* state.onEvent("[DONE]"))
      ]
      assert.deepStrictEqual(parts.map((p) => p._tag), ["RefusalDelta", "RefusalDelta", "Finish"])
      const last = parts.at(-1)
      assert.strictEqual(last?._tag === "Finish" ? last.finishReason : undefined, "content-filter")
      const plain = yield* decodeOpenAiResponse("openai", request, {
        choices: [{ message: { content: null, refusal: "I can't." }, finish_reason: "stop" }]
      })
      assert.strictEqual(plain.text, "")
      assert.strictEqual(plain.refusal, "I can't.")
      assert.strictEqual(plain.finishReason, "content-filter")
    }))
})

/** The pipeline over a `wide` provider that accepts any model name (retries off), with the provider to count calls. */
const wideProvider = () => {
  const wide = new CountingProvider("wide")
  const layer = LlmPipeline.layer({ retry: false }).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        ProviderRegistry.layer([wide.provider]),
        Cache.layerMemory({ maxEntries: 10 }),
        RateLimiter.layerMemory()
      )
    ),
    Layer.provideMerge(configLayer({}, { wide: { baseUrl: "http://127.0.0.1:9/v1" } })),
    Layer.provideMerge(TelemetryHub.layer())
  )
  return { layer, wide }
}

describe("bounded tables and metric labels (issue 11 §3)", () => {
  it("LruMap evicts the least recently used entry past its capacity", () => {
    const map = new LruMap<string, number>(2)
    map.set("a", 1)
    map.set("b", 2)
    assert.strictEqual(map.get("a"), 1) // a is now the most recent
    map.set("c", 3)
    assert.isUndefined(map.get("b"))
    assert.strictEqual(map.get("a"), 1)
    assert.strictEqual(map.get("c"), 3)
    assert.strictEqual(map.size, 2)
  })

  it.effect("any provider:<model> name is accepted, but metric labels past the cap share the model label other", () => {
    const { layer, wide } = wideProvider()
    return Effect.gen(function*() {
      const llm = yield* Llm
      const n = MAX_MODEL_LABELS + 72
      for (let i = 0; i < n; i++) {
        yield* llm.generate({ model: `wide:model-${i}`, messages: [{ role: "user", content: "hi" }] })
      }
      const text = yield* (yield* TelemetryHub).prometheus()
      const labels = new Set(
        [...text.matchAll(/troupe_llm_calls_total\{[^}]*provider="wide",model="([^"]+)"/g)].map((m) => m[1])
      )
      assert.isAtMost(labels.size, MAX_MODEL_LABELS + 1)
      assert.isTrue(labels.has("other"))
      const other = /troupe_llm_calls_total\{[^}]*provider="wide",model="other"[^}]*\} (\d+)/.exec(text)?.[1]
      assert.strictEqual(Number(other), n - MAX_MODEL_LABELS)
      const components = (yield* (yield* TelemetryHub).stats()).filter((c) => c.component.startsWith("llm:wide:"))
      assert.isAtMost(components.length, MAX_MODEL_LABELS + 1)
      assert.strictEqual(wide.calls, n)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a 600-character model name is rate limited like any other (its limiter key is hashed), never a defect", () => {
    const { layer, wide } = wideProvider()
    return Effect.gen(function*() {
      const result = yield* (yield* Llm).generate({
        model: `wide:${"x".repeat(600)}`,
        messages: [{ role: "user", content: "hi" }]
      })
      assert.strictEqual(result.meta.provider, "wide")
    }).pipe(Effect.provide(layer))
  })
})

describe("deadlines (issue 11 §3)", () => {
  it.effect("options.timeout bounds the whole call: no retry is made that would end past it", () => {
    const { counter, provider } = customProvider(
      "primary",
      () =>
        Effect.fail(new ProviderServerError({ provider: "primary", description: "503", status: 503, retryable: true }))
    )
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        Effect.exit((yield* Llm).generate(ask("q", { options: { timeout: 1500 } })))
      )
      yield* TestClock.adjust("1500 millis")
      const exit = yield* Fiber.join(fiber)
      // attempt at 0, retry after 1 s, the next backoff (2 s) would end past 1.5 s: fails with the provider's error
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(
        Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit))?._tag : undefined,
        "ProviderServerError"
      )
      assert.strictEqual(counter.calls, 2)
    }).pipe(Effect.provide(pipelineLayer([provider], { breaker: false })))
  })

  it.effect("a Retry-After longer than the time left fails at once instead of sleeping", () => {
    const { counter, provider } = customProvider(
      "primary",
      () =>
        Effect.fail(
          new ProviderRateLimited({ provider: "primary", description: "429", retryable: true, retryAfterMillis: 5000 })
        )
    )
    return Effect.gen(function*() {
      const exit = yield* Effect.exit((yield* Llm).generate(ask("q", { options: { timeout: 1000 } })))
      assert.strictEqual(
        Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit))?._tag : undefined,
        "ProviderRateLimited"
      )
      assert.strictEqual(counter.calls, 1)
    }).pipe(Effect.provide(pipelineLayer([provider], { breaker: false })))
  })

  it.effect("a call that hangs fails with CallDeadlineExceeded at its timeout (default deadline otherwise)", () => {
    const { provider } = customProvider("primary", () => Effect.never)
    return Effect.gen(function*() {
      const llm = yield* Llm
      const timed = yield* Effect.forkChild(Effect.exit(llm.generate(ask("q", { options: { timeout: 1000 } }))))
      const untimed = yield* Effect.forkChild(Effect.exit(llm.generate(ask("other"))))
      yield* TestClock.adjust("1000 millis")
      const exit = yield* Fiber.join(timed)
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit)) : undefined
      assert.instanceOf(error, CallDeadlineExceeded)
      yield* TestClock.adjust("2 minutes")
      const late = yield* Fiber.join(untimed)
      assert.instanceOf(
        Exit.isFailure(late) ? Option.getOrUndefined(Exit.findErrorOption(late)) : undefined,
        CallDeadlineExceeded
      )
    }).pipe(Effect.provide(pipelineLayer([provider], { breaker: false })))
  })
})

describe("stream limits (issue 11 §3)", () => {
  const endless = () =>
    Stream.fromEffect(
      Effect.succeed<LlmStreamPart>({ _tag: "TextDelta", delta: "spam " }).pipe(Effect.delay("100 millis"))
    ).pipe(Stream.forever)

  it.effect("an endless stream ends with StreamLimitExceeded(deadline) at the call's timeout", () => {
    const { provider } = customProvider("primary", () => Effect.never, endless)
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        Effect.exit(Stream.runDrain((yield* Llm).stream(ask("q", { options: { timeout: 1500 } }))))
      )
      yield* TestClock.adjust("1500 millis")
      const exit = yield* Fiber.join(fiber)
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit)) : undefined
      assert.instanceOf(error, StreamLimitExceeded)
      assert.strictEqual((error as StreamLimitExceeded).limit, "deadline")
    }).pipe(Effect.provide(pipelineLayer([provider], { breaker: false })))
  })

  it.effect("a stream that goes quiet ends with StreamLimitExceeded(idle)", () => {
    const { provider } = customProvider(
      "primary",
      () => Effect.never,
      () => Stream.concat(Stream.make({ _tag: "TextDelta", delta: "hello" } as LlmStreamPart), Stream.never)
    )
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.exit(Stream.runDrain((yield* Llm).stream(ask("q")))))
      yield* TestClock.adjust("100 millis")
      yield* TestClock.adjust("500 millis")
      const exit = yield* Fiber.join(fiber)
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit)) : undefined
      assert.strictEqual(error instanceof StreamLimitExceeded ? error.limit : undefined, "idle")
    }).pipe(Effect.provide(pipelineLayer([provider], { breaker: false, limits: { streamIdle: 500 } })))
  })

  it.effect("a stream past maxStreamChars ends with StreamLimitExceeded(size)", () => {
    const { provider } = customProvider(
      "primary",
      () => Effect.never,
      () =>
        Stream.fromEffect(Effect.succeed<LlmStreamPart>({ _tag: "TextDelta", delta: "x".repeat(300) })).pipe(
          Stream.forever
        )
    )
    return Effect.gen(function*() {
      const exit = yield* Effect.exit(Stream.runCollect((yield* Llm).stream(ask("q"))))
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit)) : undefined
      assert.strictEqual(error instanceof StreamLimitExceeded ? error.limit : undefined, "size")
    }).pipe(Effect.provide(pipelineLayer([provider], { breaker: false, limits: { maxStreamChars: 1000 } })))
  })
})

describe("hostile usage numbers (issue 11 §3)", () => {
  it.effect("negative, fractional or huge token counts are never priced (cost unknown, not negative or infinite)", () =>
    Effect.gen(function*() {
      for (
        const usage of [
          { inputTokens: -1000, outputTokens: 5, totalTokens: -995 },
          { inputTokens: 1e308, outputTokens: 1e308, totalTokens: Infinity },
          { inputTokens: 1.5, outputTokens: 2, totalTokens: 3.5 }
        ]
      ) {
        const { provider } = customProvider("primary", () => Effect.succeed(response("ok", { usage })))
        const result = yield* Effect.provide(
          Llm.use((llm) => llm.generate(ask("q"))),
          pipelineLayer([provider], { usage: { prices: { "primary:model-a": { input: 1, output: 2 } } } })
        )
        assert.isUndefined(result.meta.costUsd)
      }
    }))

  it.effect("the OpenAI wire rejects a hostile usage count with a typed error", () =>
    Effect.gen(function*() {
      const request: LlmRequest = { model: "gpt-4o", messages: [{ role: "user", content: "x" }] }
      for (const prompt_tokens of [-5, 1e308, 1.5]) {
        const exit = yield* Effect.exit(decodeOpenAiResponse("openai", request, {
          choices: [{ message: { content: "hi" }, finish_reason: "stop" }],
          usage: { prompt_tokens, completion_tokens: 1 }
        }))
        assert.strictEqual(
          Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit))?._tag : undefined,
          "MalformedResponse"
        )
      }
    }))
})
