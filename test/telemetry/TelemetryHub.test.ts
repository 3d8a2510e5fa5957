import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Layer, Schema, Scope } from "effect"
import {
  DuplicateHandlerError,
  Events,
  HandlerNotFoundError,
  InvalidTelemetryInput,
  type TelemetryEvent,
  TelemetryHub
} from "../../src/telemetry/index.ts"
import { hubLayer } from "./support/hubLayer.ts"

class Boom extends Schema.TaggedError<Boom>()("Boom", { detail: Schema.String }) {}

const collect = () => {
  const seen: Array<TelemetryEvent> = []
  return { seen, handler: (e: TelemetryEvent) => void seen.push(e) }
}

describe("TelemetryHub attach / detach / emit", () => {
  it.effect("routes events to handlers attached to any prefix of the name, in attach order, once each", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const order: Array<string> = []
      yield* hub.attach("all-troupe", [["troupe"]], () => void order.push("all-troupe"))
      yield* hub.attach("llm", [["troupe", "llm"], ["troupe", "llm", "call"]], () => void order.push("llm"))
      yield* hub.attach("cache", [["troupe", "cache"]], () => void order.push("cache"))
      yield* hub.emit(Events.llmCallStop, { duration: 1 }, { model: "m" })
      assert.deepStrictEqual(order, ["all-troupe", "llm"])
      order.length = 0
      yield* hub.emit(["troupe", "cache", "hit"], { count: 1 }) // a fresh array with equal content
      assert.deepStrictEqual(order, ["all-troupe", "cache"])
      order.length = 0
      yield* hub.emit(["other"], { n: 1 })
      assert.deepStrictEqual(order, [])
    }).pipe(Effect.provide(hubLayer())))

  it.effect("passes name, measurements and metadata; detach stops delivery; handlers() lists ids", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const { seen, handler } = collect()
      yield* hub.attach("c", [["app", "job"]], handler)
      yield* hub.emit(["app", "job", "done"], { items: 3 }, { queue: "q1" })
      assert.deepStrictEqual(seen.map((e) => [e.name, e.measurements, e.metadata]), [[["app", "job", "done"], {
        items: 3
      }, { queue: "q1" }]])
      const listed = yield* hub.handlers(["app"])
      assert.deepStrictEqual(listed.map((h) => h.id), ["c"])
      yield* hub.detach("c")
      yield* hub.emit(["app", "job", "done"], { items: 4 })
      assert.strictEqual(seen.length, 1)
    }).pipe(Effect.provide(hubLayer())))

  it.effect("handlers(prefix) lists the handlers attached under the prefix, comparing whole segments", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      yield* hub.attach("on-ab", [["troupe", "ab"]], () => {})
      yield* hub.attach("on-a-x", [["troupe", "a", "x"]], () => {})
      yield* hub.attach("on-a", [["troupe", "a"]], () => {})
      // `troupe.a` is not a prefix of `troupe.ab` (and an event `troupe.a.x` does not reach `on-ab` either)
      assert.deepStrictEqual((yield* hub.handlers(["troupe", "a"])).map((h) => h.id), ["on-a-x", "on-a"])
      assert.deepStrictEqual((yield* hub.handlers(["troupe", "ab"])).map((h) => h.id), ["on-ab"])
      assert.deepStrictEqual((yield* hub.handlers(["troupe"])).map((h) => h.id), ["on-ab", "on-a-x", "on-a"])
      assert.deepStrictEqual((yield* hub.handlers(["troupe", "a", "x", "y"])).map((h) => h.id), [])
    }).pipe(Effect.provide(hubLayer({ metrics: [] }))))

  it.effect("duplicate ids, unknown ids and malformed prefixes are typed errors naming the problem", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      yield* hub.attach("h", [["a"]], () => {})
      const dup = yield* Effect.flip(hub.attach("h", [["b"]], () => {}))
      assert.instanceOf(dup, DuplicateHandlerError)
      assert.include(dup.message, `"h"`)
      const missing = yield* Effect.flip(hub.detach("nope"))
      assert.instanceOf(missing, HandlerNotFoundError)
      const bad = yield* Effect.flip(hub.attach("x", [["ok"], [], ["a", ""]], () => {}))
      assert.instanceOf(bad, InvalidTelemetryInput)
      const paths = (bad as InvalidTelemetryInput).detail.split("; ").map((i) => i.split(":")[0])
      assert.deepStrictEqual(paths, ["[1][0]", "[2][1]"]) // an empty prefix is reported as its missing first segment
      const badId = yield* Effect.flip(hub.attach("", [["a"]], () => {}))
      assert.instanceOf(badId, InvalidTelemetryInput)
    }).pipe(Effect.provide(hubLayer())))

  it.effect("Effect handlers run in the emitter's fiber, in attach order with sync handlers", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const order: Array<string> = []
      yield* hub.attach("a", [["e"]], () => void order.push("a"))
      yield* hub.attach("b", [["e"]], () => Effect.sync(() => void order.push("b")))
      yield* hub.attach("c", [["e"]], () => void order.push("c"))
      yield* hub.emit(["e"], {})
      assert.deepStrictEqual(order, ["a", "b", "c"])
    }).pipe(Effect.provide(hubLayer())))
})

