/** The one conformance suite of `DeadLetters`, run against every backend (memory, Redis, PostgreSQL). */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Redacted } from "effect"
import { TestClock } from "effect/testing"
import type { DeadLettersOptions } from "../../src/dlq/index.ts"
import { DeadLetters } from "../../src/dlq/index.ts"

/** A backend under test: a fresh layer per test (own prefix or schema). */
export interface DlqBackend {
  readonly label: string
  readonly layer: (options: DeadLettersOptions) => Layer.Layer<DeadLetters, unknown>
}

export const dlqConformance = (backend: DlqBackend): void => {
  describe(`DeadLetters (${backend.label})`, () => {
    it.effect("record masks secrets and Redacted values; record is once per id", () =>
      Effect.gen(function*() {
        const dlq = yield* DeadLetters
        const l = yield* dlq.record({
          id: "a",
          kind: "request",
          source: "gpt",
          input: { key: Redacted.make("sk-live-abcdefghijklmnopqrstuvwxyz123456"), text: "hi" },
          error: new Error("boom"),
          attempts: 3
        })
        assert.strictEqual(JSON.stringify(l.input).includes("sk-live"), false)
        const again = yield* dlq.record({ id: "a", kind: "turn", source: "x", input: 1, error: "e", attempts: 1 })
        assert.strictEqual(again.source, "gpt")
        assert.strictEqual((yield* dlq.inspect("a")).error.message, "boom")
        assert.strictEqual((yield* dlq.list()).length, 1)
      }).pipe(Effect.provide(backend.layer({}))))

    it.effect("redrive is idempotent: a redriven letter is skipped; a failing handler leaves it dead", () => {
      let calls = 0
      let fail = true
      return Effect.gen(function*() {
        const dlq = yield* DeadLetters
        yield* dlq.record({ id: "b", kind: "turn", source: "agent", input: {}, error: "e", attempts: 1 })
        assert.strictEqual((yield* dlq.redrive("b")).result, "failed")
        assert.strictEqual((yield* dlq.inspect("b")).status, "dead")
        fail = false
        assert.strictEqual((yield* dlq.redrive("b")).result, "redriven")
        assert.strictEqual((yield* dlq.redrive("b")).result, "skipped")
        assert.strictEqual(calls, 2)
        assert.strictEqual((yield* dlq.stats()).depth, 0)
        const missing = yield* Effect.flip(dlq.redrive("nope"))
        assert.strictEqual(missing._tag, "DeadLetterNotFound")
      }).pipe(Effect.provide(backend.layer({
        redrive: () => Effect.suspend(() => (calls++, fail ? Effect.fail("still down") : Effect.void))
      })))
    })

    it.effect("redriveMany by a filter runs at most ratePerSecond letters per second; purge removes", () =>
      Effect.gen(function*() {
        const dlq = yield* DeadLetters
        for (const id of ["c1", "c2", "c3"]) {
          yield* dlq.record({ id, kind: "request", source: "s", input: id, error: "e", attempts: 1 })
        }
        yield* dlq.record({ id: "d", kind: "request", source: "other", input: "d", error: "e", attempts: 1 })
        const fiber = yield* Effect.forkChild(dlq.redriveMany({ source: "s" }, { ratePerSecond: 2 }))
        // advance the clock in small steps until the run ends (real backends answer over a socket meanwhile)
        while ((yield* Fiber.await(fiber).pipe(Effect.timeoutOption(0)))._tag === "None") {
          yield* TestClock.adjust("50 millis")
          yield* Effect.promise(() =>
            new Promise((r) => {
              setImmediate(r)
            })
          )
        }
        const times = (yield* dlq.list({ status: "redriven" })).map((l) => l.redrivenAt ?? 0)
        assert.strictEqual(times.length, 3)
        for (let i = 1; i < times.length; i++) assert.isAtLeast((times[i] ?? 0) - (times[i - 1] ?? 0), 500)
        const out = yield* Fiber.join(fiber)
        assert.deepStrictEqual(out.map((o) => o.result), ["redriven", "redriven", "redriven"])
        assert.strictEqual((yield* dlq.stats()).depth, 1)
        assert.strictEqual(yield* dlq.purge({ status: "redriven" }), 3)
        assert.strictEqual(yield* dlq.purge(), 1)
        assert.strictEqual((yield* dlq.stats()).total, 0)
      }).pipe(Effect.provide(backend.layer({ redrive: () => Effect.void }))))
  })
}
