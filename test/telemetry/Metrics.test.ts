import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Metric, Schema } from "effect"
import { TestClock } from "effect/testing"
import { spawnSync } from "node:child_process"
import { defaultMetrics, eventCatalogue, Events, MetricDefinition, TelemetryHub } from "../../src/telemetry/index.ts"
import { hubLayer } from "./support/hubLayer.ts"
import { parsePrometheusText } from "./support/PrometheusText.ts"

class Overloaded extends Schema.TaggedError<Overloaded>()("Overloaded", {}) {}

const llmCall = (
  hub: TelemetryHub["Service"],
  model: string,
  ms: number,
  tokens: readonly [number, number],
  cost: number
) =>
  hub.trackLlmCall(
    Effect.sleep(`${ms} millis`).pipe(Effect.as({ usage: tokens })),
    { provider: "openai", model },
    { usage: (r) => ({ inputTokens: r.usage[0], outputTokens: r.usage[1], cost }) }
  )

/** A deterministic run: 3 LLM calls (one failing), tool and agent work, cache traffic, a rate limit, a config change. */
const scriptedRun = Effect.gen(function*() {
  const hub = yield* TelemetryHub
  const run = <A, E>(effect: Effect.Effect<A, E>, ms: number) =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.exit(effect), { startImmediately: true })
      yield* TestClock.adjust(`${ms} millis`)
      return yield* Fiber.join(fiber)
    })
  yield* run(llmCall(hub, "gpt-4o", 400, [100, 50], 0.002), 400)
  yield* run(llmCall(hub, "gpt-4o", 1200, [200, 80], 0.005), 1200)
  yield* run(
    Effect.sleep("3 seconds").pipe(
      Effect.andThen(new Overloaded()),
      hub.trackLlmCall({ provider: "openai", model: "gpt-4o" })
    ),
    3000
  )
  yield* run(Effect.sleep("20 millis").pipe(hub.trackToolExecution({ tool: "search" })), 20)
  yield* run(Effect.sleep("80 millis").pipe(hub.trackAgentAction({ agent: "planner", action: "plan" })), 80)
  yield* hub.emit(Events.cacheHit, { count: 1 }, { cache: "embeddings" })
  yield* hub.emit(Events.cacheHit, { count: 1 }, { cache: "embeddings" })
  yield* hub.emit(Events.cacheMiss, { count: 1 }, { cache: "embeddings" })
  yield* hub.emit(Events.cacheEviction, { count: 3 }, { cache: "embeddings", reason: "ttl" })
  yield* hub.emit(Events.rateLimited, { count: 1, retry_after: 250 }, { limiter: "openai", policy: "rpm" })
  yield* hub.emit(Events.configChanged, { changed_paths: 2 }, { paths: ["models.fast"], source: "patch" })
})

const series = (hub: TelemetryHub["Service"]) => hub // readability in assertions

