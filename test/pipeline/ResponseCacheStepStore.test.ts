/**
 * What the response-cache step stores and serves: an answer that finished with an error is never cached; a hit is
 * decoded as an `LlmResponse` (the `Cache` may hold anything its L2 Schema accepts — `Troupe.layer` uses
 * `Schema.Json`), an undecodable one being a miss, counted and deleted; an answer computed while its model was
 * invalidated is returned but not stored; and an unscoped key is `ResponseCache`'s for the same fields.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Fiber, Layer, Metric, Option, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Cache, makeResponseCache } from "../../src/cache/index.ts"
import type { LlmProviderShape, LlmResponse, LlmStreamPart } from "../../src/llm/index.ts"
import { makeUsage } from "../../src/llm/index.ts"
import type { LlmCallInput } from "../../src/pipeline/index.ts"
import { Llm, LlmPipeline, ProviderRegistry, ResponseCacheStep } from "../../src/pipeline/index.ts"
import { RateLimiter } from "../../src/ratelimit/index.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"
import { makeMemoryRedis, type MemoryRedis } from "../cache/MemoryRedis.ts"
import { contextOf, target } from "./KeyScopeSupport.ts"
import { configLayer, pipelineLayer } from "./support.ts"

const messages = [{ role: "user", content: "q" }] as const
const ask: LlmCallInput = { model: "fast", messages }

const answer = (text: string, finishReason: LlmResponse["finishReason"] = "stop"): LlmResponse => ({
  provider: "primary",
  model: "model-a",
  text,
  toolCalls: [],
  finishReason,
  usage: makeUsage(3, 4)
})

/** A provider answering `reply(n)` for its n-th call (generate or stream), after `latency` of Clock time. */
const provider = (reply: (n: number) => LlmResponse, latency: Duration.Input = 0) => {
  const counter = { calls: 0 }
  const shape: LlmProviderShape = {
    name: "primary",
    api: "openai-compatible",
    generate: () => Effect.andThen(Effect.sleep(latency), Effect.sync(() => reply(++counter.calls))),
    stream: () =>
      Stream.unwrap(Effect.map(Effect.sleep(latency), () => {
        const r = reply(++counter.calls)
        return Stream.fromIterable<LlmStreamPart>([
          { _tag: "TextDelta", delta: r.text },
          { _tag: "Finish", provider: r.provider, model: r.model, finishReason: r.finishReason, usage: r.usage }
        ])
      }))
  }
  return { counter, provider: shape }
}

/** The pipeline over a tiered cache whose L2 takes any JSON (as `Troupe.layer` builds it), on `redis`. */
const pipelineOverRedis = (redis: MemoryRedis, shape: LlmProviderShape) =>
  LlmPipeline.layer({ retry: { jitter: 0 } }).pipe(
    Layer.provideMerge(Layer.mergeAll(
      ProviderRegistry.layer([shape]),
      Cache.layerTiered({ name: "responses", redis: { value: Schema.Json, prefix: "t:" } }).pipe(
        Layer.provide(Layer.succeedContext(redis.context))
      ),
      RateLimiter.layerMemory({})
    )),
    Layer.provideMerge(configLayer()),
    Layer.provideMerge(TelemetryHub.layer())
  )

/** The Redis key of `ask`'s answer: ResponseCache's key for the same fields. */
const redisKeyOfAsk = Effect.gen(function*() {
  const responses = yield* makeResponseCache(yield* Cache)
  return `t:${yield* responses.keyOf({ provider: "primary", model: "model-a", messages })}`
})

const decodeFailures = Effect.map(
  Metric.snapshot,
  (all) => all.find((m) => m.id === "troupe_response_cache_decode_failures_total")?.state
)

