import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert, describe, it } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Exit, Layer } from "effect"
import { TestClock } from "effect/testing"
import { ErrorAnalytics, type ErrorAnalyticsOptions, ErrorHandlers, handled } from "../../src/errors/index.ts"
import { ProviderTimeout } from "../../src/llm/index.ts"
import type { TelemetryEvent } from "../../src/telemetry/index.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"
import { hubLayer } from "../telemetry/support/hubLayer.ts"

const timeout = new ProviderTimeout({
  provider: "openai",
  description: "timed out",
  retryable: true,
  timeoutMillis: 1000
})
const blocked = { _tag: "GuardBlocked", message: "blocked" } as const

const analytics = (options: ErrorAnalyticsOptions = {}) =>
  ErrorAnalytics.layerMemory({
    bucketMillis: 1_000,
    historyBuckets: 20,
    windowBuckets: 5,
    baselineBuckets: 5,
    ...options
  }).pipe(
    Layer.provideMerge(hubLayer())
  )

const anomalyEvents = Effect.gen(function*() {
  const hub = yield* TelemetryHub
  const seen: Array<TelemetryEvent> = []
  yield* hub.attach("test-anomaly", [["troupe", "errors", "anomaly"]], (e) => {
    seen.push(e)
  })
  return seen
})

