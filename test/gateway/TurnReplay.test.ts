/**
 * The replay buffer's rules, with time driven by hand: the replay window, the bounds, resuming by Last-Event-ID, and
 * cancelling a turn nobody reads.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { TurnReplay } from "../../src/gateway/internal/TurnReplay.ts"

const manual = () => {
  let t = 0
  return { now: () => t, advance: (ms: number) => (t += ms) }
}

describe("TurnReplay", () => {
  it("a turn's frames are buffered for a short replay window after its last frame, then forgotten (404)", () => {
    const clock = manual()
    const replay = new TurnReplay({ windowMillis: 1_000, now: clock.now })
    const log = replay.create("t1", "a:1")
    log.append({ event: "token", data: "x" }, clock.now())
    log.append({ event: "done", data: "y" }, clock.now())
    log.finish(clock.now())
    expect(replay.resume("t1.1", "a:1")).toMatchObject({ _tag: "Found", after: 1 })
    clock.advance(999)
    expect(replay.resume("t1.0", "a:1")._tag).toBe("Found")
    clock.advance(1)
    expect(replay.resume("t1.1", "a:1")._tag).toBe("Unknown")
    expect(replay.size).toBe(0)
  })

  it("is bounded: maxFrames per turn (older ids are Gone, 410) and maxTurns logs (oldest finished evicted first)", () => {
    const replay = new TurnReplay({ maxFrames: 3, maxTurns: 2 })
    const a = replay.create("a", "x")
    for (let i = 0; i < 5; i++) a.append({ data: String(i) }, 0)
    expect(a.frames.map((f) => f.id)).toEqual(["a.3", "a.4", "a.5"])
    expect(replay.resume("a.1", "x")._tag).toBe("Gone")
    expect(replay.resume("a.2", "x")).toMatchObject({ _tag: "Found", after: 2 })
    expect(replay.resume("a.6", "x")._tag).toBe("Unknown")
    const b = replay.create("b", "x")
    b.finish(0)
    replay.create("c", "x")
    expect(replay.resume("b.0", "x")._tag).toBe("Unknown") // finished b went before running a
    expect(replay.resume("a.3", "x")._tag).toBe("Found")
  })

  it.effect("a reader gets the frames after its position, then the live ones, and ends when the turn finishes", () =>
    Effect.gen(function*() {
      const replay = new TurnReplay()
      const log = replay.create("t", "a")
      log.append({ data: "1" }, 0)
      log.append({ data: "2" }, 0)
      const fiber = yield* Stream.runCollect(replay.read(log, 1, () => {})).pipe(Effect.forkChild)
      yield* Effect.yieldNow
      log.append({ data: "3" }, 0)
      log.finish(0)
      const frames = yield* Fiber.join(fiber)
      expect(frames.map((f) => f.id)).toEqual(["t.2", "t.3"])
    }))

  it.effect("a running turn nobody reads for the replay window is cancelled; a reader coming back in time keeps it", () =>
    Effect.gen(function*() {
      let now = 0
      const replay = new TurnReplay({ windowMillis: 1_000, now: () => now })
      let cancelled = 0
      const log = replay.create("t", "a")
      log.cancel = Effect.sync(() => void cancelled++)
      log.append({ data: "1" }, 0)
      const scheduled: Array<Effect.Effect<void>> = []
      const readOne = Stream.runDrain(Stream.take(replay.read(log, 0, (e) => scheduled.push(e)), 1))
      // the reader leaves at t=0, comes back at t=500 and leaves again at t=600
      yield* readOne
      yield* Effect.forkChild(scheduled[0]!)
      yield* TestClock.adjust(500)
      now = 600
      yield* readOne
      yield* Effect.forkChild(scheduled[1]!)
      yield* TestClock.adjust(500)
      expect(cancelled).toBe(0) // the first window saw the reader come back
      yield* TestClock.adjust(499) // the second window started at 500 (test clock)
      expect(cancelled).toBe(0)
      yield* TestClock.adjust(1)
      expect(cancelled).toBe(1)
    }))

  it.effect("a running turn nobody reads for the replay window is cancelled even while it keeps appending frames", () =>
    Effect.gen(function*() {
      let now = 0
      const replay = new TurnReplay({ windowMillis: 1_000, now: () => now })
      let cancelled = 0
      const log = replay.create("t", "a")
      log.cancel = Effect.sync(() => void cancelled++)
      log.append({ data: "1" }, 0)
      const scheduled: Array<Effect.Effect<void>> = []
      yield* Stream.runDrain(Stream.take(replay.read(log, 0, (e) => scheduled.push(e)), 1))
      yield* Effect.forkChild(scheduled[0]!)
      // the turn goes on producing frames after its reader left
      for (let i = 0; i < 5; i++) {
        now += 200
        log.append({ data: String(i) }, now)
        yield* TestClock.adjust(199)
      }
      expect(cancelled).toBe(0)
      yield* TestClock.adjust(5)
      expect(cancelled).toBe(1)
    }))

  it("discard forgets a log at once: its ids resume nothing (404)", () => {
    const replay = new TurnReplay()
    const log = replay.create("t", "a")
    log.append({ data: "x" }, 0)
    replay.discard(log)
    expect(replay.resume("t.0", "a")._tag).toBe("Unknown")
    expect(replay.size).toBe(0)
  })

  it("fuzz: any Last-Event-ID string resolves without throwing", () => {
    const replay = new TurnReplay()
    replay.create("t", "a").append({ data: "x" }, Date.now())
    fc.assert(fc.property(fc.string(), (id) => {
      expect(["Found", "Unknown", "Gone"]).toContain(replay.resume(id, "a")._tag)
    }))
  })
})
