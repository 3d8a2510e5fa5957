/**
 * PullLimits: the hot-path twin of `Stream.timeoutOrElse` + `Stream.interruptWhen(sleep)`, checked against them
 * (TestClock; chunk times end in 0, idle limits in 3 and deadlines in 7, so no two events fall on one instant).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { endWhen, graceAfter, pullLimits } from "../../src/internal/PullLimits.ts"

const chunks = (delays: ReadonlyArray<number>, onFinalize?: () => void) => {
  const s = Stream.fromIterable(delays).pipe(Stream.mapEffect((d) => Effect.as(Effect.sleep(d), d)))
  return onFinalize === undefined ? s : Stream.ensuring(s, Effect.sync(onFinalize))
}

/** Runs `stream` under TestClock, the consumer sleeping `busy` ms after each element: the elements and the failure. */
const outcome = <E>(stream: Stream.Stream<number, E>, busy = 0) =>
  Effect.gen(function*() {
    const got: Array<number> = []
    const fiber = yield* Effect.forkChild(
      Effect.exit(Stream.runForEach(stream, (a) => Effect.andThen(Effect.sync(() => got.push(a)), Effect.sleep(busy))))
    )
    for (let i = 0; i < 1_000 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust(1)
    const exit = yield* Fiber.join(fiber)
    return {
      got,
      error: Exit.isFailure(exit) ? exit.cause.reasons.map((r) => r._tag === "Fail" ? r.error : r._tag) : []
    }
  }).pipe(Effect.provide(Layer.fresh(TestClock.layer())))

const reference = (delays: ReadonlyArray<number>, idle: number, deadline?: number) => {
  const timed = chunks(delays).pipe(Stream.timeoutOrElse({ duration: idle, orElse: () => Stream.fail("idle") }))
  return deadline === undefined
    ? timed
    : timed.pipe(Stream.interruptWhen(Effect.andThen(Effect.sleep(deadline), Effect.fail("deadline"))))
}

const limited = (delays: ReadonlyArray<number>, idle: number, deadline?: number) =>
  pullLimits(chunks(delays), {
    idleMillis: idle,
    onIdle: () => "idle",
    ...(deadline !== undefined ? { deadlineMillis: deadline, onDeadline: () => "deadline" } : {})
  })

const delays = fc.array(fc.integer({ min: 0, max: 6 }).map((n) => n * 10), { minLength: 0, maxLength: 6 })
const idles = fc.integer({ min: 0, max: 6 }).map((n) => n * 10 + 3)
const deadlines = fc.integer({ min: 0, max: 20 }).map((n) => n * 10 + 7)

describe("PullLimits: time limits on a stream's pulls", () => {
  it.effect("each pull has idleMillis: a chunk slower than idleMillis fails the stream with onIdle", () =>
    Effect.gen(function*() {
      let finalized = false
      const r = yield* outcome(
        pullLimits(chunks([10, 20, 50, 10], () => (finalized = true)), { idleMillis: 33, onIdle: () => "idle" })
      )
      expect(r).toEqual({ got: [10, 20], error: ["idle"] })
      expect(finalized).toBe(true) // the pending pull was interrupted and the upstream closed
    }))

  it.effect("time the consumer spends between pulls does not count", () =>
    Effect.gen(function*() {
      const r = yield* outcome(pullLimits(chunks([10, 10, 10]), { idleMillis: 13, onIdle: () => "idle" }), 100)
      expect(r).toEqual({ got: [10, 10, 10], error: [] })
    }))

  it.effect("the stream has deadlineMillis from its first pull: a pull pending at the deadline fails with onDeadline", () =>
    Effect.gen(function*() {
      const r = yield* outcome(
        pullLimits(chunks([20, 20, 20, 20]), {
          idleMillis: 23,
          onIdle: () => "idle",
          deadlineMillis: 57,
          onDeadline: () => "deadline"
        })
      )
      expect(r).toEqual({ got: [20, 20], error: ["deadline"] })
    }))

  it.effect("a consumer busy past the deadline is not interrupted: the stream ends at its next pull", () =>
    Effect.gen(function*() {
      const r = yield* outcome(
        pullLimits(chunks([10, 10]), { idleMillis: 100, onIdle: () => "idle", deadlineMillis: 27 }),
        50
      )
      expect(r).toEqual({ got: [10], error: ["idle"] }) // onDeadline defaults to onIdle
    }))

  it.effect("no limits: the stream itself", () =>
    Effect.sync(() => {
      const s = chunks([1])
      expect(pullLimits(s, { idleMillis: Number.POSITIVE_INFINITY, onIdle: () => "idle" })).toBe(s)
    }))

  it("the same elements and failure as Stream.timeoutOrElse (property)", async () => {
    await fc.assert(
      fc.asyncProperty(delays, idles, fc.integer({ min: 0, max: 3 }), async (ds, idle, busy) => {
        const [a, b] = await Effect.runPromise(
          Effect.all([outcome(reference(ds, idle), busy * 10), outcome(limited(ds, idle), busy * 10)])
        )
        expect(b).toEqual(a)
      }),
      { numRuns: 60 }
    )
  })

  it("the same elements and failure as Stream.timeoutOrElse + interruptWhen(sleep) for a prompt consumer (property)", async () => {
    await fc.assert(
      fc.asyncProperty(delays, idles, deadlines, async (ds, idle, deadline) => {
        const [a, b] = await Effect.runPromise(
          Effect.all([outcome(reference(ds, idle, deadline)), outcome(limited(ds, idle, deadline))])
        )
        expect(b).toEqual(a)
      }),
      { numRuns: 60 }
    )
  })

  /** `chunks(ds)` ended (by `end`) when a signal completes at `at` ms, then a tail element -1. */
  const signalled = (
    ds: ReadonlyArray<number>,
    at: number,
    end: (s: Stream.Stream<number>, signal: Effect.Effect<void>) => Stream.Stream<number>
  ) =>
    Stream.unwrap(Effect.gen(function*() {
      const signal = yield* Deferred.make<void>()
      yield* Effect.forkDetach(Effect.andThen(Effect.sleep(at), Deferred.succeed(signal, undefined)))
      return Stream.concat(end(chunks(ds), Deferred.await(signal)), Stream.make(-1))
    }))

  it.effect("endWhen ends a stream when a signal completes: the pending pull is interrupted, what follows runs", () =>
    Effect.gen(function*() {
      let finalized = false
      const r = yield* outcome(Stream.unwrap(Effect.gen(function*() {
        const signal = yield* Deferred.make<void>()
        yield* Effect.forkDetach(Effect.andThen(Effect.sleep(25), Deferred.succeed(signal, undefined)))
        return Stream.concat(
          endWhen(chunks([10, 10, 10], () => (finalized = true)), Deferred.await(signal)),
          Stream.make(-1)
        )
      })))
      expect(r).toEqual({ got: [10, 10, -1], error: [] })
      expect(finalized).toBe(true)
    }))

  it("endWhen: the same elements as Stream.interruptWhen(signal) for a prompt consumer (property)", async () => {
    await fc.assert(
      fc.asyncProperty(delays, deadlines, async (ds, at) => {
        const [a, b] = await Effect.runPromise(Effect.all([
          outcome(signalled(ds, at, (s, signal) => Stream.interruptWhen(s, signal))),
          outcome(signalled(ds, at, endWhen))
        ]))
        expect(b).toEqual(a)
      }),
      { numRuns: 60 }
    )
  })

  it.effect("graceAfter reads a stream to its end after its last event: each later pull waits at most graceMillis", () =>
    Effect.gen(function*() {
      let done = false
      const source = chunks([10, 10, 40, 10]).pipe(Stream.tap((a) => Effect.sync(() => (done = done || a === 10))))
      // done after the first element: the 10 ms pulls are within a 23 ms grace, the 40 ms one is not
      const r = yield* outcome(graceAfter(source, () => done, 23))
      expect(r).toEqual({ got: [10, 10], error: [] })
      const all = yield* outcome(graceAfter(chunks([10, 20, 10]), () => true, 23))
      expect(all).toEqual({ got: [10, 20, 10], error: [] }) // the source's end comes first: the stream ends with it
    }))
})