describe("TelemetryHub handler isolation", () => {
  const failing = {
    throw: () => {
      throw new RangeError("handler threw")
    },
    failure: () => Effect.fail(new Boom({ detail: "typed failure" })),
    defect: () => Effect.die(new TypeError("handler died"))
  } as const

  for (const [kind, handler] of Object.entries(failing)) {
    it.effect(`a handler that ${kind === "throw" ? "throws" : `ends in a ${kind}`} is detached and reported; the emitter is unaffected`, () =>
      Effect.gen(function*() {
        const hub = yield* TelemetryHub
        const failures = collect()
        const healthy = collect()
        yield* hub.attach("failure-watch", [Events.telemetryHandlerFailure], failures.handler)
        yield* hub.attach("bad", [["work"]], handler)
        yield* hub.attach("good", [["work"]], healthy.handler)
        const exit = yield* Effect.exit(hub.emit(["work", "done"], { n: 1 }))
        assert.isTrue(Exit.isSuccess(exit))
        // the healthy handler attached after the bad one still ran
        assert.strictEqual(healthy.seen.length, 1)
        assert.strictEqual(failures.seen.length, 1)
        const meta = failures.seen[0]?.metadata ?? {}
        assert.strictEqual(meta.handler_id, "bad")
        assert.strictEqual(meta.event_name, "work.done")
        assert.strictEqual(meta.kind, kind)
        assert.strictEqual(
          meta.error_type,
          kind === "throw" ? "RangeError" : kind === "failure" ? "Boom" : "Defect:TypeError"
        )
        assert.deepStrictEqual((yield* hub.handlers(["work"])).map((h) => h.id), ["good"])
        // detached: a second emit does not call it again
        yield* hub.emit(["work", "done"], { n: 2 })
        assert.strictEqual(failures.seen.length, 1)
        assert.strictEqual(healthy.seen.length, 2)
      }).pipe(Effect.provide(hubLayer())))
  }

  // `Object.create(null)` has no `toString`: `String(value)` throws on it
  const noStringForm = {
    throw: () => {
      throw Object.create(null)
    },
    failure: () => Effect.fail(Object.create(null)),
    defect: () => Effect.die(Object.create(null))
  } as const

  for (const [kind, handler] of Object.entries(noStringForm)) {
    it.effect(`a handler that ${kind === "throw" ? "throws" : `ends in a ${kind}`} a value with no string form is detached and reported; the emitter is unaffected`, () =>
      Effect.gen(function*() {
        const hub = yield* TelemetryHub
        const failures = collect()
        const healthy = collect()
        yield* hub.attach("failure-watch", [Events.telemetryHandlerFailure], failures.handler)
        yield* hub.attach("bad", [["work"]], handler)
        yield* hub.attach("good", [["work"]], healthy.handler)
        const exit = yield* Effect.exit(hub.emit(["work", "done"], { n: 1 }))
        assert.isTrue(Exit.isSuccess(exit))
        assert.strictEqual(healthy.seen.length, 1)
        assert.strictEqual(failures.seen[0]?.metadata.kind, kind)
        assert.strictEqual(failures.seen[0]?.metadata.reason, "[object Object]")
        assert.deepStrictEqual((yield* hub.handlers(["work"])).map((h) => h.id), ["good"])
      }).pipe(Effect.provide(hubLayer())))
  }

  it.effect("a failing failure-handler is detached too (no loop)", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      yield* hub.attach("bad-watch", [Events.telemetryHandlerFailure], () => {
        throw new Error("watcher broken")
      })
      yield* hub.attach("bad", [["x"]], () => {
        throw new Error("broken")
      })
      yield* hub.emit(["x"], {})
      assert.deepStrictEqual((yield* hub.handlers()).filter((h) => !h.id.startsWith("troupe/")), [])
    }).pipe(Effect.provide(hubLayer())))

  it.effect("the emitter's own span keeps running: emit inside a larger effect", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      yield* hub.attach("bad", [["step"]], () => Effect.die("kaput"))
      const result = yield* hub.emit(["step"], {}).pipe(Effect.andThen(Effect.succeed("continued")))
      assert.strictEqual(result, "continued")
    }).pipe(Effect.provide(hubLayer())))
})

