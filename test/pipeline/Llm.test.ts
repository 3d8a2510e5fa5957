import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Option, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Cache, makeResponseCache } from "../../src/cache/index.ts"
import type { LlmRequest } from "../../src/llm/index.ts"
import { AuthenticationFailed, ProviderRateLimited, ProviderServerError, Tokenizer } from "../../src/llm/index.ts"
import type { LlmCallInput } from "../../src/pipeline/index.ts"
import { Llm } from "../../src/pipeline/index.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"
import { CountingProvider, pipelineLayer, recordEvents } from "./support.ts"

const ask = (content: string, extra: Record<string, unknown> = {}): LlmCallInput =>
  ({ model: "fast", messages: [{ role: "user", content }], ...extra }) as LlmCallInput

/** Lets forked fibers run up to their next sleep. */
const settle = Effect.repeat(Effect.yieldNow, { times: 20 })

describe("Llm pipeline", () => {
  it.effect("generate answers through every step, with usage, cost and routing metadata", () => {
    const primary = new CountingProvider("primary")
    return Effect.gen(function*() {
      const llm = yield* Llm
      const result = yield* llm.generate(ask("hello there"))
      assert.strictEqual(result.text, "answer from primary")
      assert.strictEqual(result.meta.provider, "primary")
      assert.strictEqual(result.meta.model, "model-a")
      assert.strictEqual(result.meta.requested, "fast")
      assert.isFalse(result.meta.cached)
      assert.strictEqual(result.meta.attempts, 1)
      assert.strictEqual(result.meta.fallbackIndex, 0)
      assert.isAbove(result.usage.totalTokens, 0)
    }).pipe(
      Effect.provide(
        pipelineLayer([primary.provider], { usage: { prices: { "primary:model-a": { input: 1, output: 2 } } } })
      )
    )
  })

  it.effect("cost in USD comes from the price table", () => {
    const primary = new CountingProvider("primary")
    return Effect.gen(function*() {
      const result = yield* (yield* Llm).generate(ask("price me"))
      const expected = (result.usage.inputTokens * 1 + result.usage.outputTokens * 2) / 1_000_000
      assert.closeTo(result.meta.costUsd ?? -1, expected, 1e-12)
    }).pipe(
      Effect.provide(
        pipelineLayer([primary.provider], { usage: { prices: { "primary:model-a": { input: 1, output: 2 } } } })
      )
    )
  })

  it.effect("an LLM call emits telemetry: call start/stop and token usage with GenAI metadata and cost", () => {
    const primary = new CountingProvider("primary")
    return Effect.gen(function*() {
      const recorder = yield* recordEvents([["troupe", "llm"]])
      yield* (yield* Llm).generate(ask("telemetry please"))
      assert.lengthOf(recorder.named("troupe.llm.call.start"), 1)
      const stop = recorder.named("troupe.llm.call.stop")[0]
      assert.strictEqual(stop?.metadata["provider"], "primary")
      assert.strictEqual(stop?.metadata["model"], "model-a")
      assert.isAbove(Number(stop?.measurements["input_tokens"]), 0)
      const usage = recorder.named("troupe.llm.token.usage")[0]
      assert.isAbove(Number(usage?.measurements["total_tokens"]), 0)
      assert.isDefined(usage?.measurements["cost"])
    }).pipe(
      Effect.provide(
        pipelineLayer([primary.provider], { usage: { prices: { "primary:model-a": { input: 1, output: 2 } } } })
      )
    )
  })

  it.effect("the estimate and the actual usage are both recorded: on the result, the call's stop event and its span", () => {
    const primary = new CountingProvider("primary")
    const call = ask("how many tokens is this question, roughly?")
    const expected = Tokenizer.charEstimate.countRequest(call as LlmRequest, "model-a")
    return Effect.gen(function*() {
      const recorder = yield* recordEvents([["troupe", "llm"]])
      const result = yield* (yield* Llm).generate(call)
      assert.strictEqual(result.meta.estimatedInputTokens, expected)
      assert.isAbove(result.usage.inputTokens, 0)
      const stop = recorder.named("troupe.llm.call.stop")[0]
      assert.strictEqual(stop?.measurements["estimated_input_tokens"], expected)
      assert.strictEqual(stop?.measurements["input_tokens"], result.usage.inputTokens)
      assert.strictEqual(recorder.named("troupe.llm.token.usage")[0]?.measurements["estimated_input_tokens"], expected)
      // a stream records its estimate the same way
      const parts = yield* Stream.runCollect((yield* Llm).stream(ask("and streamed?")))
      const finish = [...parts].find((p) => p._tag === "Finish")
      assert.isAbove(finish?._tag === "Finish" ? finish.meta.estimatedInputTokens ?? 0 : 0, 0)
      assert.isDefined(recorder.named("troupe.llm.call.stop")[1]?.measurements["estimated_input_tokens"])
    }).pipe(Effect.provide(pipelineLayer([primary.provider])))
  })

  it.effect("the estimate comes from the TokenCounter hook: with Tokenizer.layerBpe it is the BPE count", () => {
    const primary = new CountingProvider("primary")
    const call = ask("Tokenizers split text into subword units, so this count is not length / 4.")
    return Effect.gen(function*() {
      const result = yield* (yield* Llm).generate(call)
      assert.strictEqual(result.meta.estimatedInputTokens, Tokenizer.bpe.countRequest(call as LlmRequest, "model-a"))
      assert.notStrictEqual(result.meta.estimatedInputTokens, Tokenizer.charEstimate.countRequest(call as LlmRequest))
    }).pipe(Effect.provide(pipelineLayer([primary.provider])), Effect.provide(Tokenizer.layerBpe))
  })

  it.effect("metrics are collected: calls, tokens and cost in the Prometheus exposition", () => {
    const primary = new CountingProvider("primary")
    return Effect.gen(function*() {
      const llm = yield* Llm
      const hub = yield* TelemetryHub
      // the metric registry is process-wide: compare before and after
      const calls = (text: string) =>
        Number(/troupe_llm_calls_total\{[^}]*provider="primary",model="model-a"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0)
      const before = calls(yield* hub.prometheus())
      yield* llm.generate(ask("one"))
      yield* llm.generate(ask("two"))
      const text = yield* hub.prometheus()
      assert.strictEqual(calls(text) - before, 2)
      assert.match(text, /troupe_llm_tokens_total\{[^}]*model="model-a"/)
      assert.match(text, /troupe_llm_cost_usd_total/)
    }).pipe(
      Effect.provide(
        pipelineLayer([primary.provider], { usage: { prices: { "primary:model-a": { input: 1, output: 2 } } } })
      )
    )
  })

  it.effect("a cache hit returns the cached response without calling the provider", () => {
    const primary = new CountingProvider("primary", (n) => ({ text: `answer #${n}` }))
    return Effect.gen(function*() {
      const llm = yield* Llm
      const first = yield* llm.generate(ask("same question"))
      const second = yield* llm.generate(ask("same question"))
      assert.strictEqual(primary.calls, 1)
      assert.strictEqual(second.text, first.text)
      assert.isTrue(second.meta.cached)
      assert.strictEqual(second.meta.attempts, 0)
      assert.strictEqual(second.meta.costUsd, 0)
      // bypass skips the cache; another tenant has its own entries
      const bypassed = yield* llm.generate(ask("same question", { options: { cache: "bypass" } }))
      assert.strictEqual(bypassed.text, "answer #2")
      const tenant = yield* llm.generate(ask("same question", { options: { tenant: "acme" } }))
      assert.strictEqual(tenant.text, "answer #3")
      assert.strictEqual(primary.calls, 3)
    }).pipe(Effect.provide(pipelineLayer([primary.provider])))
  })

  it.effect("one generate effect run twice: per-run state, so the second run is a cache hit; keys are ResponseCache's", () => {
    const primary = new CountingProvider("primary", (n) => ({ text: `answer #${n}` }))
    return Effect.gen(function*() {
      const llm = yield* Llm
      const call = llm.generate(ask("asked twice", { params: { temperature: 0 } }))
      const first = yield* call
      const second = yield* call
      assert.strictEqual(primary.calls, 1)
      assert.deepStrictEqual([first.meta.cached, first.meta.attempts], [false, 1])
      assert.deepStrictEqual([second.meta.cached, second.meta.attempts], [true, 0])
      // the step keys like ResponseCache (same canonical JSON and hash), so invalidateModel drops its entries
      const responses = yield* makeResponseCache(yield* Cache)
      yield* responses.invalidateModel("model-a")
      const third = yield* call
      assert.isFalse(third.meta.cached)
      assert.strictEqual(primary.calls, 2)
      const key = yield* responses.keyOf({
        provider: "primary",
        model: "model-a",
        messages: [{ role: "user", content: "asked twice" }],
        params: { temperature: 0 }
      })
      assert.isTrue(Option.isSome(yield* (yield* Cache).get(key)))
    }).pipe(Effect.provide(pipelineLayer([primary.provider])))
  })

  it.effect("the rate limiter blocks excess calls (check mode refuses, acquire mode waits)", () => {
    const primary = new CountingProvider("primary")
    const oneEveryTenSeconds = {
      policies: { default: { tiers: [{ _tag: "TokenBucket", capacity: 2, refillTokens: 1, refillEvery: 10_000 }] } }
    }
    const refuses = Effect.gen(function*() {
      const llm = yield* Llm
      yield* llm.generate(ask("a", { options: { cache: "bypass" } }))
      yield* llm.generate(ask("b", { options: { cache: "bypass" } }))
      const refused = yield* Effect.flip(llm.generate(ask("c", { options: { cache: "bypass" } })))
      assert.strictEqual(refused._tag, "RateLimitRefused")
      assert.strictEqual(refused._tag === "RateLimitRefused" ? refused.retryAfterMillis : -1, 10_000)
      assert.strictEqual(primary.calls, 2)
    }).pipe(Effect.provide(pipelineLayer([primary.provider], { rateLimit: { mode: "check" } }, oneEveryTenSeconds)))
    const waits = Effect.gen(function*() {
      const llm = yield* Llm
      yield* llm.generate(ask("a"))
      yield* llm.generate(ask("b"))
      const third = yield* Effect.forkChild(llm.generate(ask("c")), { startImmediately: true })
      yield* TestClock.adjust("9999 millis")
      assert.isUndefined(third.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(third)
      assert.strictEqual(result.text, "answer from primary")
    }).pipe(Effect.provide(pipelineLayer([new CountingProvider("primary").provider], {}, oneEveryTenSeconds)))
    return Effect.andThen(refuses, waits)
  })

  it.effect("a cache hit consumes no rate limit", () => {
    const primary = new CountingProvider("primary")
    return Effect.gen(function*() {
      const llm = yield* Llm
      yield* llm.generate(ask("cached"))
      for (let i = 0; i < 5; i++) assert.isTrue((yield* llm.generate(ask("cached"))).meta.cached)
      // the single token was spent by the first call only: a new question is refused
      const refused = yield* Effect.flip(llm.generate(ask("new")))
      assert.strictEqual(refused._tag, "RateLimitRefused")
      assert.strictEqual(primary.calls, 1)
    }).pipe(Effect.provide(pipelineLayer([primary.provider], { rateLimit: { mode: "check" } }, {
      policies: { default: { tiers: [{ _tag: "TokenBucket", capacity: 1, refillTokens: 1, refillEvery: 60_000 }] } }
    })))
  })

  it.effect("estimated tokens are limited under the tokens policy", () => {
    const primary = new CountingProvider("primary")
    return Effect.gen(function*() {
      const llm = yield* Llm
      yield* llm.generate(ask("x".repeat(200), { options: { cache: "bypass" } })) // ~53 tokens
      const refused = yield* Effect.flip(llm.generate(ask("y".repeat(200), { options: { cache: "bypass" } })))
      assert.strictEqual(refused._tag === "RateLimitRefused" ? refused.resource : "", "tokens")
      assert.strictEqual(primary.calls, 1)
    }).pipe(
      Effect.provide(pipelineLayer([primary.provider], { rateLimit: { mode: "check", tokensPolicy: "llm-tokens" } }, {
        policies: {
          default: { tiers: [{ _tag: "TokenBucket", capacity: 100, refillTokens: 100, refillEvery: 60_000 }] },
          "llm-tokens": { tiers: [{ _tag: "TokenBucket", capacity: 100, refillTokens: 100, refillEvery: 60_000 }] }
        }
      }))
    )
  })

  it.effect("by default (the limiter's llm-tokens policy) estimated tokens are limited: 200,000 per minute", () => {
    const primary = new CountingProvider("primary")
    return Effect.gen(function*() {
      const llm = yield* Llm
      yield* llm.generate(ask("small request", { options: { cache: "bypass" } }))
      const huge = yield* Effect.flip(llm.generate(ask("z".repeat(900_000), { options: { cache: "bypass" } }))) // ~225k tokens
      assert.strictEqual(huge._tag === "RateLimitRefused" ? huge.resource : "", "tokens")
      assert.strictEqual(primary.calls, 1)
    }).pipe(Effect.provide(pipelineLayer([primary.provider], { rateLimit: { mode: "check" } })))
  })

  it.effect("a 429 retry waits exactly Retry-After under TestClock", () => {
    const primary = new CountingProvider("primary", (n) =>
      n === 1
        ? {
          error: new ProviderRateLimited({
            provider: "primary",
            description: "slow down",
            status: 429,
            retryable: true,
            retryAfterMillis: 7_000
          })
        }
        : { text: "after the wait" })
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild((yield* Llm).generate(ask("limited")), { startImmediately: true })
      yield* TestClock.adjust("6999 millis")
      assert.isUndefined(fiber.pollUnsafe())
      assert.strictEqual(primary.calls, 1)
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.text, "after the wait")
      assert.strictEqual(result.meta.attempts, 2)
    }).pipe(Effect.provide(pipelineLayer([primary.provider], { retry: { jitter: 0.2 } })))
  })

  it.effect("the retry schedule is 1 s, 2 s, 4 s (jitter off), then the call fails", () => {
    const server = () => ({
      error: new ProviderServerError({ provider: "primary", description: "boom", status: 500, retryable: true })
    })
    const primary = new CountingProvider("primary", server)
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.exit((yield* Llm).generate(ask("flaky"))), {
        startImmediately: true
      })
      const expectCalls = (n: number) => assert.strictEqual(primary.calls, n)
      yield* settle
      expectCalls(1)
      yield* TestClock.adjust("999 millis")
      expectCalls(1)
      yield* TestClock.adjust("1 millis")
      expectCalls(2)
      yield* TestClock.adjust("1999 millis")
      expectCalls(2)
      yield* TestClock.adjust("1 millis")
      expectCalls(3)
      yield* TestClock.adjust("3999 millis")
      expectCalls(3)
      yield* TestClock.adjust("1 millis")
      expectCalls(4)
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isFailure(exit))
      yield* TestClock.adjust("1 hour")
      expectCalls(4)
    }).pipe(Effect.provide(pipelineLayer([primary.provider], { breaker: false })))
  })

  it.effect("non-retryable errors are not retried", () => {
    const primary = new CountingProvider("primary", () => ({
      error: new AuthenticationFailed({
        provider: "primary",
        description: "bad key",
        status: 401,
        retryable: false,
        kind: "InvalidKey"
      })
    }))
    return Effect.gen(function*() {
      const error = yield* Effect.flip((yield* Llm).generate(ask("auth")))
      assert.strictEqual(error._tag, "AuthenticationFailed")
      assert.strictEqual(primary.calls, 1)
    }).pipe(Effect.provide(pipelineLayer([primary.provider])))
  })

  it.effect("the breaker opens after N failures and the fallback provider answers", () => {
    const primary = new CountingProvider("primary", () => ({
      error: new ProviderServerError({ provider: "primary", description: "down", status: 503, retryable: true })
    }))
    const backup = new CountingProvider("backup")
    return Effect.gen(function*() {
      const recorder = yield* recordEvents([["troupe", "breaker"]])
      const llm = yield* Llm
      const call = (q: string) => llm.generate(ask(q, { options: { fallbacks: ["cheap"], cache: "bypass" } }))
      const first = yield* call("one")
      assert.strictEqual(first.meta.provider, "backup")
      assert.strictEqual(first.meta.fallbackIndex, 1)
      assert.strictEqual(first.meta.attempts, 2)
      yield* call("two")
      assert.strictEqual(primary.calls, 2)
      yield* Effect.yieldNow
      assert.lengthOf(recorder.named("troupe.breaker.opened"), 1)
      assert.strictEqual(recorder.named("troupe.breaker.opened")[0]?.metadata["provider"], "primary")
      // open: the primary is not called any more, the backup answers
      const third = yield* call("three")
      assert.strictEqual(third.meta.provider, "backup")
      assert.strictEqual(primary.calls, 2)
      assert.lengthOf(recorder.named("troupe.breaker.rejected"), 1)
      // after the open time a probe goes through (still failing: open again)
      yield* TestClock.adjust("30 seconds")
      yield* call("four")
      yield* Effect.yieldNow
      assert.strictEqual(primary.calls, 3)
      assert.lengthOf(recorder.named("troupe.breaker.half_opened"), 1)
      assert.strictEqual(backup.calls, 4)
    }).pipe(
      Effect.provide(pipelineLayer([primary.provider, backup.provider], { retry: false, breaker: { failures: 2 } }))
    )
  })

  it.effect("fallback chains from the layer options, and a content-policy refusal does not fall over", () => {
    const primary = new CountingProvider("primary", (n) =>
      n === 1
        ? { error: new ProviderServerError({ provider: "primary", description: "down", status: 500, retryable: true }) }
        : {
          error: new (class extends ProviderServerError {})({ provider: "primary", description: "x", retryable: true })
        })
    const backup = new CountingProvider("backup")
    return Effect.gen(function*() {
      const result = yield* (yield* Llm).generate(ask("chain"))
      assert.strictEqual(result.meta.provider, "backup")
      assert.strictEqual(result.meta.model, "model-b")
    }).pipe(
      Effect.provide(
        pipelineLayer([primary.provider, backup.provider], {
          retry: false,
          fallback: { chains: { fast: ["backup:model-b"] } }
        })
      )
    )
  })

  it.effect("bad requests fail with the path of the bad field", () => {
    const primary = new CountingProvider("primary")
    return Effect.gen(function*() {
      const llm = yield* Llm
      const empty = yield* Effect.flip(llm.generate({ model: "fast", messages: [] } as never))
      assert.strictEqual(empty._tag, "InvalidLlmRequest")
      assert.strictEqual(empty._tag === "InvalidLlmRequest" ? empty.path : "", "messages[0]") // NonEmptyArray: the first element is missing
      const hot = yield* Effect.flip(llm.generate(ask("x", { params: { temperature: 5 } })))
      assert.strictEqual(hot._tag === "InvalidLlmRequest" ? hot.path : "", "params.temperature")
      const timeout = yield* Effect.flip(llm.generate(ask("x", { options: { timeout: "soon" } })))
      assert.strictEqual(timeout._tag === "InvalidLlmRequest" ? timeout.path : "", "options.timeout")
      const role = yield* Effect.flip(
        llm.generate({ model: "fast", messages: [{ role: "robot", content: "x" }] } as never)
      )
      assert.strictEqual(role._tag === "InvalidLlmRequest" ? role.path : "", "messages[0]")
      const alias = yield* Effect.flip(llm.generate(ask("x", { model: "nope" })))
      assert.strictEqual(alias._tag, "UnknownModelAlias")
      assert.strictEqual(primary.calls, 0)
    }).pipe(Effect.provide(pipelineLayer([primary.provider])))
  })

  it.effect("stream: deltas then a Finish with usage and meta; a streamed miss is cached and replayed", () => {
    const primary = new CountingProvider("primary", () => ({ text: "a streamed answer that spans several chunks" }))
    return Effect.gen(function*() {
      const llm = yield* Llm
      const parts = yield* Stream.runCollect(llm.stream(ask("stream me")))
      const text = parts.flatMap((p) => p._tag === "TextDelta" ? [p.delta] : []).join("")
      assert.strictEqual(text, "a streamed answer that spans several chunks")
      assert.isAbove(parts.length, 2)
      const finish = parts[parts.length - 1]
      assert.strictEqual(finish?._tag, "Finish")
      assert.isFalse(finish?._tag === "Finish" ? finish.meta.cached : true)
      const replay = yield* Stream.runCollect(llm.stream(ask("stream me")))
      assert.strictEqual(replay[0]?._tag === "TextDelta" ? replay[0].delta : "", text)
      const last = replay[replay.length - 1]
      assert.isTrue(last?._tag === "Finish" ? last.meta.cached : false)
      const generated = yield* llm.generate(ask("stream me"))
      assert.isTrue(generated.meta.cached)
      assert.strictEqual(primary.calls, 1)
    }).pipe(Effect.provide(pipelineLayer([primary.provider])))
  })

  it.effect("stream: a failure before the first part is retried", () => {
    const primary = new CountingProvider("primary", (n) =>
      n === 1
        ? {
          error: new ProviderRateLimited({
            provider: "primary",
            description: "slow",
            status: 429,
            retryable: true,
            retryAfterMillis: 500
          })
        }
        : { text: "streamed later" })
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Stream.runCollect((yield* Llm).stream(ask("s"))), {
        startImmediately: true
      })
      yield* TestClock.adjust(Duration.millis(500))
      const parts = yield* Fiber.join(fiber)
      assert.strictEqual(parts.flatMap((p) => p._tag === "TextDelta" ? [p.delta] : []).join(""), "streamed later")
      assert.strictEqual(primary.calls, 2)
    }).pipe(Effect.provide(pipelineLayer([primary.provider])))
  })
})
