/**
 * SseBody: a gateway SSE response's body in one stage, checked against the stages it replaces (`sseBodyStages`)
 * with random sources, failures and drain times under TestClock (element times end in 0, drains in 5, so no two
 * events fall on one instant), and its rules one by one.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Logger, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import type { Frame, SseBodyOptions } from "../../../src/gateway/internal/SseBody.ts"
import { sseBody, sseBodyStages } from "../../../src/gateway/internal/SseBody.ts"

const options: SseBodyOptions<number, string> = {
  encode: (n) => {
    if (n === 13) throw new Error("unlucky")
    const frames: Array<Frame> = []
    if (n % 3 !== 0) frames.push({ data: String(n) })
    if (n % 2 === 1) frames.push({ data: `odd\n${n}`, event: "odd", id: String(n) })
    return frames
  },
  prelude: [{ data: "hello" }],
  onError: (e) => ({ data: `error ${e ?? "defect"}`, event: "error" }),
  onDrained: () => ({ data: "drained" }),
  epilogue: [{ data: "[DONE]" }]
}

type End = "done" | "fail" | "die" | "interrupt"
const source = (delays: ReadonlyArray<number>, end: End): Stream.Stream<number, string> => {
  const elements = Stream.fromIterable(delays).pipe(Stream.mapEffect((d) => Effect.as(Effect.sleep(d), d + 1)))
  const tail = end === "done"
    ? Stream.empty
    : end === "fail"
    ? Stream.fail("boom")
    : end === "die"
    ? Stream.die(new Error("bug"))
    : Stream.fromEffect(Effect.interrupt)
  return Stream.concat(elements, tail)
}

type Body = typeof sseBody<number, string>
const decoder = new TextDecoder()

/** Runs a body under TestClock: the text it sent and how it ended. */
const run = (body: Body, head: ReadonlyArray<number>, delays: ReadonlyArray<number>, end: End, drainAt?: number) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const pull = yield* Stream.toPull(source(delays, end)).pipe(Scope.provide(scope))
    const drain = drainAt === undefined ? Effect.never : Effect.sleep(drainAt)
    let text = ""
    const fiber = yield* Effect.forkChild(Effect.exit(Stream.runForEach(
      body(head, delays.length === 0 && end === "done" ? undefined : pull, drain, options),
      (bytes) => Effect.sync(() => (text += decoder.decode(bytes)))
    )))
    for (let i = 0; i < 1_000 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust(1)
    const exit = yield* Fiber.join(fiber)
    yield* Scope.close(scope, Exit.void)
    return { text, ended: Exit.isSuccess(exit) ? "ok" : exit.cause.reasons.map((r) => r._tag).join(",") }
  }).pipe(Effect.provide(Layer.fresh(TestClock.layer())))

const runBoth = (head: ReadonlyArray<number>, delays: ReadonlyArray<number>, end: End, drainAt?: number) =>
  Effect.all([run(sseBody, head, delays, end, drainAt), run(sseBodyStages, head, delays, end, drainAt)])

describe("SseBody: an SSE response's body in one stage", () => {
  it.effect("fuzz: the same bytes and the same end as the stages it replaces (TestClock)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: 15 }), { maxLength: 3 }),
          fc.array(fc.integer({ min: 0, max: 6 }).map((n) => n * 10), { maxLength: 6 }),
          fc.constantFrom<End>("done", "fail", "die", "interrupt"),
          fc.option(fc.integer({ min: 0, max: 12 }).map((n) => n * 10 + 5), { nil: undefined }),
          async (head, delays, end, drainAt) => {
            const [fused, stages] = await Effect.runPromise(runBoth(head, delays, end, drainAt))
            expect(fused).toEqual(stages)
          }
        ),
        { numRuns: 150 }
      )
    ))

  it.effect("prelude first, then each element's frames; a source that completes is followed by the epilogue", () =>
    Effect.gen(function*() {
      const r = yield* run(sseBody, [1], [1, 2], "done")
      expect(r).toEqual({
        text: "data: hello\n\ndata: 1\n\nid: 1\nevent: odd\ndata: odd\ndata: 1\n\ndata: 2\n\n" +
          "id: 3\nevent: odd\ndata: odd\ndata: 3\n\ndata: [DONE]\n\n",
        ended: "ok"
      })
    }))

  it.effect("a source that fails is followed by one onError frame and the body ends normally", () =>
    Effect.gen(function*() {
      expect(yield* run(sseBody, [], [2], "fail")).toEqual({
        text: "data: hello\n\nid: 3\nevent: odd\ndata: odd\ndata: 3\n\nevent: error\ndata: error boom\n\n",
        ended: "ok"
      })
      expect((yield* run(sseBody, [], [], "die")).text).toBe("data: hello\n\nevent: error\ndata: error defect\n\n")
    }))

  it.effect("a defect after the first byte is logged with its cause, also an encode that throws; a typed failure is not", () =>
    Effect.gen(function*() {
      const logged: Array<string> = []
      const logger = Logger.make<unknown, void>(({ cause, logLevel, message }) => {
        logged.push(`${logLevel} ${String(message)} ${Cause.pretty(cause)}`)
      })
      const withLogs = Effect.provide(Logger.layer([logger]))
      yield* withLogs(run(sseBody, [], [], "die"))
      expect(logged.length).toBe(1)
      expect(logged[0]).toContain("Error")
      expect(logged[0]).toContain("bug")
      yield* withLogs(run(sseBody, [13], [], "done"))
      expect(logged.length).toBe(2)
      expect(logged[1]).toContain("unlucky")
      yield* withLogs(run(sseBody, [], [], "fail"))
      expect(logged.length).toBe(2)
    }))

  it.effect("a body interrupted ends with the interruption and sends nothing more", () =>
    Effect.gen(function*() {
      expect(yield* run(sseBody, [2], [], "interrupt")).toEqual({
        text: "data: hello\n\ndata: 2\n\n",
        ended: "Interrupt"
      })
    }))

  it.effect("when drain completes, a pending pull is interrupted, one onDrained frame is sent and the body ends", () =>
    Effect.gen(function*() {
      expect(yield* run(sseBody, [], [10, 50, 10], "done", 35)).toEqual({
        text: "data: hello\n\ndata: 11\n\nid: 11\nevent: odd\ndata: odd\ndata: 11\n\ndata: drained\n\n",
        ended: "ok"
      })
    }))

  it.effect("all frames a pull yields go out as one chunk", () =>
    Effect.gen(function*() {
      const chunks: Array<string> = []
      yield* Stream.runForEach(
        sseBody([1, 2], undefined, Effect.never, options),
        (bytes) => Effect.sync(() => chunks.push(decoder.decode(bytes)))
      )
      expect(chunks).toHaveLength(1)
    }))
})