describe("TelemetryHub emitUnsafe", () => {
  it.effect("handler Effects forked by emitUnsafe are bounded (beyond the bound dropped and counted) and interrupted when the hub layer is released", () =>
    Effect.gen(function*() {
      let running = 0
      const threeRunning = Deferred.makeUnsafe<void>()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(hubLayer({ metrics: [], maxForkedHandlers: 3 }), scope)
      const hub = Context.get(context, TelemetryHub)
      yield* hub.attach("slow", [["work"]], () =>
        Effect.acquireUseRelease(
          Effect.sync(() => {
            if (++running === 3) Deferred.doneUnsafe(threeRunning, Effect.void)
          }),
          () => Effect.never,
          () => Effect.sync(() => void running--)
        ))
      for (let i = 0; i < 5; i++) hub.emitUnsafe(["work", "x"], {})
      yield* Deferred.await(threeRunning)
      assert.strictEqual(running, 3)
      assert.include(yield* hub.prometheus(), "\ntroupe_telemetry_handler_effects_dropped_total 2\n")
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(running, 0)
      // after release nothing is forked any more
      hub.emitUnsafe(["work", "x"], {})
      yield* Effect.yieldNow
      assert.strictEqual(running, 0)
    }))
})

describe("TelemetryHub options", () => {
  it.effect("invalid options fail the layer with every issue and its path", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.provide(
        Effect.void,
        hubLayer({
          windowSize: 0,
          metrics: [{
            kind: "counter",
            name: "bad name",
            event: [],
            measurement: "x",
            tags: ["le"],
            description: "d",
            unit: "1",
            scale: 1
          }]
        })
      ))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      assert.strictEqual(error?._tag, "Fail")
      const failure = error?._tag === "Fail" ? error.error : undefined
      assert.instanceOf(failure, InvalidTelemetryInput)
      assert.include((failure as InvalidTelemetryInput).message, "windowSize")
    }))

  it.effect("metric definitions are validated with paths", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.provide(
        Effect.void,
        hubLayer({
          metrics: [{
            kind: "counter",
            name: "bad name",
            event: [],
            measurement: "x",
            tags: ["le"],
            description: "d",
            unit: "1",
            scale: 1
          }]
        })
      ))
      const failure = Exit.isFailure(exit) && exit.cause.reasons[0]?._tag === "Fail"
        ? exit.cause.reasons[0].error
        : undefined
      assert.instanceOf(failure, InvalidTelemetryInput)
      const paths = (failure as InvalidTelemetryInput).detail.split("; ").map((i) => i.split(":")[0])
      assert.includeMembers(paths, ["[0].name", "[0].event[0]", "[0].tags[0]"])
    }))
})
