import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import { Actor, Behaviour, ChildSpec, ExitReason, Process, Registry, Supervisor } from "../../src/runtime/index.ts"
import { gatedRecorder, slowInit } from "./support/workers.ts"

type CounterProtocol = {
  readonly call: "get" | "crash" | { readonly sleep: number } | "later" | "stop-with-reply" | "self"
  readonly reply: number | string
  readonly cast: { readonly add: number } | "crash"
  readonly info: "ping"
}

const makeCounter = (log: Array<string>) =>
  Behaviour.make<CounterProtocol>()({
    init: (start: number) => Behaviour.ok(start),
    handleCall: (request, from, n) => {
      if (request === "get") return Behaviour.reply(n, n)
      if (request === "crash") throw new Error("handler threw")
      if (request === "later") {
        // reply from another fiber, after this handler returned noreply
        return Effect.as(
          Effect.forkDetach(Effect.andThen(Effect.sleep(100), Actor.reply(from, n * 10))),
          Behaviour.noreply(n)
        )
      }
      if (request === "stop-with-reply") return Behaviour.stop(ExitReason.normal, n, "bye")
      if (request === "self") {
        return Effect.flatMap(Actor.self, (me) =>
          me === undefined ?
            Effect.die("no self") :
            Effect.map(Effect.exit(Actor.call(me as Actor.ActorRef<CounterProtocol>, "get")), (exit) =>
              Behaviour.reply(
                Exit.isFailure(exit)
                  ? String((Cause.squash(exit.cause) as { readonly _tag: string })._tag)
                  : "no error",
                n
              )))
      }
      return Effect.as(Effect.sleep(request.sleep), Behaviour.reply(n + 1, n + 1))
    },
    handleCast: (message, n) => {
      if (message === "crash") {
        return Effect.fail("cast failed")
      }
      log.push(`cast ${message.add}`)
      return Behaviour.noreply(n + message.add)
    },
    handleInfo: (message, n) => {
      log.push(`info ${typeof message === "string" ? message : message._tag}`)
      return Behaviour.noreply(n)
    },
    terminate: (reason) => Effect.sync(() => log.push(`terminate ${ExitReason.format(reason)}`))
  })

