/** The one conformance suite of `DeadLetters`, run against every backend (memory, Redis, PostgreSQL). */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Metric, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { randomUUID } from "node:crypto"
import type { DeadLettersOptions, DeadLettersShape } from "../../src/dlq/index.ts"
import { DeadLetters } from "../../src/dlq/index.ts"

/** A backend under test: a fresh layer per test (own prefix or schema). */
export interface DlqBackend {
  readonly label: string
  readonly layer: (options: DeadLettersOptions) => Layer.Layer<DeadLetters, unknown>
  /**
   * Two queues over one fresh prefix or schema, each with its own connection (as two processes would have); absent
   * for a backend that cannot be shared (memory: the two redrivers then share one queue).
   */
  readonly twins?: (
    options: DeadLettersOptions
  ) => readonly [Layer.Layer<DeadLetters, unknown>, Layer.Layer<DeadLetters, unknown>]
}

/** The value of gauge `id` of the queue named `queue` (undefined before its first update). */
const gauge = (id: string, queue: string) =>
  Effect.map(Metric.snapshot, (all) => {
    const found = all.find((m) => m.id === id && m.attributes?.["queue"] === queue)
    return found === undefined ? undefined : (found.state as { readonly value: number }).value // a gauge's state
  })

/** Builds the two redrivers of `backend` (one shared queue when it has no twins). */
const redrivers = (backend: DlqBackend, options: DeadLettersOptions) =>
  Effect.gen(function*() {
    if (backend.twins === undefined) {
      const one = Context.get(yield* Layer.build(backend.layer(options)), DeadLetters)
      return [one, one] as const
    }
    const [first, second] = backend.twins(options)
    const a = Context.get(yield* Layer.build(first), DeadLetters)
    const b = Context.get(yield* Layer.build(second), DeadLetters)
    return [a, b] as const
  })

/** Each redriver redrives every letter twice over, concurrently: all, then each id from the newest. */
const redriveConcurrently = (a: DeadLettersShape, b: DeadLettersShape, ids: ReadonlyArray<string>) =>
  Effect.all([
    a.redriveMany({}, { ratePerSecond: 10_000 }),
    b.redriveMany({}, { ratePerSecond: 10_000 }),
    Effect.forEach([...ids].reverse(), (id) => a.redrive(id)),
    Effect.forEach([...ids].reverse(), (id) => b.redrive(id))
  ], { concurrency: "unbounded" }).pipe(Effect.map((runs) => runs.flat()))

/** A tool's JSON schema nested `depth` levels (`{ items: { items: … } }`). */
const nestedSchema = (depth: number): unknown => {
  let v: unknown = { type: "string" }
  for (let i = 0; i < depth; i++) v = { items: v }
  return v
}

