import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { TelemetryExportError, TelemetryHub } from "../../src/telemetry/index.ts"
import { nearestRank, Reporter } from "../../src/telemetry/Reporter.ts"
import { hubLayer } from "./support/hubLayer.ts"

class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {}) {}
class Refused extends Schema.TaggedError<Refused>()("Refused", {}) {}

describe("Reporter", () => {
  it("nearest-rank percentiles, min/max/avg over the window", () => {
    const reporter = new Reporter(100)
    for (let ms = 1; ms <= 100; ms++) reporter.record("tool:search", ms, ms % 10 === 0 ? "Timeout" : undefined)
    const [stats] = reporter.stats()
    assert.deepStrictEqual(
      stats && {
        calls: stats.calls,
        successes: stats.successes,
        failures: stats.failures,
        errors: stats.errorsByType,
        avg: stats.avgMs,
        min: stats.minMs,
        max: stats.maxMs,
        p50: stats.p50Ms,
        p95: stats.p95Ms,
        p99: stats.p99Ms
      },
      {
        calls: 100,
        successes: 90,
        failures: 10,
        errors: { Timeout: 10 },
        avg: 50.5,
        min: 1,
        max: 100,
        p50: 50,
        p95: 95,
        p99: 99
      }
    )
    assert.strictEqual(nearestRank([7], 0.99), 7)
    assert.strictEqual(nearestRank([], 0.5), 0)
  })

  it("keeps only the last N calls but counts lifetime totals", () => {
    const reporter = new Reporter(4)
    for (const ms of [1000, 1000, 1000, 1, 2, 3, 4]) reporter.record("llm", ms, ms === 1000 ? "Timeout" : undefined)
    const [stats] = reporter.stats()
    assert.strictEqual(stats?.calls, 4)
    assert.strictEqual(stats?.failures, 0)
    assert.strictEqual(stats?.maxMs, 4)
    assert.strictEqual(stats?.totalCalls, 7)
    assert.strictEqual(stats?.totalFailures, 3)
  })

  it("keeps at most maxComponents components; calls of further components are recorded under other", () => {
    const reporter = new Reporter(10, 3)
    for (const component of ["a", "b", "c", "d", "a"]) reporter.record(component, 1, undefined)
    assert.deepStrictEqual(reporter.stats().map((s) => [s.component, s.totalCalls]), [["a", 2], ["b", 1], ["other", 2]])
  })

  it("a window holds the last N calls across its growth (buffers are allocated as calls arrive)", () => {
    const reporter = new Reporter(100)
    for (let ms = 1; ms <= 250; ms++) reporter.record("tool", ms, undefined)
    const [stats] = reporter.stats()
    assert.deepStrictEqual(stats && [stats.calls, stats.minMs, stats.maxMs, stats.totalCalls], [100, 151, 250, 250])
  })
})

describe("TelemetryHub reporter", () => {
  // runs `track(sleep ms; then effect)` to completion under the TestClock
  const timed = <A, E>(
    effect: Effect.Effect<A, E>,
    ms: number,
    track: <A2, E2>(self: Effect.Effect<A2, E2>) => Effect.Effect<A2, E2>
  ) =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        Effect.exit(Effect.sleep(`${ms} millis`).pipe(Effect.andThen(effect), track)),
        {
          startImmediately: true
        }
      )
      yield* TestClock.adjust(`${ms} millis`)
      return yield* Fiber.join(fiber)
    })

  const script = Effect.gen(function*() {
    const hub = yield* TelemetryHub
    const llm = hub.trackLlmCall({ provider: "anthropic", model: "claude-sonnet-4" })
    for (const ms of [100, 200, 300, 400]) yield* timed(Effect.void, ms, llm)
    yield* timed(new Timeout(), 500, llm)
    yield* timed(new Refused(), 50, llm)
    yield* timed(new Timeout(), 600, llm)
    yield* timed(Effect.void, 10, hub.trackToolExecution({ tool: "search" }))
    return hub
  })

  it.effect("per-component window stats from tracked calls, and a readable report", () =>
    Effect.gen(function*() {
      const hub = yield* script
      const stats = yield* hub.stats()
      assert.deepStrictEqual(stats.map((s) => s.component), ["llm:anthropic:claude-sonnet-4", "tool:search"])
      const llm = stats[0]
      assert.deepStrictEqual(
        llm && [llm.calls, llm.successes, llm.failures, llm.minMs, llm.maxMs, llm.p50Ms, llm.p95Ms],
        [7, 4, 3, 50, 600, 300, 600]
      )
      assert.deepStrictEqual(llm?.errorsByType, { Timeout: 2, Refused: 1 })
      assert.closeTo(llm?.avgMs ?? 0, 2150 / 7, 0.001)
      const report = yield* hub.report()
      assert.include(report, "llm:anthropic:claude-sonnet-4")
      assert.include(report, "p99 ms")
      assert.include(report, "llm:anthropic:claude-sonnet-4: Timeout x2")
      assert.match(report, /tool:search\s+1\s+1\s+0\s+10\.00/)
    }).pipe(Effect.provide(hubLayer({ windowSize: 50 }))))

  it.effect("the hub's reporter keeps at most 1,000 components by default; further ones are recorded under other", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      for (let i = 0; i < 1_005; i++) yield* Effect.void.pipe(hub.span(["work"], {}, { component: `c${i}` }))
      const stats = yield* hub.stats()
      assert.strictEqual(stats.length, 1_000)
      assert.strictEqual(stats.find((s) => s.component === "other")?.totalCalls, 6)
    }).pipe(Effect.provide(hubLayer({ metrics: [] }))))

  it.effect("exportJson writes the stats to a file (parent directories created); bad paths are typed errors", () =>
    Effect.gen(function*() {
      const hub = yield* script
      const dir = mkdtempSync(join(tmpdir(), "troupe-telemetry-"))
      try {
        const file = join(dir, "nested", "report.json")
        yield* hub.exportJson(file)
        const json = JSON.parse(readFileSync(file, "utf8")) as {
          windowSize: number
          generatedAt: string
          components: Array<{ component: string; calls: number; errorsByType: Record<string, number> }>
        }
        assert.strictEqual(json.windowSize, 100)
        assert.strictEqual(json.generatedAt, new Date(2160).toISOString()) // TestClock time after the script
        assert.deepStrictEqual(json.components.map((c) => [c.component, c.calls]), [[
          "llm:anthropic:claude-sonnet-4",
          7
        ], ["tool:search", 1]])
        const error = yield* Effect.flip(hub.exportJson(join(file, "cannot-be-under-a-file.json")))
        assert.instanceOf(error, TelemetryExportError)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }).pipe(Effect.provide(hubLayer())))
})