describe("Actor", () => {
  it.effect("start is synchronous; call, cast and send are processed one at a time, in order", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const ref = yield* Actor.start(makeCounter(log), 1)
      yield* Actor.cast(ref, { add: 2 })
      yield* Actor.send(ref, "ping")
      yield* Actor.cast(ref, { add: 3 })
      assert.strictEqual(yield* Actor.call(ref, "get"), 6)
      assert.deepStrictEqual(log, ["cast 2", "info ping", "cast 3"])
      yield* Actor.stop(ref)
      assert.deepStrictEqual(log.at(-1), "terminate normal")
    }))

  it.effect("init: ignore → StartIgnored without terminate; stop(reason) → InitFailed with that reason", () =>
    Effect.gen(function*() {
      let terminated = false
      const ignoring = Behaviour.make<{}>()({ init: () => Behaviour.ignore, terminate: () => void (terminated = true) })
      const ignored = yield* Effect.flip(Actor.start(ignoring, undefined))
      assert.strictEqual(ignored._tag, "StartIgnored")
      const stopping = Behaviour.make<{}>()({ init: () => Behaviour.stopInit(ExitReason.shutdownWith("no config")) })
      const failed = yield* Effect.flip(Actor.start(stopping, undefined))
      assert.strictEqual(failed._tag, "InitFailed")
      assert.deepStrictEqual(failed._tag === "InitFailed" && failed.exitReason, ExitReason.shutdownWith("no config"))
      const crashing = Behaviour.make<{}>()({ init: () => Effect.die(new Error("init crash")) })
      const crashed = yield* Effect.flip(Actor.start(crashing, undefined))
      assert.isTrue(crashed._tag === "InitFailed" && crashed.exitReason._tag === "Failure")
      assert.isFalse(terminated)
    }))

  it.effect("call timeout: CallTimeout for the caller, the server keeps working and the late reply is dropped", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(makeCounter([]), 0)
      const caller = yield* Effect.forkChild(Effect.flip(Actor.call(ref, { sleep: 10_000 }, { timeout: 5000 })), {
        startImmediately: true
      })
      yield* TestClock.adjust(5000)
      const error = yield* Fiber.join(caller)
      assert.strictEqual(error._tag, "CallTimeout")
      yield* TestClock.adjust(5000) // the handler finishes: state 1, its reply is dropped
      assert.strictEqual(yield* Actor.call(ref, "get"), 1)
    }))

  it.effect("call timeout with onTimeout: interrupt interrupts the handler and keeps the state", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(makeCounter([]), 0)
      const caller = yield* Effect.forkChild(
        Effect.flip(Actor.call(ref, { sleep: 10_000 }, { timeout: 1000, onTimeout: "interrupt" })),
        { startImmediately: true }
      )
      yield* TestClock.adjust(1000)
      assert.strictEqual((yield* Fiber.join(caller))._tag, "CallTimeout")
      assert.strictEqual(yield* Actor.call(ref, "get"), 0) // answered at once: the sleeping handler is gone
    }))

  it.effect("default call timeout is 5 seconds", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(makeCounter([]), 0)
      const caller = yield* Effect.forkChild(Effect.exit(Actor.call(ref, { sleep: 60_000 })), {
        startImmediately: true
      })
      yield* TestClock.adjust(4999)
      assert.isUndefined(caller.pollUnsafe())
      yield* TestClock.adjust(1)
      const exit = yield* Fiber.join(caller)
      assert.isTrue(Exit.isFailure(exit) && Cause.squash(exit.cause) instanceof Error)
    }))

  it.effect("NoProc for a stopped actor; ActorExited with the reason when it dies mid-call; CallingSelf", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const ref = yield* Actor.start(makeCounter(log), 0)
      const crashed = yield* Effect.flip(Actor.call(ref, "crash"))
      assert.strictEqual(crashed._tag, "ActorExited")
      assert.isTrue(crashed._tag === "ActorExited" && crashed.exitReason._tag === "Failure")
      assert.isTrue(log.at(-1)?.startsWith("terminate failure(Error: handler threw)"))
      const dead = yield* Effect.flip(Actor.call(ref, "get"))
      assert.strictEqual(dead._tag, "NoProc")
      const other = yield* Actor.start(makeCounter([]), 0)
      assert.strictEqual(yield* Actor.call(other, "self"), "CallingSelf")
    }))

  it.effect("callUnsafe: an Exit (isSyncReply) when the answer is synchronous or the call fails at once, else a waiting effect", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(makeCounter([]), 7)
      const now = yield* Effect.suspend(() => Effect.succeed(Actor.callUnsafe(ref, "get")))
      assert.isTrue(Actor.isSyncReply(now))
      assert.isTrue(Exit.isExit(now) && Exit.isSuccess(now) && now.value === 7)
      const later = yield* Effect.suspend(() => Effect.succeed(Actor.callUnsafe(ref, "later")))
      assert.isFalse(Actor.isSyncReply(later))
      assert.isFalse(Exit.isExit(later))
      yield* TestClock.adjust(100)
      assert.strictEqual(yield* later, 70)
      yield* Actor.stop(ref)
      const dead = yield* Effect.suspend(() => Effect.succeed(Actor.callUnsafe(ref, "get")))
      assert.isTrue(Actor.isSyncReply(dead) && Exit.isFailure(dead))
    }))

  it.effect("cast and send never fail for a dead actor", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(makeCounter([]), 0)
      yield* Actor.stop(ref)
      yield* Actor.cast(ref, { add: 1 })
      yield* Actor.send(ref, "ping")
      assert.isFalse(Actor.isAlive(ref))
    }))

  it.effect("a failing or throwing handler is a crash of that actor only", () =>
    Effect.gen(function*() {
      const a = yield* Actor.start(makeCounter([]), 0)
      const b = yield* Actor.start(makeCounter([]), 5)
      yield* Actor.cast(a, "crash")
      const reason = yield* Process.awaitExit(a)
      assert.strictEqual(reason._tag, "Failure")
      assert.strictEqual(yield* Actor.call(b, "get"), 5)
    }))

  it.effect("noreply, then Actor.reply from another fiber", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(makeCounter([]), 7)
      const caller = yield* Effect.forkChild(Actor.call(ref, "later"), { startImmediately: true })
      assert.strictEqual(yield* Actor.call(ref, "get"), 7) // the server is free while the reply is pending
      yield* TestClock.adjust(100)
      assert.strictEqual(yield* Fiber.join(caller), 70)
    }))

  it.effect("stop with a reply: terminate runs, then the caller gets the reply; stop is synchronous", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const ref = yield* Actor.start(makeCounter(log), 0)
      assert.strictEqual(yield* Actor.call(ref, "stop-with-reply"), "bye")
      assert.deepStrictEqual(log, ["terminate normal"])
      assert.deepStrictEqual(ref.exitReason, ExitReason.normal)
      const other = yield* Actor.start(makeCounter(log), 0)
      yield* Actor.stop(other, ExitReason.shutdownWith("maintenance"))
      assert.strictEqual(log.at(-1), "terminate shutdown(maintenance)")
      assert.strictEqual((yield* Effect.flip(Actor.stop(other)))._tag, "NoProc")
    }))

  it.effect("handleContinue runs before the next message", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const b = Behaviour.make<{ cast: string; continue: string; call: "log"; reply: ReadonlyArray<string> }>()({
        init: () => Behaviour.ok(null, { continue: "after-init" }),
        handleCast: (m, s) => {
          log.push(m)
          return Behaviour.noreply(s, { continue: `after-${m}` })
        },
        handleContinue: (arg, s) => {
          log.push(arg)
          return Behaviour.noreply(s)
        },
        handleCall: (_r, _f, s) => Behaviour.reply(log, s)
      })
      const ref = yield* Actor.start(b, undefined)
      yield* Actor.cast(ref, "a")
      yield* Actor.cast(ref, "b")
      assert.deepStrictEqual(yield* Actor.call(ref, "log"), ["after-init", "a", "after-a", "b", "after-b"])
    }))

  it.effect("idle timeout: handleInfo(IdleTimeout) when nothing arrives; an arrival cancels it", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const b = Behaviour.make<{ cast: "poke" }>()({
        init: () => Behaviour.ok(0, { timeout: 1000 }),
        handleCast: (_m, s) => {
          log.push("poke")
          return Behaviour.noreply(s, { timeout: 1000 })
        },
        handleInfo: (m, s) => {
          log.push(m._tag)
          return Behaviour.noreply(s)
        }
      })
      const ref = yield* Actor.start(b, undefined)
      yield* TestClock.adjust(999)
      yield* Actor.cast(ref, "poke") // cancels the first timer, arms a new one
      yield* TestClock.adjust(999)
      assert.deepStrictEqual(log, ["poke"])
      yield* TestClock.adjust(1)
      assert.deepStrictEqual(log, ["poke", "IdleTimeout"])
      yield* TestClock.adjust(5000)
      assert.deepStrictEqual(log, ["poke", "IdleTimeout"]) // noreply without timeout: no more timeouts
    }))

  describe("mailbox overflow", () => {
    const setup = (overflow: Actor.Overflow) =>
      Effect.gen(function*() {
        const started = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const seen: Array<number> = []
        const ref = yield* Actor.start(gatedRecorder(started, release, seen), undefined, {
          mailbox: { capacity: 2, overflow }
        })
        yield* Actor.cast(ref, 0) // the actor is now busy until release
        yield* Deferred.await(started)
        yield* Actor.cast(ref, 1)
        yield* Actor.cast(ref, 2) // mailbox full
        return { ref, release, seen }
      })

    it.effect("backpressure: the sender waits for room; nothing is lost", () =>
      Effect.gen(function*() {
        const { ref, release } = yield* setup("backpressure")
        const sender = yield* Effect.forkChild(Actor.cast(ref, 3), { startImmediately: true })
        assert.isUndefined(sender.pollUnsafe())
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(sender)
        assert.deepStrictEqual(yield* Actor.call(ref, "seen"), [1, 2, 3])
      }))

    it.effect("dropping drops the new message; sliding evicts the oldest; fail fails the sender", () =>
      Effect.gen(function*() {
        const dropping = yield* setup("dropping")
        yield* Actor.cast(dropping.ref, 3)
        yield* Deferred.succeed(dropping.release, undefined)
        assert.deepStrictEqual(yield* Actor.call(dropping.ref, "seen"), [1, 2])
        assert.strictEqual(dropping.ref.dropped, 1)

        const sliding = yield* setup("sliding")
        yield* Actor.cast(sliding.ref, 3)
        yield* Deferred.succeed(sliding.release, undefined)
        assert.deepStrictEqual(yield* Actor.call(sliding.ref, "seen"), [2, 3])

        const failing = yield* setup("fail")
        const error = yield* Effect.flip(Actor.cast(failing.ref, 3))
        assert.strictEqual(error._tag, "MailboxFull")
        const callError = yield* Effect.flip(Actor.call(failing.ref, "seen"))
        assert.strictEqual(callError._tag, "MailboxFull")
      }))
  })

  it.effect("bad options fail with InvalidOptions naming the field", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Actor.start(makeCounter([]), 0, { mailbox: { capacity: 0 } }))
      assert.strictEqual(error._tag, "InvalidOptions")
      assert.isTrue(error._tag === "InvalidOptions" && error.path === "mailbox.capacity")
      const overflow = yield* Effect.flip(
        Actor.start(makeCounter([]), 0, { mailbox: { overflow: "explode" as Actor.Overflow } })
      )
      assert.isTrue(overflow._tag === "InvalidOptions" && overflow.path === "mailbox.overflow")
    }))

  it.effect("an interrupted start kills the actor whose init is running", () =>
    Effect.gen(function*() {
      const started: Array<Process.Process> = []
      const slow = slowInit(started)
      const starter = yield* Effect.forkChild(Actor.start(slow, undefined), { startImmediately: true })
      yield* TestClock.adjust(100)
      yield* Fiber.interrupt(starter)
      yield* TestClock.adjust(2000)
      assert.deepStrictEqual(started[0]?.exitReason, ExitReason.killed)

      // the same under a timeout shorter than init
      const timedOut = yield* Effect.forkChild(Effect.exit(Effect.timeout(Actor.start(slow, undefined), 100)), {
        startImmediately: true
      })
      yield* TestClock.adjust(2000)
      assert.isTrue(Exit.isFailure(yield* Fiber.join(timedOut)))
      assert.deepStrictEqual(started[1]?.exitReason, ExitReason.killed)
    }))

  describe("{stop, reason, reply}", () => {
    const quitting = (terminate: () => Effect.Effect<void> | void) =>
      Behaviour.make<{ call: "quit"; reply: string }>()({
        init: () => Behaviour.ok(0),
        handleCall: (_r, _f, s) => Behaviour.stop(ExitReason.normal, s, "bye"),
        terminate
      })

    it.effect("a {stop, reason, reply} result sends its reply after terminate, even when terminate crashes", () =>
      Effect.gen(function*() {
        const throwing = yield* Actor.start(
          quitting(() => {
            throw new Error("terminate crashed")
          }),
          undefined
        )
        const caller = yield* Effect.forkChild(Actor.call(throwing, "quit", { timeout: "infinity" }), {
          startImmediately: true
        })
        yield* TestClock.adjust(1)
        assert.deepStrictEqual(caller.pollUnsafe(), Exit.succeed("bye"))
        assert.strictEqual(throwing.exitReason?._tag, "Failure") // the crash is the exit reason

        const failing = yield* Actor.start(quitting(() => Effect.die(new Error("terminate failed"))), undefined)
        assert.strictEqual(yield* Actor.call(failing, "quit", { timeout: "infinity" }), "bye")
        assert.strictEqual((yield* Process.awaitExit(failing))._tag, "Failure")
      }))

    it.effect("if the actor is killed before replying, the caller fails with ActorExited, never hangs", () =>
      Effect.gen(function*() {
        const ref = yield* Actor.start(quitting(() => Effect.never), undefined)
        const caller = yield* Effect.forkChild(Effect.flip(Actor.call(ref, "quit", { timeout: "infinity" })), {
          startImmediately: true
        })
        yield* TestClock.adjust(100) // terminate is running
        assert.isUndefined(caller.pollUnsafe())
        yield* Actor.kill(ref)
        yield* TestClock.adjust(1)
        assert.isDefined(caller.pollUnsafe(), "the caller hangs")
        const error = yield* Fiber.join(caller)
        assert.strictEqual(error._tag, "ActorExited")
        assert.deepStrictEqual(error._tag === "ActorExited" ? error.exitReason : undefined, ExitReason.killed)
      }))
  })

  it.effect("kill skips terminate and leaves reason killed", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const ref = yield* Actor.start(makeCounter(log), 0)
      ref.kill()
      assert.deepStrictEqual(yield* Process.awaitExit(ref), ExitReason.killed)
      assert.deepStrictEqual(log, [])
    }))

  it.effect("state survives many messages; a long burst of casts keeps order", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(makeCounter([]), 0)
      const total = yield* Ref.make(0)
      for (let i = 1; i <= 2000; i++) {
        yield* Actor.cast(ref, { add: 1 })
        yield* Ref.update(total, (t) => t + 1)
      }
      assert.strictEqual(yield* Actor.call(ref, "get"), yield* Ref.get(total))
    }))
})