/** A redrive handler whose first call claims and never ends (`started` then completes); later calls succeed. */
const hangingFirst = () => {
  const started = Deferred.makeUnsafe<void>()
  const state = { calls: 0 }
  const redrive = () =>
    Effect.suspend(() =>
      ++state.calls === 1 ? Effect.andThen(Deferred.succeed(started, undefined), Effect.never) : Effect.void
    )
  return { started, state, redrive }
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

    it.effect("stats and the gauges: depth and oldest age after records, time passing, redrive and purge", () => {
      const queue = `stats-${backend.label}-${randomUUID()}`
      const depth = gauge("troupe_dlq_depth", queue)
      const age = gauge("troupe_dlq_oldest_age_seconds", queue)
      return Effect.gen(function*() {
        const dlq = yield* DeadLetters
        const empty = yield* dlq.stats()
        assert.deepStrictEqual(empty, {
          depth: 0,
          oldestAgeMillis: 0,
          total: 0,
          byKind: { request: 0, turn: 0 },
          byStatus: { dead: 0, redriving: 0, redriven: 0 }
        })
        assert.strictEqual(yield* depth, 0)
        assert.strictEqual(yield* age, 0)
        yield* dlq.record({ id: "old", kind: "request", source: "s", input: 1, error: "e", attempts: 1 })
        assert.strictEqual(yield* depth, 1)
        assert.strictEqual(yield* age, 0)
        yield* TestClock.adjust("10 seconds")
        // a record publishes too: the oldest letter is 10 s old when the second arrives
        yield* dlq.record({ id: "new", kind: "turn", source: "agent", input: 2, error: "e", attempts: 1 })
        assert.strictEqual(yield* depth, 2)
        assert.strictEqual(yield* age, 10)
        yield* TestClock.adjust("5 seconds")
        const aged = yield* dlq.stats()
        assert.strictEqual(aged.depth, 2)
        assert.strictEqual(aged.oldestAgeMillis, 15_000)
        assert.deepStrictEqual(aged.byKind, { request: 1, turn: 1 })
        assert.strictEqual(yield* age, 15)
        // a failed redrive keeps the letter waiting: its age still counts from its deadAt
        assert.strictEqual((yield* dlq.redrive("new")).result, "failed")
        assert.strictEqual((yield* dlq.stats()).oldestAgeMillis, 15_000)
        // the oldest redriven: depth 1, age now that of the letter recorded at 10 s
        assert.strictEqual((yield* dlq.redrive("old")).result, "redriven")
        assert.strictEqual(yield* depth, 1)
        assert.strictEqual(yield* age, 5)
        const after = yield* dlq.stats()
        assert.deepStrictEqual(after, {
          depth: 1,
          oldestAgeMillis: 5_000,
          total: 2,
          byKind: { request: 0, turn: 1 },
          byStatus: { dead: 1, redriving: 0, redriven: 1 }
        })
        yield* TestClock.adjust("1 minute")
        assert.strictEqual((yield* dlq.stats()).oldestAgeMillis, 65_000)
        assert.strictEqual(yield* age, 65)
        // purging the waiting letter empties the depth; the tombstone stays in total until purged too
        assert.strictEqual(yield* dlq.purge({ status: "dead" }), 1)
        assert.strictEqual(yield* depth, 0)
        assert.strictEqual(yield* age, 0)
        assert.strictEqual((yield* dlq.stats()).total, 1)
        assert.strictEqual(yield* dlq.purge(), 1)
        assert.strictEqual((yield* dlq.stats()).total, 0)
      }).pipe(Effect.provide(backend.layer({
        name: queue,
        redrive: (l) => l.kind === "turn" ? Effect.fail("still down") : Effect.void
      })))
    })

    it.live("a letter with an input nested 1,100 levels deep is kept, redriven like any other, and does not stop a redrive of many", () =>
      Effect.gen(function*() {
        const dlq = yield* DeadLetters
        const input = { tools: [{ name: "t", parameters: nestedSchema(1_100) }] }
        yield* dlq.record({ id: "deep", kind: "request", source: "s", input, error: new Error("400"), attempts: 1 })
        yield* dlq.record({ id: "fine", kind: "request", source: "s", input: {}, error: new Error("500"), attempts: 1 })
        assert.strictEqual(((yield* dlq.inspect("deep")).input as { truncated: boolean }).truncated, true)
        assert.strictEqual((yield* dlq.list()).length, 2)
        assert.deepStrictEqual(yield* dlq.redriveMany({}, { ratePerSecond: 10_000 }), [
          { id: "deep", result: "redriven" },
          { id: "fine", result: "redriven" }
        ])
        assert.strictEqual(yield* dlq.purge(), 2)
      }).pipe(Effect.provide(backend.layer({ redrive: () => Effect.void }))))

    it.effect("a letter claimed by a redrive that never finished is redrivable again once redriveLease has passed, not before; the late write of the redrive that lost its claim is dropped", () => {
      const h = hangingFirst()
      return Effect.gen(function*() {
        const dlq = yield* DeadLetters
        yield* dlq.record({ id: "l", kind: "request", source: "s", input: 1, error: "e", attempts: 1 })
        // the first redrive claims the letter and never ends (as one whose process was killed)
        const stuck = yield* Effect.forkChild(dlq.redrive("l"))
        yield* Deferred.await(h.started)
        const claimed = yield* dlq.inspect("l")
        assert.strictEqual(claimed.status, "redriving")
        assert.isNumber(claimed.claimedAt)
        yield* TestClock.adjust("59 seconds")
        assert.deepStrictEqual(yield* dlq.redrive("l"), { id: "l", result: "skipped" })
        assert.deepStrictEqual(yield* dlq.redriveMany(), [])
        assert.strictEqual((yield* dlq.stats()).byStatus.redriving, 1)
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* dlq.redriveMany(), [{ id: "l", result: "redriven" }])
        assert.strictEqual(h.state.calls, 2)
        // the first redrive ends only now (its handler interrupted): its final write finds another claim and is lost
        yield* Fiber.interrupt(stuck)
        const letter = yield* dlq.inspect("l")
        assert.strictEqual(letter.status, "redriven")
        assert.strictEqual(letter.redrives, 1)
        assert.strictEqual(letter.claimedAt, undefined)
        assert.deepStrictEqual(yield* dlq.redrive("l"), { id: "l", result: "skipped" })
        assert.strictEqual(h.state.calls, 2)
        assert.strictEqual(yield* dlq.purge(), 1)
      }).pipe(Effect.provide(backend.layer({ redriveLease: "1 minute", redrive: h.redrive })))
    })

    it.effect("two redrivers taking over the same expired claim at once: only one wins, the handler runs once", () => {
      const h = hangingFirst()
      return Effect.scoped(Effect.gen(function*() {
        const [a, b] = yield* redrivers(backend, { redriveLease: "1 minute", redrive: h.redrive })
        yield* a.record({ id: "t", kind: "request", source: "s", input: 1, error: "e", attempts: 1 })
        const stuck = yield* Effect.forkChild(a.redrive("t"))
        yield* Deferred.await(h.started)
        yield* TestClock.adjust("1 minute")
        const outcomes = (yield* Effect.all([a.redrive("t"), b.redrive("t"), a.redriveMany(), b.redriveMany()], {
          concurrency: "unbounded"
        })).flat()
        assert.strictEqual(outcomes.filter((o) => o.result === "redriven").length, 1)
        assert.strictEqual(h.state.calls, 2)
        yield* Fiber.interrupt(stuck)
        const letter = yield* b.inspect("t")
        assert.strictEqual(letter.status, "redriven")
        assert.strictEqual(letter.redrives, 1)
        assert.strictEqual(yield* b.purge(), 1)
      }))
    })

    it.effect("redriveLease is decoded: one that is not a duration, or not above 0, fails the layer with InvalidOptions naming redriveLease", () =>
      Effect.gen(function*() {
        for (const redriveLease of ["soon", -1, 0]) {
          const exit = yield* Effect.exit(
            Effect.scoped(Layer.build(backend.layer({ redriveLease: redriveLease as never })))
          )
          assert.isTrue(Exit.isFailure(exit))
          const text = String(exit._tag === "Failure" ? exit.cause : "")
          assert.include(text, "InvalidOptions")
          assert.include(text, "redriveLease")
        }
      }))

    it.live("two redrivers redriving the same letters concurrently redrive each letter exactly once", () => {
      const calls = new Map<string, number>()
      const ids = Array.from({ length: 20 }, (_, i) => `r${i}`)
      return Effect.scoped(Effect.gen(function*() {
        const [a, b] = yield* redrivers(backend, {
          redrive: (l) =>
            Effect.sync(() => calls.set(l.id, (calls.get(l.id) ?? 0) + 1)).pipe(Effect.andThen(Effect.yieldNow))
        })
        for (const id of ids) yield* a.record({ id, kind: "request", source: "s", input: id, error: "e", attempts: 1 })
        const outcomes = yield* redriveConcurrently(a, b, ids)
        assert.strictEqual(outcomes.filter((o) => o.result === "redriven").length, ids.length)
        assert.strictEqual(outcomes.filter((o) => o.result === "failed").length, 0)
        for (const id of ids) {
          assert.strictEqual(calls.get(id), 1, `letter ${id} redriven ${calls.get(id) ?? 0} times`)
          const letter = yield* b.inspect(id)
          assert.strictEqual(letter.status, "redriven")
          assert.strictEqual(letter.redrives, 1)
        }
        assert.strictEqual((yield* a.stats()).depth, 0)
        assert.strictEqual(yield* b.purge(), ids.length)
      }))
    })

    it.live("two redrivers whose handler fails: every attempt is counted once on the letter (no lost update)", () => {
      const calls = new Map<string, number>()
      const ids = Array.from({ length: 20 }, (_, i) => `f${i}`)
      return Effect.scoped(Effect.gen(function*() {
        const [a, b] = yield* redrivers(backend, {
          redrive: (l) =>
            Effect.sync(() => calls.set(l.id, (calls.get(l.id) ?? 0) + 1)).pipe(
              Effect.andThen(Effect.fail(`down ${l.id}`))
            )
        })
        for (const id of ids) yield* a.record({ id, kind: "request", source: "s", input: id, error: "e", attempts: 1 })
        const outcomes = yield* redriveConcurrently(a, b, ids)
        const failed = outcomes.filter((o) => o.result === "failed").length
        assert.strictEqual(failed, [...calls.values()].reduce((n, c) => n + c, 0))
        for (const id of ids) {
          const letter = yield* a.inspect(id)
          assert.strictEqual(letter.status, "dead")
          assert.strictEqual(letter.redrives, calls.get(id) ?? 0, `letter ${id}`)
          assert.strictEqual(letter.attempts, 1 + (calls.get(id) ?? 0), `letter ${id}`)
        }
        assert.strictEqual(yield* b.purge(), ids.length)
      }))
    })
  })
}
