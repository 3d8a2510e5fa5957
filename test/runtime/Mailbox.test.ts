/**
 * The mailbox rules of issue 10, each named after the OTP rule it mirrors: a cast never blocks (unbounded default),
 * a self-send to a full `backpressure` mailbox fails at once, a call's timeout covers the whole call, and system
 * messages (stop signals, monitor `Down`s) are never dropped and never wait for room: they never count against the
 * capacity, `sliding` never evicts them and moves no other message, and a call that finds no room fails at once
 * instead of waiting for a reply to a request in no queue. Timing under `TestClock`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Actor, Behaviour, ExitReason, Monitor } from "../../src/runtime/index.ts"
import { gatedRecorder } from "./support/workers.ts"

type FloodProtocol = {
  readonly call: "count" | "errors" | { readonly flood: number }
  readonly reply: number | ReadonlyArray<string>
  readonly cast: "one"
}

interface FloodState {
  readonly count: number
  readonly errors: ReadonlyArray<string>
}

/** On `flood: n`, casts `one` to itself n times (recording any send error); counts the `one`s it receives. */
const Flooder = Behaviour.make<FloodProtocol>()({
  init: () => Behaviour.ok<FloodState>({ count: 0, errors: [] }),
  handleCast: (_message, s) => Behaviour.noreply({ ...s, count: s.count + 1 }),
  handleCall: (message, _from, s) => {
    if (message === "count") return Behaviour.reply(s.count, s)
    if (message === "errors") return Behaviour.reply(s.errors, s)
    return Effect.gen(function*() {
      const me = (yield* Actor.selfAs<FloodProtocol>()) as Actor.ActorRef<FloodProtocol>
      const errors: Array<string> = []
      for (let i = 0; i < message.flood; i++) {
        const exit = yield* Effect.exit(Actor.cast(me, "one"))
        if (Exit.isFailure(exit)) {
          const error = exit.cause.reasons.find((r) => r._tag === "Fail")?.error as { _tag: string; selfSend?: boolean }
          errors.push(`${error._tag}${error.selfSend === true ? " selfSend" : ""}`)
          break
        }
      }
      return Behaviour.reply(errors.length, { ...s, errors })
    })
  }
})

type GateProtocol = {
  readonly call: "ping"
  readonly reply: string
  readonly cast: "block" | "fill"
  readonly info: never
}

/** `block` parks the handler until `gate` opens; `Down`s are recorded in `log`. */
const Gated = (gate: Deferred.Deferred<void>, log: Array<string>) =>
  Behaviour.make<GateProtocol>()({
    init: () => Behaviour.ok(0),
    handleCall: (_request, _from, s) => Behaviour.reply("pong", s),
    handleCast: (message, s) =>
      message === "block" ? Effect.as(Deferred.await(gate), Behaviour.noreply(s)) : Behaviour.noreply(s),
    handleInfo: (message, s) => {
      if (message._tag === "Down") log.push(`down ${ExitReason.format(message.reason)}`)
      return Behaviour.noreply(s)
    },
    terminate: (reason) => Effect.sync(() => log.push(`terminate ${ExitReason.format(reason)}`))
  })

const Idle = Behaviour.make<{ readonly call: "ping"; readonly reply: string }>()({
  init: () => Behaviour.ok(0),
  handleCall: (_request, _from, s) => Behaviour.reply("pong", s)
})