type StuckProtocol = { readonly call: "hang" | "ping"; readonly reply: string; readonly cast: "hang" }

/** An actor whose `hang` handler is stuck in a finalizer that never ends once it is interrupted. */
const Stuck = (options: { readonly trapExit?: boolean; readonly hangInTerminate?: boolean } = {}) =>
  Behaviour.make<StuckProtocol>()({
    trapExit: options.trapExit ?? false,
    init: () => Behaviour.ok(0),
    handleCall: (request, _from, s) =>
      request === "ping" ? Behaviour.reply("pong", s) : Effect.ensuring(Effect.never, Effect.never),
    handleCast: () => Effect.ensuring(Effect.never, Effect.never),
    ...(options.hangInTerminate === true ? { terminate: () => Effect.uninterruptible(Effect.never) } : {})
  })

describe("Actor: a kill does not wait for finalizers", () => {
  it.effect("a kill does not wait for finalizers: an actor stuck in a hanging finalizer exits killed at once, its callers fail with ActorExited and its name is freed", () =>
    Effect.gen(function*() {
      const registry = yield* Registry.make({ keys: "unique" })
      const ref = yield* Actor.start(Stuck(), undefined, { name: Registry.via<StuckProtocol>(registry, "stuck") })
      const serving = yield* Effect.forkChild(Effect.flip(Actor.call(ref, "hang", { timeout: "infinity" })), {
        startImmediately: true
      })
      const queued = yield* Effect.forkChild(Effect.flip(Actor.call(ref, "ping", { timeout: "infinity" })), {
        startImmediately: true
      })
      yield* Actor.kill(ref)
      assert.deepStrictEqual(ref.exitReason, ExitReason.killed)
      for (const caller of [serving, queued]) {
        const error = yield* Fiber.join(caller)
        assert.isTrue(error._tag === "ActorExited" && ExitReason.equals(error.exitReason, ExitReason.killed))
      }
      assert.isUndefined(yield* Registry.whereis(registry, "stuck"))
      const again = yield* Actor.start(Stuck(), undefined, { name: Registry.via<StuckProtocol>(registry, "stuck") })
      assert.strictEqual(yield* Actor.call(again, "ping"), "pong")
    }))

  it.effect("a kill does not wait for finalizers: a shutdown timeout kills a trapping actor whose terminate hangs uninterruptibly", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.spawn({
        children: [
          ChildSpec.actor("a", Stuck({ trapExit: true, hangInTerminate: true }), undefined, { shutdown: 1000 })
        ]
      })
      const child = (yield* Supervisor.whichChildren(sup))[0]?.process
      if (!Process.isProcess(child)) return yield* Effect.die("child a is not running")
      const terminating = yield* Effect.forkChild(Supervisor.terminateChild(sup, "a"), { startImmediately: true })
      yield* TestClock.adjust(999)
      assert.isUndefined(child.exitReason)
      yield* TestClock.adjust(1)
      yield* Fiber.join(terminating)
      assert.deepStrictEqual(child.exitReason, ExitReason.killed)
    }))

  it.effect("a kill does not wait for finalizers: a shutdown timeout kills a non-trapping actor stuck in a finalizer", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.spawn({ children: [ChildSpec.actor("a", Stuck(), undefined, { shutdown: 1000 })] })
      const child = (yield* Supervisor.whichChildren(sup))[0]?.process
      if (!Process.isProcess(child)) return yield* Effect.die("child a is not running")
      yield* Actor.cast(child as Actor.ActorRef<StuckProtocol>, "hang") // a supervisor's child is an actor here
      const terminating = yield* Effect.forkChild(Supervisor.terminateChild(sup, "a"), { startImmediately: true })
      yield* TestClock.adjust(999)
      assert.isUndefined(child.exitReason) // the exit signal interrupted it; its finalizer is waited for
      yield* TestClock.adjust(1)
      yield* Fiber.join(terminating)
      assert.deepStrictEqual(child.exitReason, ExitReason.killed)
      assert.strictEqual((yield* Supervisor.countChildren(sup)).active, 0)
    }))
})