describe("metrics", () => {
  it("every default metric is bound to a catalogued, emitted event", () => {
    const emitted = new Set(eventCatalogue.filter((e) => e.status === "emitted").map((e) => e.name.join(".")))
    for (const d of defaultMetrics) assert.isTrue(emitted.has(d.event.join(".")), `${d.name} -> ${d.event.join(".")}`)
    const kinds = new Set(defaultMetrics.map((d) => d.kind))
    assert.deepStrictEqual([...kinds].sort(), ["counter", "distribution", "last_value", "sum", "summary"])
  })

  it.effect("metric values after a scripted run", () =>
    Effect.gen(function*() {
      const hub = series(yield* TelemetryHub)
      yield* scriptedRun
      const tags = { provider: "openai", model: "gpt-4o" }
      const calls = yield* Metric.value(
        Metric.counter("troupe_llm_calls_total", {
          description: "Completed LLM calls",
          attributes: tags,
          incremental: true
        })
      )
      assert.strictEqual(calls.count, 2)
      const tokens = yield* Metric.value(
        Metric.counter("troupe_llm_tokens_total", {
          description: "Tokens used (input + output)",
          attributes: tags,
          incremental: true
        })
      )
      assert.strictEqual(tokens.count, 430)
      const cost = yield* Metric.value(
        Metric.gauge("troupe_llm_call_cost_usd", { description: "Cost of the most recent LLM call", attributes: tags })
      )
      assert.strictEqual(cost.value, 0.005)
      const latency = yield* Metric.value(Metric.histogram("troupe_llm_call_duration_seconds", {
        description: "LLM call response time",
        attributes: tags,
        boundaries: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
      }))
      assert.strictEqual(latency.count, 2)
      assert.closeTo(latency.sum, 1.6, 1e-9)
      assert.deepStrictEqual(latency.buckets.slice(0, 6), [[0.05, 0], [0.1, 0], [0.25, 0], [0.5, 1], [1, 1], [2.5, 2]])
      const exceptions = yield* Metric.value(Metric.counter("troupe_llm_call_exceptions_total", {
        description: "LLM calls that failed, died or were interrupted",
        attributes: { ...tags, kind: "failure", error_type: "Overloaded" },
        incremental: true
      }))
      assert.strictEqual(exceptions.count, 1)
      const text = yield* hub.prometheus()
      // cache events are not re-recorded by the hub: the cache records troupe_cache_* itself
      assert.notInclude(text, `troupe_cache_hits_total{cache="embeddings"}`)
      assert.include(text, `troupe_rate_limited_total{limiter="openai"} 1`)
      assert.include(text, `troupe_config_changes_total{source="patch"} 1`)
      assert.include(text, `troupe_tool_execution_duration_seconds_count{tool="search"} 1`)
      assert.include(text, `troupe_agent_action_duration_seconds{agent="planner",quantile="0.5"} 0.08`)
    }).pipe(Effect.provide(hubLayer())))

  it.effect("supervision restarts are counted by supervisor and start failures by supervisor and reason, never by child id", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      for (const id of ["agent-1", "agent-2", "agent-3"]) {
        yield* hub.emit(Events.supervisorChildRestarted, { system_time: 0 }, {
          supervisor: "agents",
          child_id: id,
          reason: "failure"
        })
        yield* hub.emit(Events.supervisorChildStartFailed, { system_time: 0 }, {
          supervisor: "agents",
          child_id: id,
          reason: "failure",
          reason_detail: "boom"
        })
      }
      const counted = [
        ["troupe_supervisor_child_restarts_total", { supervisor: "agents" }],
        ["troupe_supervisor_child_start_failures_total", { supervisor: "agents", reason: "failure" }]
      ] as const
      for (const [name, attributes] of counted) {
        const definition = defaultMetrics.find((d) => d.name === name)
        assert.deepStrictEqual(definition?.tags, Object.keys(attributes))
        const value = yield* Metric.value(Metric.counter(name, {
          description: definition?.description,
          attributes,
          incremental: true
        }))
        assert.strictEqual(value.count, 3)
      }
      assert.notInclude(yield* hub.prometheus(), "child_id")
    }).pipe(Effect.provide(hubLayer())))

  it.effect("a definition records at most 1,000 series; further tag combinations are recorded under other", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      for (let i = 0; i < 1_005; i++) {
        yield* hub.emit(Events.toolExecutionStop, { duration: 1 }, { tool: `t${i}` })
        yield* hub.emit(Events.llmCallStop, { duration: 1 }, { provider: "p", model: `m${i}` })
      }
      // a series created before the bound keeps counting
      yield* hub.emit(Events.toolExecutionStop, { duration: 1 }, { tool: "t0" })
      const text = yield* hub.prometheus()
      const lines = (metric: string) => text.split("\n").filter((l) => l.startsWith(`${metric}{`))
      assert.strictEqual(lines("troupe_tool_executions_total").length, 1_000)
      assert.include(text, `troupe_tool_executions_total{tool="other"} 6`)
      assert.include(text, `troupe_tool_executions_total{tool="t0"} 2`)
      assert.strictEqual(lines("troupe_llm_calls_total").length, 1_000)
      assert.include(text, `troupe_llm_calls_total{provider="other",model="other"} 6`)
    }).pipe(Effect.provide(hubLayer())))

  it.effect("metrics() returns the definitions as plain data; custom definitions are recorded too", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      assert.deepStrictEqual(hub.metrics().map((d) => d.name), ["jobs_done_total", "job_items"])
      assert.doesNotThrow(() => JSON.stringify(hub.metrics()))
      yield* hub.emit(["app", "job", "done"], { items: 7 }, { queue: "a" })
      yield* hub.emit(["app", "job", "done", "extra"], { items: 9 }, { queue: "a" }) // below the name: not recorded
      const text = yield* hub.prometheus({ prefix: "myapp" })
      assert.include(text, `myapp_jobs_done_total{queue="a"} 1`)
      assert.include(text, `myapp_job_items{queue="a"} 7`)
    }).pipe(Effect.provide(hubLayer({
      metrics: [
        MetricDefinition.counter({
          name: "jobs_done_total",
          event: ["app", "job", "done"],
          tags: ["queue"],
          description: "Jobs"
        }),
        MetricDefinition.lastValue({
          name: "job_items",
          event: ["app", "job", "done"],
          measurement: "items",
          tags: ["queue"],
          description: "Items"
        })
      ]
    }))))
})