describe("Mailbox (OTP: a send never blocks; signals are never lost)", () => {
  it.effect("gen_server:cast never blocks: a handler casting 10,001 times to itself on the default mailbox", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(Flooder, undefined)
      yield* Actor.call(ref, { flood: 10_001 })
      assert.strictEqual(yield* Actor.call(ref, "count"), 10_001)
      assert.deepStrictEqual(yield* Actor.call(ref, "errors"), [])
      assert.strictEqual(ref.dropped, 0)
      yield* Actor.stop(ref)
    }))

  it.effect("backpressure: a send to one's own full mailbox fails with MailboxFull { selfSend } at once", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(Flooder, undefined, { mailbox: { capacity: 3, overflow: "backpressure" } })
      yield* Actor.call(ref, { flood: 10 })
      // the handler did not deadlock: it got the typed error on the 4th send, and the actor keeps serving
      assert.deepStrictEqual(yield* Actor.call(ref, "errors"), ["MailboxFull selfSend"])
      assert.strictEqual(yield* Actor.call(ref, "count"), 3)
      yield* Actor.stop(ref)
    }))

  it.effect("gen_server:call timeout bounds the whole call, including the wait for mailbox room", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const ref = yield* Actor.start(Gated(gate, []), undefined, { mailbox: { capacity: 1, overflow: "backpressure" } })
      yield* Actor.cast(ref, "block")
      yield* Actor.cast(ref, "fill") // the mailbox is full now
      const caller = yield* Effect.forkChild(Effect.exit(Actor.call(ref, "ping", { timeout: 300 })), {
        startImmediately: true
      })
      yield* TestClock.adjust(299)
      assert.isUndefined(caller.pollUnsafe())
      yield* TestClock.adjust(1)
      const exit = yield* Fiber.join(caller)
      assert.isTrue(
        Exit.isFailure(exit) && exit.cause.reasons.some((r) => r._tag === "Fail" && r.error._tag === "CallTimeout")
      )
      // a call that gets room in time is answered
      const second = yield* Effect.forkChild(Actor.call(ref, "ping", { timeout: 300 }), { startImmediately: true })
      yield* TestClock.adjust(100)
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Fiber.join(second), "pong")
      yield* Actor.stop(ref)
    }))

  it.effect("gen_server:call to a deadlocked actor ends with CallTimeout", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>() // never opened: the actor is stuck for good
      const ref = yield* Actor.start(Gated(gate, []), undefined, { mailbox: { capacity: 1 } })
      yield* Actor.cast(ref, "block")
      yield* Actor.cast(ref, "fill")
      const caller = yield* Effect.forkChild(Effect.exit(Actor.call(ref, "ping")), { startImmediately: true })
      yield* TestClock.adjust(5000) // the default call timeout
      const exit = yield* Fiber.join(caller)
      assert.isTrue(
        Exit.isFailure(exit) && exit.cause.reasons.some((r) => r._tag === "Fail" && r.error._tag === "CallTimeout")
      )
      Actor.kill(ref).pipe(Effect.runSync)
    }))

  it.effect("erlang:monitor: exactly one Down reaches a watcher whose bounded mailbox is full", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const log: Array<string> = []
      const watcher = yield* Actor.start(Gated(gate, log), undefined, {
        mailbox: { capacity: 1, overflow: "dropping" }
      })
      yield* Actor.cast(watcher, "block")
      yield* Actor.cast(watcher, "fill")
      yield* Actor.cast(watcher, "fill") // dropped: the mailbox is full
      assert.strictEqual(watcher.dropped, 1)
      const target = yield* Actor.start(Idle, undefined)
      yield* Monitor.monitorFrom(watcher, target)
      yield* Actor.kill(target)
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Actor.call(watcher, "ping"), "pong")
      assert.deepStrictEqual(log, ["down killed"])
      assert.strictEqual(watcher.dropped, 1)
      yield* Actor.stop(watcher)
    }))

  it.effect("a stop signal never waits for room: gen_server:stop on a full mailbox", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const log: Array<string> = []
      const ref = yield* Actor.start(Gated(gate, log), undefined, { mailbox: { capacity: 1, overflow: "fail" } })
      yield* Actor.cast(ref, "block")
      yield* Actor.cast(ref, "fill")
      const stopping = yield* Effect.forkChild(Actor.stop(ref, ExitReason.shutdown), { startImmediately: true })
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(stopping)
      assert.deepStrictEqual(log, ["terminate shutdown"])
    }))

  it.effect(
    "backpressure: every blocked sender eventually delivers, in FIFO order, and later messages never overtake already-blocked senders",
    () =>
      Effect.gen(function*() {
        const started = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const seen: Array<number> = []
        const ref = yield* Actor.start(gatedRecorder(started, release, seen), undefined, {
          mailbox: { capacity: 1, overflow: "backpressure" }
        })
        yield* Actor.cast(ref, 0)
        yield* Deferred.await(started) // busy until release
        yield* Actor.cast(ref, 1) // the mailbox is full
        const fork = <A, E>(effect: Effect.Effect<A, E>) => Effect.forkChild(effect, { startImmediately: true })
        const s2 = yield* fork(Actor.cast(ref, 2))
        const s3 = yield* fork(Actor.cast(ref, 3))
        const caller = yield* fork(Actor.call(ref, "seen", { timeout: "infinity" }))
        const gaveUp = yield* fork(Effect.exit(Actor.cast(ref, 99)))
        yield* Fiber.interrupt(gaveUp) // a sender that gave up never delivers and never takes a slot
        const s4 = yield* fork(Actor.cast(ref, 4))
        assert.isUndefined(s2.pollUnsafe())
        assert.isUndefined(s4.pollUnsafe())
        yield* Deferred.succeed(release, undefined)
        yield* TestClock.adjust(1)
        for (const sender of [s2, s3, s4]) assert.isDefined(sender.pollUnsafe(), "a blocked sender stays blocked")
        assert.deepStrictEqual(yield* Fiber.join(caller), [1, 2, 3])
        assert.deepStrictEqual(seen, [1, 2, 3, 4])
        assert.strictEqual(ref.mailboxSize, 0)
      })
  )
})

