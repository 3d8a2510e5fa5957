/**
 * A call made with `onTimeout: "interrupt"`: its handler runs on a fiber of its own (so that the caller giving up
 * can interrupt it) and keeps the actor's identity there, as a handler of any other call: `Actor.self` is the actor,
 * a call to itself fails with `CallingSelf`, a send to its own full `backpressure` mailbox fails with
 * `MailboxFull { selfSend }`, and a monitor it takes is its actor's. A caller that gives up at any time, even before
 * the handler first suspends, interrupts the handler. Timing under `TestClock`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, type Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Actor, Behaviour, Monitor, type Process } from "../../../src/runtime/index.ts"

type SelfProtocol = {
  readonly call: "whoami" | "call-self" | "flood" | "ping" | { readonly monitor: Process.Process }
  readonly reply: unknown
  readonly cast: "one"
}

const errorTag = (exit: Exit.Exit<unknown, { readonly _tag: string }>): string =>
  Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error._tag ?? "defect" : "ok"

/** The actor under test, known to its handlers without `Actor.self` (so the self checks are tested on their own). */
const subject: { ref?: Actor.ActorRef<SelfProtocol> } = {}

const SelfAware = Behaviour.make<SelfProtocol>()({
  init: () => Behaviour.ok(0),
  handleCast: (_message, s) => Behaviour.noreply(s),
  handleCall: (request, _from, s) =>
    Effect.gen(function*() {
      const me = subject.ref as Actor.ActorRef<SelfProtocol> // set right after the start, before any call
      if (request === "ping") return Behaviour.reply("pong", s)
      if (request === "whoami") return Behaviour.reply((yield* Actor.self)?.pid, s)
      if (request === "call-self") return Behaviour.reply(errorTag(yield* Effect.exit(Actor.call(me, "ping"))), s)
      if (request === "flood") {
        const exit = yield* Effect.exit(Effect.andThen(Actor.cast(me, "one"), Actor.cast(me, "one")))
        const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined
        return Behaviour.reply(error === undefined ? "ok" : `${error._tag} ${String(error.selfSend)}`, s)
      }
      return Behaviour.reply(yield* Monitor.monitor(request.monitor), s)
    })
})

const startSubject = (options?: Actor.StartOptions) =>
  Effect.tap(Actor.start(SelfAware, undefined, options), (ref) => Effect.sync(() => void (subject.ref = ref)))

const Idle = Behaviour.make<{ readonly call: "ping"; readonly reply: string }>()({
  init: () => Behaviour.ok(0),
  handleCall: (_request, _from, s) => Behaviour.reply("pong", s)
})

const interrupting = { onTimeout: "interrupt", timeout: 1000 } as const

describe("InterruptibleCall (a handler of a call made with onTimeout interrupt keeps its actor's identity)", () => {
  it.effect("Actor.self in a handler serving a call made with onTimeout interrupt is the actor", () =>
    Effect.gen(function*() {
      const ref = yield* startSubject()
      assert.strictEqual(yield* Actor.call(ref, "whoami", interrupting), ref.pid)
      yield* Actor.stop(ref)
    }))

  it.effect("a handler serving a call made with onTimeout interrupt that calls its own actor fails with CallingSelf at once", () =>
    Effect.gen(function*() {
      const ref = yield* startSubject()
      const caller = yield* Effect.forkChild(Actor.call(ref, "call-self", interrupting), { startImmediately: true })
      yield* TestClock.adjust(1) // the self-call is answered at once, not after its timeout
      const exit = caller.pollUnsafe()
      assert.isDefined(exit, "the self-call deadlocks")
      assert.deepStrictEqual(exit, Exit.succeed("CallingSelf"))
      yield* Actor.stop(ref)
    }))

  it.effect("a handler serving a call made with onTimeout interrupt that sends to its own full backpressure mailbox fails with MailboxFull selfSend at once", () =>
    Effect.gen(function*() {
      const ref = yield* startSubject({ mailbox: { capacity: 1, overflow: "backpressure" } })
      const caller = yield* Effect.forkChild(
        Actor.call(ref, "flood", { onTimeout: "interrupt", timeout: "infinity" }),
        { startImmediately: true }
      )
      yield* TestClock.adjust("1 hour")
      const exit = caller.pollUnsafe()
      assert.isDefined(exit, "the handler blocks on its own mailbox")
      assert.deepStrictEqual(exit, Exit.succeed("MailboxFull true"))
      yield* Actor.stop(ref)
    }))

  it.effect("a monitor taken by a handler serving a call made with onTimeout interrupt is removed when its actor exits", () =>
    Effect.gen(function*() {
      const ref = yield* startSubject()
      const target = yield* Actor.start(Idle, undefined)
      const m = (yield* Actor.call(ref, { monitor: target }, interrupting)) as Monitor.MonitorRef
      yield* Actor.stop(ref) // the monitor's owner exits: the monitor goes with it
      yield* Actor.kill(target)
      const down = yield* Effect.forkChild(m.down, { startImmediately: true })
      yield* TestClock.adjust(1)
      assert.isUndefined(down.pollUnsafe(), "the monitor outlived its owner")
    }))

  it.effect("a caller that gives up before the handler first suspends still interrupts the handler", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const log: Array<string> = []
      const caller: { fiber?: Fiber.Fiber<unknown, unknown> } = {}
      const Hanging = Behaviour.make<
        { readonly call: "hang" | "ping"; readonly reply: string; readonly cast: "block" }
      >()({
        init: () => Behaviour.ok(0),
        handleCast: (_message, s) =>
          Effect.andThen(
            Deferred.succeed(started, undefined),
            Effect.as(Deferred.await(release), Behaviour.noreply(s))
          ),
        handleCall: (request, _from, s) =>
          request === "ping" ? Behaviour.reply("pong", s) : Effect.suspend(() => {
            caller.fiber?.interruptUnsafe() // the caller gives up while the handler is still running
            return Effect.as(
              Effect.onInterrupt(Effect.never, () => Effect.sync(() => log.push("handler interrupted"))),
              Behaviour.reply("never", s)
            )
          })
      })
      const ref = yield* Actor.start(Hanging, undefined)
      yield* Actor.cast(ref, "block")
      yield* Deferred.await(started)
      const fiber = yield* Effect.forkChild(Actor.call(ref, "hang", { onTimeout: "interrupt", timeout: "infinity" }), {
        startImmediately: true
      })
      caller.fiber = fiber
      yield* Deferred.succeed(release, undefined)
      yield* TestClock.adjust(1)
      assert.deepStrictEqual(log, ["handler interrupted"])
      const ping = yield* Effect.forkChild(Actor.call(ref, "ping", { timeout: "infinity" }), { startImmediately: true })
      yield* TestClock.adjust(1)
      assert.deepStrictEqual(ping.pollUnsafe(), Exit.succeed("pong"), "the actor is stuck in the abandoned handler")
      yield* Actor.stop(ref)
    }))
})