describe("ResponseCacheStep: what is cached", () => {
  it.effect("an answer that finished with an error (finish reason error) is never cached: the next identical call asks the provider", () => {
    const p = provider((n) => n === 1 ? answer("The answer is", "error") : answer("The answer is 42."))
    return Effect.gen(function*() {
      const llm = yield* Llm
      assert.strictEqual((yield* llm.generate(ask)).finishReason, "error")
      const second = yield* llm.generate(ask)
      assert.deepStrictEqual([second.meta.cached, second.finishReason, p.counter.calls], [false, "stop", 2])
    }).pipe(Effect.provide(pipelineLayer([p.provider])))
  })

  it.effect("a stream that finished with an error (finish reason error) is never stored", () => {
    const p = provider((n) => n === 1 ? answer("partial", "error") : answer("whole"))
    return Effect.gen(function*() {
      const llm = yield* Llm
      yield* Stream.runCollect(llm.stream(ask))
      const again = yield* llm.generate(ask)
      assert.deepStrictEqual([again.meta.cached, again.text, p.counter.calls], [false, "whole", 2])
    }).pipe(Effect.provide(pipelineLayer([p.provider])))
  })

  it.effect("an answer whose model was invalidated while it was computed is returned but not stored (generate and stream)", () => {
    const p = provider((n) => answer(`answer ${n}`), "1 second")
    return Effect.gen(function*() {
      const llm = yield* Llm
      const responses = yield* makeResponseCache(yield* Cache)
      const generating = yield* Effect.forkChild(llm.generate(ask), { startImmediately: true })
      yield* TestClock.adjust("500 millis")
      yield* responses.invalidateModel("model-a")
      yield* TestClock.adjust("500 millis")
      assert.strictEqual((yield* Fiber.join(generating)).text, "answer 1")
      const streaming = yield* Effect.forkChild(Stream.runCollect(llm.stream(ask)), { startImmediately: true })
      yield* TestClock.adjust("500 millis")
      yield* responses.invalidateModel("model-a")
      yield* TestClock.adjust("500 millis")
      yield* Fiber.join(streaming)
      const next = yield* Effect.forkChild(llm.generate(ask), { startImmediately: true })
      yield* TestClock.adjust("1 second")
      const third = yield* Fiber.join(next)
      assert.deepStrictEqual([third.meta.cached, third.text, p.counter.calls], [false, "answer 3", 3])
      assert.isTrue((yield* llm.generate(ask)).meta.cached) // stored once nothing invalidated it
    }).pipe(Effect.provide(pipelineLayer([p.provider])))
  })

  it.effect("an unscoped key is ResponseCache's for the same fields, also for a call without params", () =>
    Effect.gen(function*() {
      const step = yield* ResponseCacheStep
      const responses = yield* makeResponseCache(yield* Cache)
      const request = { provider: "primary", model: "model-a", messages: [{ role: "user", content: "secret plan" }] }
      assert.strictEqual(step.keyOf(contextOf(), target, undefined), yield* responses.keyOf(request))
      assert.strictEqual(step.keyOf(contextOf(), target, {}), yield* responses.keyOf({ ...request, params: {} }))
    }).pipe(Effect.provide(ResponseCacheStep.layer().pipe(Layer.provideMerge(Cache.layerMemory({}))))))
})

describe("ResponseCacheStep: a hit is decoded as an LlmResponse", () => {
  it.effect("an undecodable L2 value is a miss plus a counter, never a crash: a JSON value that is not an LlmResponse is deleted and the provider asked", () => {
    const redis = makeMemoryRedis()
    const p = provider(() => answer("fresh"))
    return Effect.gen(function*() {
      const key = yield* redisKeyOfAsk
      redis.data.set(key, JSON.stringify({ v: 42, e: null }))
      const r = yield* (yield* Llm).generate(ask)
      assert.deepStrictEqual([r.text, r.meta.cached, p.counter.calls], ["fresh", false, 1])
      assert.deepStrictEqual(yield* decodeFailures, { count: 1, incremental: true })
      assert.include(redis.data.get(key) ?? "", "\"fresh\"") // the bad entry was replaced by the answer
      const again = yield* (yield* Llm).generate(ask)
      assert.deepStrictEqual([again.text, again.meta.cached], ["fresh", true])
    }).pipe(
      Effect.provide(pipelineOverRedis(redis, p.provider)),
      Effect.provideService(Metric.MetricRegistry, new Map())
    )
  })

  it.effect("an undecodable L2 value is a miss plus a counter, never a crash: an answer of an older format (no toolCalls) does not kill a stream", () => {
    const redis = makeMemoryRedis()
    const p = provider(() => answer("fresh"))
    return Effect.gen(function*() {
      const key = yield* redisKeyOfAsk
      redis.data.set(key, JSON.stringify({ v: { text: "old format" }, e: null }))
      const parts = yield* Stream.runCollect((yield* Llm).stream(ask))
      assert.deepStrictEqual(parts.flatMap((part) => part._tag === "TextDelta" ? [part.delta] : []), ["fresh"])
      assert.strictEqual(p.counter.calls, 1)
      assert.deepStrictEqual(yield* decodeFailures, { count: 1, incremental: true })
      // a well-formed answer in L2 is served, its unknown fields dropped
      const cache = yield* Cache
      yield* cache.clear()
      redis.data.set(key, JSON.stringify({ v: { ...answer("from L2"), extra: 1 }, e: null }))
      const served = yield* (yield* Llm).generate(ask)
      assert.deepStrictEqual([served.text, served.meta.cached, "extra" in served], ["from L2", true, false])
      assert.isTrue(Option.isSome(yield* cache.get(key.slice(2))))
    }).pipe(
      Effect.provide(pipelineOverRedis(redis, p.provider)),
      Effect.provideService(Metric.MetricRegistry, new Map())
    )
  })
})