type SystemProtocol = {
  readonly cast: number
  readonly call: "seen"
  readonly reply: ReadonlyArray<string>
  readonly info: string
}

/**
 * Cast `0` signals `started` and keeps it busy until `release`; other casts, and infos (system messages), are
 * recorded in `seen` (a `Down` as `down`); a call answers what was seen.
 */
const SystemRecorder = (started: Deferred.Deferred<void>, release: Deferred.Deferred<void>, seen: Array<string>) =>
  Behaviour.make<SystemProtocol>()({
    init: () => Behaviour.ok(null),
    handleCast: (n, s) =>
      n === 0
        ? Effect.andThen(Deferred.succeed(started, undefined), Effect.as(Deferred.await(release), Behaviour.noreply(s)))
        : Effect.sync(() => {
          seen.push(`cast ${n}`)
          return Behaviour.noreply(s)
        }),
    handleInfo: (message, s) => {
      seen.push(typeof message === "string" ? message : "down")
      return Behaviour.noreply(s)
    },
    handleCall: (_request, _from, s) => Behaviour.reply([...seen], s)
  })

/** Starts a SystemRecorder with `mailbox` and makes it busy (its mailbox empty) until the returned `release`. */
const busyRecorder = (mailbox: Actor.MailboxOptions) =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const seen: Array<string> = []
    const ref = yield* Actor.start(SystemRecorder(started, release, seen), undefined, { mailbox })
    yield* Actor.cast(ref, 0)
    yield* Deferred.await(started)
    return { ref, seen, release: Deferred.succeed(release, undefined) }
  })

const failedWith = (exit: Exit.Exit<unknown, { readonly _tag: string }>): string | undefined =>
  Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error._tag : undefined