describe("ErrorAnalytics", () => {
  it.effect("aggregation over sliding windows by class, provider, model and route (TestClock)", () =>
    Effect.gen(function*() {
      const a = yield* ErrorAnalytics
      yield* a.record(timeout, { provider: "openai", model: "gpt-4o", route: "/v1/chat/completions" })
      yield* TestClock.adjust("2 seconds")
      yield* a.record(blocked, { provider: "anthropic", model: "claude", route: "/v1/embeddings" })
      yield* a.record(blocked, { route: "/v1/embeddings" })
      let agg = yield* a.aggregates
      assert.strictEqual(agg.total, 3)
      assert.strictEqual(agg.windowMillis, 5_000)
      assert.deepStrictEqual(agg.byClass, { ProviderTimeout: 1, GuardBlocked: 2 })
      assert.deepStrictEqual(agg.byRecovery, { retry: 1, reject: 2 })
      assert.deepStrictEqual(agg.byProvider, { openai: 1, anthropic: 1 })
      assert.deepStrictEqual(agg.byModel, { "gpt-4o": 1, claude: 1 })
      assert.deepStrictEqual(agg.byRoute, { "/v1/chat/completions": 1, "/v1/embeddings": 2 })
      // the first bucket leaves the 5-bucket window after 5 s
      yield* TestClock.adjust("3 seconds")
      agg = yield* a.aggregates
      assert.deepStrictEqual(agg.byClass, { GuardBlocked: 2 })
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* a.aggregates).total, 0)
    }).pipe(Effect.provide(analytics())))

  it.effect("trending: per class, the counts of every kept bucket, oldest first", () =>
    Effect.gen(function*() {
      const a = yield* ErrorAnalytics
      yield* a.record(timeout)
      yield* TestClock.adjust("1 second")
      yield* a.record(timeout)
      yield* a.record(timeout)
      const trends = yield* a.trends
      assert.strictEqual(trends.ProviderTimeout?.length, 20)
      assert.deepStrictEqual(trends.ProviderTimeout?.slice(-2), [1, 2])
      // buckets older than historyBuckets are dropped
      yield* TestClock.adjust("30 seconds")
      assert.deepStrictEqual(yield* a.trends, {})
    }).pipe(Effect.provide(analytics())))

  it.effect("a class whose rate rises above its baseline by k σ raises troupe.errors.anomaly", () =>
    Effect.gen(function*() {
      const seen = yield* anomalyEvents
      const a = yield* ErrorAnalytics
      // a steady baseline of 2 per bucket: σ = 0 after a while, mean = 2
      for (let i = 0; i < 6; i++) {
        yield* a.record(timeout)
        yield* a.record(timeout)
        yield* TestClock.adjust("1 second")
      }
      assert.strictEqual(seen.length, 0)
      for (let i = 0; i < 10; i++) yield* a.record(timeout, { route: "/r" })
      assert.strictEqual(seen.length, 1, "raised once per class and bucket")
      assert.strictEqual(seen[0]?.metadata.error_class, "ProviderTimeout")
      assert.strictEqual(seen[0]?.measurements.count, 5)
      assert.strictEqual(seen[0]?.measurements.mean, 2)
      const anomalies = yield* a.anomalies
      assert.strictEqual(anomalies.length, 1)
      assert.strictEqual(anomalies[0]?.at, 6_000)
    }).pipe(Effect.provide(analytics({ k: 3, minCount: 5 }))))

  it.effect("no anomaly below minCount, nor within k σ of a noisy baseline", () =>
    Effect.gen(function*() {
      const seen = yield* anomalyEvents
      const a = yield* ErrorAnalytics
      for (const n of [0, 8, 0, 8, 0]) {
        for (let i = 0; i < n; i++) yield* a.record(blocked)
        yield* TestClock.adjust("1 second")
      }
      assert.strictEqual(seen.length, 1) // the first 8-burst over a zero baseline
      for (let i = 0; i < 9; i++) yield* a.record(blocked) // mean 3.2, σ ≈ 3.9: 9 < 3.2 + 3·3.9
      assert.strictEqual(seen.length, 1)
    }).pipe(Effect.provide(analytics({ k: 3, minCount: 5 }))))

  it.effect("impact analysis: which routes, tenants and agents a class hit", () =>
    Effect.gen(function*() {
      const a = yield* ErrorAnalytics
      yield* a.record(blocked, { route: "/v1/chat/completions", tenant: "acme", agent: "researcher" })
      yield* a.record(blocked, { route: "/v1/chat/completions", tenant: "globex" })
      yield* a.record(timeout, { agent: "writer" })
      const impact = yield* a.impact
      const byClass = new Map(impact.map((i) => [i.errorClass, i]))
      assert.deepStrictEqual(byClass.get("GuardBlocked"), {
        errorClass: "GuardBlocked",
        routes: { "/v1/chat/completions": 2 },
        tenants: { acme: 1, globex: 1 },
        agents: { researcher: 1 }
      })
      assert.deepStrictEqual(byClass.get("ProviderTimeout")?.agents, { writer: 1 })
    }).pipe(Effect.provide(analytics())))

  it.effect("every table is bounded: values beyond maxKeys count under other", () =>
    Effect.gen(function*() {
      const a = yield* ErrorAnalytics
      for (let i = 0; i < 50; i++) yield* a.record({ _tag: `Foreign${i}` }, { route: `/r${i}`, tenant: `t${i}` })
      const agg = yield* a.aggregates
      assert.strictEqual(Object.keys(agg.byRoute).length, 5)
      assert.strictEqual(agg.byRoute.other, 46)
      assert.strictEqual(agg.byClass.other, 46)
      assert.strictEqual(agg.total, 50)
    }).pipe(Effect.provide(analytics({ maxKeys: 4 }))))

  it.effect("errors are exported to OpenTelemetry as exception events (in-memory exporter), secrets masked", () => {
    const exporter = new InMemorySpanExporter()
    const Tracing = NodeSdk.layer(() => ({
      resource: { serviceName: "troupe-test" },
      spanProcessor: new SimpleSpanProcessor(exporter)
    }))
    return Effect.gen(function*() {
      const a = yield* ErrorAnalytics
      const secret = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx-yz012345"
      yield* a.record({ _tag: "GuardBlocked", message: `leaked ${secret}` }).pipe(Effect.withSpan("chat gpt-4o"))
      const span = exporter.getFinishedSpans().find((s) => s.name === "chat gpt-4o")
      const event = span?.events.find((e) => e.name === "exception")
      assert.strictEqual(event?.attributes?.["exception.type"], "GuardBlocked")
      assert.notInclude(String(event?.attributes?.["exception.message"]), secret)
      // without a span: nothing, and no failure
      yield* a.record(timeout)
    }).pipe(Effect.provide(Layer.mergeAll(analytics(), Tracing)))
  })
})

