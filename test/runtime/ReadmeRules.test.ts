/**
 * Runtime rules the README states that no other test covers: supervisors never log by themselves, an unhandled
 * info is dropped silently, `hibernate` drops the mailbox's spare buffer (from `init` or from a handler), and a
 * system message (`Actor.sendSystemUnsafe`) reaches a full bounded mailbox without waiting for room.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Logger, References } from "effect"
import { Actor, Behaviour, Supervisor } from "../../src/runtime/index.ts"
import { exitChild, workerSpec } from "./support/workers.ts"

type GateProtocol = {
  readonly call: "ping"
  readonly reply: string
  readonly cast: "block" | "fill"
  readonly info: string
}

/** `block` parks the handler until `gate` opens, then returns with `hibernate`; infos are recorded in `log`. */
const Gated = (gate: Deferred.Deferred<void>, log: Array<string>, hibernate: boolean) =>
  Behaviour.make<GateProtocol>()({
    init: () => Behaviour.ok(0, { hibernate }),
    handleCall: (_request, _from, s) => Behaviour.reply("pong", s),
    handleCast: (message, s) =>
      message === "block"
        ? Effect.as(Deferred.await(gate), Behaviour.noreply(s, { hibernate }))
        : Behaviour.noreply(s + 1),
    handleInfo: (message, s) => {
      log.push(typeof message === "string" ? message : message._tag)
      return Behaviour.noreply(s)
    }
  })

/** The backing array of an actor's mailbox (internal: `queue.items`), or undefined when it has none. */
const mailboxSlots = (ref: Actor.ActorRef<GateProtocol>): number | undefined =>
  // internal fields, read only to observe the buffer hibernation drops
  (ref as unknown as { readonly queue?: { readonly items: ReadonlyArray<unknown> } }).queue?.items.length

const withoutInfo = Behaviour.make<{ readonly call: "ping"; readonly reply: string }>()({
  init: () => Behaviour.ok(0),
  handleCall: (_request, _from, s) => Behaviour.reply("pong", s + 1)
})

const captureLogs = (lines: Array<string>) =>
  Layer.mergeAll(
    Logger.layer([Logger.make(({ message }) => {
      lines.push(String(Array.isArray(message) ? message.join(" ") : message))
    })]),
    Layer.succeed(References.MinimumLogLevel, "All")
  )

describe("runtime rules of the README", () => {
  it.effect("supervisors never log by themselves: start, crash, restart, give-up and shutdown write no log line", () => {
    const lines: Array<string> = []
    return Effect.gen(function*() {
      yield* Effect.logDebug("control") // the capture works, for actor fibers too:
      const talker = yield* Actor.start(
        Behaviour.make<{ readonly cast: "x" }>()({ init: () => Effect.as(Effect.log("actor"), Behaviour.ok(0)) }),
        undefined
      )
      yield* Actor.stop(talker)
      const sup = yield* Supervisor.spawn({ name: "quiet", maxRestarts: 1, children: [workerSpec([], "w")] })
      yield* exitChild(sup, "w", "crash") // restarted
      yield* exitChild(sup, "w", "crash") // intensity reached: the supervisor gives up
      assert.isDefined(sup.exitReason)
      const other = yield* Supervisor.spawn({ name: "stopped", children: [workerSpec([], "v")] })
      yield* Supervisor.shutdownTree(other)
      assert.deepStrictEqual(lines, ["control", "actor"])
    }).pipe(Effect.provide(captureLogs(lines)))
  })

  it.effect("an unhandled info is dropped silently: no crash, no log line, the actor keeps serving", () => {
    const lines: Array<string> = []
    return Effect.gen(function*() {
      const ref = yield* Actor.start(withoutInfo, undefined)
      assert.isTrue(Actor.sendUnsafe(ref, "unexpected")) // its protocol has no info at all
      assert.isTrue(Actor.sendUnsafe(ref, { also: "unexpected" }))
      assert.strictEqual(yield* Actor.call(ref, "ping"), "pong")
      assert.isUndefined(ref.exitReason)
      assert.deepStrictEqual(lines, [])
      yield* Actor.stop(ref)
    }).pipe(Effect.provide(captureLogs(lines)))
  })

  it.effect("hibernate (from init or a handler) drops the mailbox's spare buffer while idle; without it the buffer stays", () =>
    Effect.gen(function*() {
      const run = Effect.fnUntraced(function*(hibernate: boolean) {
        const gate = yield* Deferred.make<void>()
        const ref = yield* Actor.start(Gated(gate, [], hibernate), undefined)
        yield* Actor.cast(ref, "block")
        for (let i = 0; i < 1000; i++) yield* Actor.cast(ref, "fill") // the buffer grows past 1,000 slots
        assert.isAtLeast(mailboxSlots(ref) ?? 0, 1000)
        yield* Deferred.succeed(gate, undefined)
        assert.strictEqual(yield* Actor.call(ref, "ping"), "pong") // every fill handled, the actor idles again
        yield* Effect.yieldNow
        const slots = mailboxSlots(ref)
        yield* Actor.stop(ref)
        return slots
      })
      assert.isUndefined(yield* run(true))
      assert.isAtLeast((yield* run(false)) ?? 0, 1000)
      // init → hibernate: an actor whose init asks for hibernation starts and serves normally
      const gate = yield* Deferred.make<void>()
      const ref = yield* Actor.start(Gated(gate, [], true), undefined)
      assert.isUndefined(mailboxSlots(ref))
      assert.strictEqual(yield* Actor.call(ref, "ping"), "pong")
      yield* Actor.stop(ref)
    }))

  it.effect("a system message (Actor.sendSystemUnsafe) is never dropped and never waits: a full bounded mailbox takes it", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const log: Array<string> = []
      const ref = yield* Actor.start(Gated(gate, log, false), undefined, {
        mailbox: { capacity: 1, overflow: "dropping" }
      })
      yield* Actor.cast(ref, "block")
      yield* Actor.cast(ref, "fill") // the mailbox is full now
      assert.isFalse(Actor.sendUnsafe(ref, "ordinary")) // an ordinary info is refused
      assert.isTrue(Actor.sendSystemUnsafe(ref, "system")) // a system one is taken, at once
      assert.isTrue(Actor.sendSystemUnsafe(ref, "system 2"))
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Actor.call(ref, "ping"), "pong")
      assert.deepStrictEqual(log, ["system", "system 2"])
      yield* Actor.stop(ref)
      assert.isFalse(Actor.sendSystemUnsafe(ref, "late")) // false only for a process that is not alive
    }))
})
