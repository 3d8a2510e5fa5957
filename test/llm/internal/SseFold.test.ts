/**
 * SseFold: a provider's SSE body folded into parts in one stage, checked against the stages it replaces
 * (`sseStages`: decodeText → SSE parse → pullLimits → graceAfter → mapEffect(onEvent) → concat(end)), with random
 * events cut into random byte chunks, and its time rules under TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import type { SseFoldOptions, SseFoldState } from "../../../src/llm/internal/SseFold.ts"
import { foldSse, sseStages } from "../../../src/llm/internal/SseFold.ts"
import { MalformedResponse, ProviderTimeout } from "../../../src/llm/LlmError.ts"

/** A fold like the providers': `[DONE]` finishes, `FAIL` fails, `ping` yields nothing, the rest one part each. */
class FakeFold implements SseFoldState<string> {
  finished = false
  readonly async: boolean
  readonly flushPendingAtEnd: boolean
  constructor(async = false, flush = false) {
    this.async = async
    this.flushPendingAtEnd = flush
  }
  onEvent(data: string, event: string) {
    if (this.finished) return Effect.succeed([])
    if (data === "[DONE]") {
      this.finished = true
      return Effect.succeed(["done"])
    }
    if (data === "FAIL") {
      return Effect.fail(new MalformedResponse({ provider: "p", description: "bad event", retryable: false }))
    }
    if (event === "ping") return Effect.succeed([])
    const parts = [`${event}:${data}`]
    return this.async ? Effect.as(Effect.yieldNow, parts) : Effect.succeed(parts)
  }
  end() {
    return Effect.succeed(this.finished ? [] : ["cut"])
  }
}

const options = (idleMillis: number, graceMillis = 250): SseFoldOptions => ({
  provider: "p",
  idleMillis,
  graceMillis,
  onIdle: () => new ProviderTimeout({ provider: "p", description: "idle", timeoutMillis: idleMillis, retryable: true })
})

const outcome = <E>(stream: Stream.Stream<string, E>) =>
  Effect.map(Effect.exit(Stream.runCollect(stream)), (exit) =>
    Exit.isSuccess(exit)
      ? { parts: exit.value, error: undefined }
      : {
        parts: undefined,
        error: exit.cause.reasons.map((r) =>
          r._tag === "Fail" && typeof r.error === "object" && r.error !== null && "_tag" in r.error
            ? `${String(r.error._tag)}: ${"description" in r.error ? String(r.error.description) : ""}`
            : r._tag
        )
      })

/** Runs `stream` under TestClock, moving time 1 ms at a time: its parts (as far as they got) and its failure. */
const timed = <E>(stream: Stream.Stream<string, E>) =>
  Effect.gen(function*() {
    const got: Array<string> = []
    const fiber = yield* Effect.forkChild(Effect.exit(Stream.runForEach(stream, (p) => Effect.sync(() => got.push(p)))))
    for (let i = 0; i < 2_000 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust(1)
    const exit = yield* Fiber.join(fiber)
    return { got, failed: Exit.isFailure(exit) ? exit.cause.reasons.map((r) => r._tag) : [] }
  }).pipe(Effect.provide(Layer.fresh(TestClock.layer())))

const encoder = new TextEncoder()
/** Byte chunks arriving after the given delays (ms). */
const delayed = (pieces: ReadonlyArray<readonly [number, string]>, onEnd?: () => void) => {
  const s = Stream.fromIterable(pieces).pipe(
    Stream.mapEffect(([ms, text]) => Effect.as(Effect.sleep(ms), encoder.encode(text)))
  )
  return onEnd === undefined ? s : Stream.ensuring(s, Effect.sync(onEnd))
}

const eventArb = fc.record({
  event: fc.constantFrom(undefined, "message", "ping", "delta"),
  data: fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: "grapheme", maxLength: 12 }) },
    { weight: 1, arbitrary: fc.constantFrom("[DONE]", "FAIL", "a\nb", "") }
  ),
  extra: fc.constantFrom("", ": keep-alive\n\n", "retry: 100\n", "id: 7\n")
})
const sseText = (events: ReadonlyArray<{ event: string | undefined; data: string; extra: string }>) =>
  events.map((e) =>
    `${e.extra}${e.event === undefined ? "" : `event: ${e.event}\n`}${
      e.data.split(/\r\n|\r|\n/).map((l) => `data: ${l}\n`).join("")
    }\n`
  ).join("")