describe("prometheus exposition", () => {
  const exposition = Effect.gen(function*() {
    const hub = yield* TelemetryHub
    yield* scriptedRun
    // hostile label values must be escaped
    yield* hub.emit(Events.rateLimited, { count: 1, retry_after: 10 }, { limiter: "quote\" back\\slash\nnewline" })
    return yield* hub.prometheus()
  })

  it.effect("parses back: HELP/TYPE, names, label escaping, histogram buckets, summaries, lint rules", () =>
    Effect.gen(function*() {
      const text = yield* exposition
      const { families, problems } = parsePrometheusText(text)
      assert.deepStrictEqual(problems, [])
      const limited = families.get("troupe_rate_limited_total")
      assert.strictEqual(limited?.type, "counter")
      assert.strictEqual(limited?.help, "Requests rejected or delayed by a rate limit")
      assert.deepStrictEqual(limited?.samples.map((s) => s.labels.limiter), ["openai", "quote\" back\\slash\nnewline"])
      const histogram = families.get("troupe_llm_call_duration_seconds")
      assert.strictEqual(histogram?.type, "histogram")
      const buckets = histogram?.samples.filter((s) => s.name.endsWith("_bucket")) ?? []
      assert.strictEqual(buckets[buckets.length - 1]?.labels.le, "+Inf")
      assert.strictEqual(families.get("troupe_agent_action_duration_seconds")?.type, "summary")
      assert.strictEqual(families.get("troupe_llm_call_cost_usd")?.type, "gauge")
    }).pipe(Effect.provide(hubLayer())))

  it("the checker itself rejects malformed expositions", () => {
    const bad = [
      "# TYPE x_total counter\nx_total{a=\"unterminated} 1\n",
      "# HELP h help\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\nh_sum 1\nh_count 1\n",
      "# HELP c c\n# TYPE c counter\nc 1\n",
      "# HELP 1bad x\n",
      "# HELP g g\n# TYPE g gauge\ng{a=\"\\x\"} 1\n"
    ]
    for (const text of bad) assert.isNotEmpty(parsePrometheusText(text).problems, text)
  })

  const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" })
  const hasPromtool = promtool.status === 0
  it.effect.skipIf(!hasPromtool)(
    "passes promtool check metrics (when promtool is installed)",
    () =>
      Effect.gen(function*() {
        const text = yield* exposition
        // promtool reads the exposition on stdin; exit 0 = parses and no lint problems
        const result = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" })
        assert.strictEqual(result.status, 0, `${result.stdout}\n${result.stderr}`)
      }).pipe(Effect.provide(hubLayer()))
  )
})