describe("ErrorAnalytics options and clock", () => {
  it.effect("options are integers from 1 (k a finite number from 0): another value, such as a fractional bucketMillis, fails the layer with InvalidOptions naming the option", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ErrorAnalyticsOptions, string]> = [
        [{ bucketMillis: 0.5 }, "bucketMillis"],
        [{ bucketMillis: 0 }, "bucketMillis"],
        [{ historyBuckets: Number.NaN }, "historyBuckets"],
        [{ windowBuckets: 0 }, "windowBuckets"],
        [{ baselineBuckets: -1 }, "baselineBuckets"],
        [{ k: -1 }, "k"],
        [{ k: Number.NaN }, "k"],
        [{ minCount: 1.5 }, "minCount"],
        [{ maxKeys: Number.POSITIVE_INFINITY }, "maxKeys"]
      ]
      for (const [options, path] of cases) {
        const error = yield* Effect.flip(Effect.scoped(Layer.build(analytics(options))))
        assert.strictEqual(error._tag, "InvalidOptions", JSON.stringify(options))
        assert.strictEqual(error.path, path, JSON.stringify(options))
      }
    }))

  it.effect("a clock that steps back never opens a second bucket of one index: it counts into the latest bucket, trends agree with aggregates, at most one anomaly per class and bucket", () =>
    Effect.gen(function*() {
      const a = yield* ErrorAnalytics
      yield* TestClock.setTime(50_000)
      for (let i = 0; i < 5; i++) yield* a.record(blocked)
      yield* TestClock.setTime(20_000) // the wall clock steps back (NTP)
      yield* a.record(blocked)
      assert.strictEqual((yield* a.aggregates).total, 6)
      yield* TestClock.setTime(50_500) // and forward again, within the first five's bucket
      for (let i = 0; i < 5; i++) yield* a.record(blocked)
      const total = (yield* a.aggregates).total
      const trend = (yield* a.trends)["GuardBlocked"] ?? []
      assert.strictEqual(total, 11)
      assert.strictEqual(trend.reduce((x, y) => x + y, 0), total)
      assert.strictEqual(trend.at(-1), 11)
      const anomalies = yield* a.anomalies
      assert.strictEqual(anomalies.length, 1)
      assert.strictEqual(Math.floor((anomalies[0]?.at ?? 0) / 1000), 50)
    }).pipe(Effect.provide(analytics({ historyBuckets: 60, windowBuckets: 60, baselineBuckets: 5 }))))
})

describe("ErrorHandlers", () => {
  it.effect("custom error handlers by class: tag handlers first, then recovery handlers; a failing handler is swallowed", () =>
    Effect.gen(function*() {
      const h = yield* ErrorHandlers
      const calls: Array<string> = []
      assert.isTrue(
        yield* h.register(
          "by-recovery",
          { recovery: "retry" },
          (_e, c) => Effect.sync(() => calls.push(`recovery:${c.recovery}`))
        )
      )
      assert.isTrue(yield* h.register("by-tag", { tag: "ProviderTimeout" }, () => Effect.sync(() => calls.push("tag"))))
      assert.isTrue(yield* h.register("boom", { tag: "ProviderTimeout" }, () => Effect.fail("boom")))
      yield* h.handle(timeout, { route: "/r" })
      yield* h.handle(blocked)
      assert.deepStrictEqual(calls, ["tag", "recovery:retry"])
      assert.isTrue(yield* h.unregister("by-tag"))
      assert.isFalse(yield* h.unregister("by-tag"))
      // handle records into ErrorAnalytics when it is provided
      assert.deepStrictEqual((yield* (yield* ErrorAnalytics).aggregates).byClass, {
        ProviderTimeout: 1,
        GuardBlocked: 1
      })
    }).pipe(Effect.provide(ErrorHandlers.layer().pipe(Layer.provideMerge(analytics())))))

  it.effect("at most maxHandlers handlers; one more is refused", () =>
    Effect.gen(function*() {
      const h = yield* ErrorHandlers
      assert.isTrue(yield* h.register("a", { recovery: "alert" }, () => Effect.void))
      assert.isTrue(yield* h.register("b", { recovery: "alert" }, () => Effect.void))
      assert.isFalse(yield* h.register("c", { recovery: "alert" }, () => Effect.void))
      assert.isTrue(yield* h.register("a", { recovery: "reject" }, () => Effect.void))
      yield* h.handle(new Error("no analytics in context"))
    }).pipe(Effect.provide(ErrorHandlers.layer({ maxHandlers: 2 }))))

  it.effect("handled(context) calls handle on a typed failure and fails with the same error; without the service it changes nothing", () =>
    Effect.gen(function*() {
      const bare = yield* Effect.exit(Effect.fail(timeout).pipe(handled({ route: "/r" })))
      assert.deepStrictEqual(bare, Exit.fail(timeout))
      const seen: Array<string> = []
      const exit = yield* Effect.gen(function*() {
        const h = yield* ErrorHandlers
        yield* h.register(
          "t",
          { tag: "ProviderTimeout" },
          (_e, _c, ctx) => Effect.sync(() => seen.push(ctx.route ?? ""))
        )
        return yield* Effect.exit(Effect.fail(timeout).pipe(handled({ route: "/r" })))
      }).pipe(Effect.provide(ErrorHandlers.layer()))
      assert.deepStrictEqual(exit, Exit.fail(timeout))
      assert.deepStrictEqual(seen, ["/r"])
    }))
})