describe("Mailbox system messages (OTP: signals are never dropped and never wait for room)", () => {
  it.effect("sliding never evicts a system message: a monitor Down survives later casts, the oldest cast is evicted", () =>
    Effect.gen(function*() {
      const watcher = yield* busyRecorder({ capacity: 2, overflow: "sliding" })
      const target = yield* Actor.start(Idle, undefined)
      yield* Monitor.monitorFrom(watcher.ref, target)
      yield* Actor.kill(target) // the Down is queued
      yield* Actor.cast(watcher.ref, 1)
      yield* Actor.cast(watcher.ref, 2)
      yield* Actor.cast(watcher.ref, 3) // full (2 casts): the oldest cast is evicted, not the Down
      yield* watcher.release
      assert.deepStrictEqual(yield* Actor.call(watcher.ref, "seen"), ["down", "cast 2", "cast 3"])
      assert.strictEqual(watcher.ref.dropped, 1)
      yield* Actor.stop(watcher.ref)
    }))

  it.effect("sliding evicts the oldest user message and keeps every other message in its order", () =>
    Effect.gen(function*() {
      const { ref, release } = yield* busyRecorder({ capacity: 2, overflow: "sliding" })
      yield* Actor.cast(ref, 1)
      Actor.sendSystemUnsafe(ref, "system 1")
      yield* Actor.cast(ref, 2)
      Actor.sendSystemUnsafe(ref, "system 2")
      yield* Actor.cast(ref, 3) // evicts cast 1 only
      yield* Actor.cast(ref, 4) // evicts cast 2 only
      yield* release
      assert.deepStrictEqual(yield* Actor.call(ref, "seen"), ["system 1", "system 2", "cast 3", "cast 4"])
      assert.strictEqual(ref.dropped, 2)
      yield* Actor.stop(ref)
    }))

  it.effect("a call to a sliding mailbox holding a stop is queued behind it and fails with ActorExited, never hangs", () =>
    Effect.gen(function*() {
      const { ref, release } = yield* busyRecorder({ capacity: 1, overflow: "sliding" })
      const stopping = yield* Effect.forkChild(Actor.stop(ref, ExitReason.normal), { startImmediately: true })
      const caller = yield* Effect.forkChild(Effect.exit(Actor.call(ref, "seen", { timeout: "infinity" })), {
        startImmediately: true
      })
      yield* release
      yield* Fiber.join(stopping)
      yield* TestClock.adjust("1 hour")
      const exit = caller.pollUnsafe()
      assert.isDefined(exit, "the caller hangs")
      assert.strictEqual(exit !== undefined && Exit.isSuccess(exit) ? failedWith(exit.value) : "none", "ActorExited")
    }))

  it.effect("a call that finds no room after a sliding eviction fails with MailboxFull at once, never hangs", () =>
    Effect.gen(function*() {
      const { ref, release } = yield* busyRecorder({ capacity: 1, overflow: "sliding" })
      // the first caller, evicted, casts at once from its own resumption and takes the freed slot
      const evicted = yield* Effect.forkChild(
        Effect.flatMap(
          Effect.exit(Actor.call(ref, "seen", { timeout: "infinity" })),
          (exit) => Effect.as(Actor.cast(ref, 7), failedWith(exit))
        ),
        { startImmediately: true }
      )
      const second = yield* Effect.forkChild(Effect.exit(Actor.call(ref, "seen", { timeout: "infinity" })), {
        startImmediately: true
      })
      assert.strictEqual(yield* Fiber.join(evicted), "MailboxFull")
      yield* TestClock.adjust("1 hour")
      const exit = second.pollUnsafe()
      assert.isDefined(exit, "the second caller hangs")
      assert.strictEqual(exit !== undefined && Exit.isSuccess(exit) ? failedWith(exit.value) : "none", "MailboxFull")
      yield* release
      assert.deepStrictEqual(yield* Actor.call(ref, "seen"), ["cast 7"])
      yield* Actor.stop(ref)
    }))

  it.effect("a system message never counts against the capacity, under every overflow strategy", () =>
    Effect.gen(function*() {
      for (const overflow of ["fail", "dropping", "sliding", "backpressure"] as const) {
        const { ref, release } = yield* busyRecorder({ capacity: 1, overflow })
        Actor.sendSystemUnsafe(ref, "system")
        const cast = yield* Effect.forkChild(Effect.exit(Actor.cast(ref, 1)), { startImmediately: true })
        const exit = cast.pollUnsafe()
        assert.isDefined(exit, `${overflow}: the cast waits for room`)
        assert.isTrue(exit !== undefined && Exit.isSuccess(exit) && Exit.isSuccess(exit.value), overflow)
        assert.isFalse(Actor.sendUnsafe(ref, "ordinary"), `${overflow}: the one slot is taken by the cast`)
        yield* release
        assert.deepStrictEqual(yield* Actor.call(ref, "seen"), ["system", "cast 1"], overflow)
        assert.strictEqual(ref.dropped, 0, overflow)
        yield* Actor.stop(ref)
      }
    }))
})
