/**
 * ObserverFeed: the observer's LLM history in 10-second buckets over ten minutes, bounded to 100 series (TestClock).
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { TestClock } from "effect/testing"
import { makeObserverFeed } from "../../../src/gateway/internal/ObserverFeed.ts"
import type { TelemetryEvent } from "../../../src/telemetry/index.ts"

const stop = (provider: string, model: string, ms: number, tokens = 10, cost = 0.001): TelemetryEvent => ({
  name: ["troupe", "llm", "call", "stop"],
  measurements: { duration: ms * 1e6, total_tokens: tokens, cost },
  metadata: { provider, model }
})
const failed = (provider: string, model: string): TelemetryEvent => ({
  name: ["troupe", "llm", "call", "exception"],
  measurements: { duration: 1 },
  metadata: { provider, model }
})

describe("ObserverFeed", () => {
  it.effect("buckets calls, errors, p50/p95, tokens and cost per provider and model, stamped by the Clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000_000)
      const feed = makeObserverFeed(yield* Clock.Clock)
      for (let i = 1; i <= 100; i++) feed.onEvent(stop("openai", "gpt-4o", i))
      feed.onEvent(failed("openai", "gpt-4o"))
      yield* TestClock.adjust("10 seconds")
      feed.onEvent(stop("openai", "gpt-4o", 500, 5, 0.5))
      const [s] = feed.snapshot()
      assert.strictEqual(s?.provider, "openai")
      assert.strictEqual(s?.calls, 101)
      assert.strictEqual(s?.errors, 1)
      assert.strictEqual(s?.tokens, 1005)
      assert.closeTo(s?.costUsd ?? 0, 0.6, 1e-9)
      assert.strictEqual(s?.points.length, 2)
      assert.strictEqual(s?.points[0]?.p50Ms, 51)
      assert.strictEqual(s?.points[0]?.p95Ms, 96)
      assert.strictEqual(s?.points[1]?.p50Ms, 500)
      assert.strictEqual((s?.points[1]?.t ?? 0) - (s?.points[0]?.t ?? 0), 10_000)
    }))

  it.effect("keeps the last ten minutes: older buckets leave the window", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000_000)
      const feed = makeObserverFeed(yield* Clock.Clock)
      feed.onEvent(stop("a", "m", 1))
      yield* TestClock.adjust("9 minutes")
      feed.onEvent(stop("a", "m", 2))
      assert.strictEqual(feed.snapshot()[0]?.calls, 2)
      yield* TestClock.adjust("2 minutes")
      assert.strictEqual(feed.snapshot()[0]?.calls, 1)
      yield* TestClock.adjust("10 minutes")
      assert.deepStrictEqual(feed.snapshot(), [])
    }))

  it.effect("bounded: at most 100 series; the calls of the others go to the series other", () =>
    Effect.gen(function*() {
      const feed = makeObserverFeed(yield* Clock.Clock)
      for (let i = 0; i < 150; i++) feed.onEvent(stop("p", `model-${i}`, 1))
      const all = feed.snapshot()
      assert.strictEqual(all.length, 101)
      assert.strictEqual(all.find((s) => s.provider === "other")?.calls, 50)
    }))
})