describe("SseFold: a provider's SSE body folded into parts in one stage", () => {
  it.effect("fuzz: the same parts and failures as the stages it replaces, for any events cut into any byte chunks", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(eventArb, { maxLength: 8 }),
          fc.array(fc.nat(), { maxLength: 6 }),
          fc.option(fc.nat()),
          fc.boolean(),
          fc.boolean(),
          async (events, cuts, truncateAt, async, flush) => {
            let bytes = encoder.encode(sseText(events))
            if (truncateAt !== null) bytes = bytes.slice(0, truncateAt % (bytes.length + 1))
            const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
            const chunks = [0, ...at, bytes.length].flatMap((from, i, all) =>
              i + 1 < all.length && all[i + 1]! > from ? [bytes.slice(from, all[i + 1])] : []
            )
            const run = (f: typeof foldSse) =>
              Effect.runPromise(outcome(f(Stream.fromIterable(chunks), new FakeFold(async, flush), options(60_000))))
            expect(await run(foldSse)).toEqual(await run(sseStages))
          }
        ),
        { numRuns: 300 }
      )
    ))

  it.effect("bytes that are not UTF-8 text or valid SSE fail or fold exactly as the stages it replaces", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 5 }), async (chunks) => {
          const run = (f: typeof foldSse) =>
            Effect.runPromise(outcome(f(Stream.fromIterable(chunks), new FakeFold(), options(60_000))))
          expect(await run(foldSse)).toEqual(await run(sseStages))
        }),
        { numRuns: 200 }
      )
    ))

  it.effect("the wait for each next event is bounded by idleMillis: a stalled body fails with onIdle", () =>
    Effect.gen(function*() {
      let closed = false
      const body = delayed([[10, "data: one\n\n"], [50, "data: two\n\n"]], () => (closed = true))
      const r = yield* timed(foldSse(body, new FakeFold(), options(33)))
      expect(r).toEqual({ got: ["message:one"], failed: ["Fail"] })
      expect(closed).toBe(true) // the pending read was interrupted and the body closed
    }))

  it.effect("an event that yields no parts (a ping) still restarts the wait for the next event", () =>
    Effect.gen(function*() {
      const pings = Array.from({ length: 6 }, () => [20, "event: ping\ndata: {}\n\n"] as const)
      const body = delayed([...pings, [20, "data: late\n\n"], [0, "data: [DONE]\n\n"]])
      const r = yield* timed(foldSse(body, new FakeFold(), options(33)))
      expect(r).toEqual({ got: ["message:late", "done"], failed: [] })
    }))

  it.effect("a body trickling bytes that never complete an event fails at idleMillis", () =>
    Effect.gen(function*() {
      const body = delayed(Array.from({ length: 20 }, () => [10, "x"] as const))
      const r = yield* timed(foldSse(body, new FakeFold(), options(33)))
      expect(r).toEqual({ got: [], failed: ["Fail"] })
    }))

  it.effect("time the consumer spends between pulls does not count toward idleMillis", () =>
    Effect.gen(function*() {
      const body = delayed([[0, "data: a\n\n"], [20, "data: b\n\n"], [20, "data: [DONE]\n\n"]])
      const slow = foldSse(body, new FakeFold(), options(33)).pipe(Stream.tap(() => Effect.sleep(100)))
      const r = yield* timed(slow)
      expect(r).toEqual({ got: ["message:a", "message:b", "done"], failed: [] })
    }))

  it.effect("after the terminal event, a read waits at most graceMillis; then the body is treated as ended", () =>
    Effect.gen(function*() {
      let closed = false
      const body = delayed([[0, "data: a\n\ndata: [DONE]\n\n"], [10_000, "data: never\n\n"]], () => (closed = true))
      const start = yield* Effect.clockWith((c) => c.currentTimeMillis)
      const fold = new FakeFold()
      const r = yield* timed(Stream.concat(foldSse(body, fold, options(60_000, 250)), Stream.make("after")))
      expect(r).toEqual({ got: ["message:a", "done", "after"], failed: [] })
      expect(closed).toBe(true)
      expect(start).toBe(0)
    }))

  it.effect("after the terminal event the body is read for at most graceMillis in all, however often bytes keep arriving", () =>
    Effect.gen(function*() {
      let closed = false
      // a keep-alive comment or a ping every 100 ms after [DONE], for 10 s: each read gets an answer within 250 ms
      const trickle = Array.from(
        { length: 100 },
        (_, i) => [100, i % 2 === 0 ? ": keep-alive\n\n" : "event: ping\ndata: {}\n\n"] as const
      )
      const body = delayed([[0, "data: a\n\n"], [40, "data: [DONE]\n\n"], ...trickle], () => (closed = true))
      let endedAt = -1
      const after = Effect.map(Effect.clockWith((c) => c.currentTimeMillis), (now) => {
        endedAt = now
        return "after"
      })
      const got: Array<string> = []
      const fiber = yield* Effect.forkChild(
        Stream.runForEach(
          Stream.concat(foldSse(body, new FakeFold(), options(60_000, 250)), Stream.fromEffect(after)),
          (p) => Effect.sync(() => got.push(p))
        )
      )
      for (let i = 0; i < 2_000 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust(1)
      const ended = fiber.pollUnsafe() !== undefined
      if (!ended) yield* Fiber.interrupt(fiber)
      expect({ ended, got }).toEqual({ ended: true, got: ["message:a", "done", "after"] })
      expect(endedAt).toBe(40 + 250) // the terminal event came at 40 ms: one grace from then, not one per read
      expect(closed).toBe(true)
    }).pipe(Effect.provide(Layer.fresh(TestClock.layer()))))

  it.effect("when the body ends before its terminal event, end() gives the failure or last parts of a cut stream", () =>
    Effect.gen(function*() {
      const r = yield* outcome(foldSse(Stream.make(encoder.encode("data: a\n\ndata: b")), new FakeFold(), options(1e6)))
      expect(r).toEqual({ parts: ["message:a", "cut"], error: undefined })
    }))

  it.effect("a fold with flushPendingAtEnd gets the event the body ended without a blank line, before end()", () =>
    Effect.gen(function*() {
      const fold = (flush: boolean) =>
        outcome(
          foldSse(Stream.make(encoder.encode("data: a\n\ndata: [DONE]")), new FakeFold(false, flush), options(1e6))
        )
      expect(yield* fold(true)).toEqual({ parts: ["message:a", "done"], error: undefined })
      expect(yield* fold(false)).toEqual({ parts: ["message:a", "cut"], error: undefined })
    }))

  it.effect("fuzz: timed bodies give the same parts and failures as the stages it replaces (TestClock)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.tuple(
              fc.integer({ min: 0, max: 6 }).map((n) => n * 10),
              fc.constantFrom("data: x\n\n", "event: ping\ndata: {}\n\n", "da", "ta: y\n\n", "data: [DONE]\n\n")
            ),
            { maxLength: 6 }
          ),
          fc.integer({ min: 0, max: 6 }).map((n) => n * 10 + 3),
          fc.integer({ min: 0, max: 3 }).map((n) => n * 10 + 7),
          fc.boolean(),
          async (pieces, idle, grace, flush) => {
            // grace below idle, as in the providers (250 ms against a timeout of seconds): there the rules agree
            const g = Math.min(grace, idle - 1)
            const run = (f: typeof foldSse) =>
              Effect.runPromise(timed(f(delayed(pieces), new FakeFold(false, flush), options(idle, g))))
            expect(await run(foldSse)).toEqual(await run(sseStages))
          }
        ),
        { numRuns: 60 }
      )
    ))
})
