import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Actor, Behaviour, ExitReason, Monitor, Process, Registry } from "../../src/runtime/index.ts"

type EchoProtocol = { readonly call: string; readonly reply: string; readonly cast: string; readonly info: unknown }
const echo = (seen: Array<unknown> = []) =>
  Behaviour.make<EchoProtocol>()({
    init: (name: string) => Behaviour.ok(name),
    handleCall: (m, _f, s) => Behaviour.reply(`${s}:${m}`, s),
    handleCast: (m, s) => {
      seen.push(m)
      return Behaviour.noreply(s)
    },
    handleInfo: (m, s) => {
      seen.push(m)
      return Behaviour.noreply(s)
    }
  })

describe("Registry", () => {
  it.effect("unique keys: name-based start, call and cast by name, AlreadyStarted for a taken name", () =>
    Effect.gen(function*() {
      const reg = yield* Registry.make({ keys: "unique", name: "names" })
      const seen: Array<unknown> = []
      const ref = yield* Actor.start(echo(seen), "one", { name: Registry.via<EchoProtocol>(reg, "svc") })
      assert.strictEqual(yield* Actor.call(Registry.via<EchoProtocol>(reg, "svc"), "hi"), "one:hi")
      yield* Actor.cast(Registry.via<EchoProtocol>(reg, "svc"), "cast-by-name")
      assert.deepStrictEqual(seen, ["cast-by-name"])
      const taken = yield* Effect.flip(Actor.start(echo(), "two", { name: Registry.via<EchoProtocol>(reg, "svc") }))
      assert.isTrue(taken._tag === "AlreadyStarted" && taken.pid === ref.pid)
      assert.strictEqual(yield* Registry.whereis(reg, "svc"), ref)
    }))

  it.effect("entries are removed when the process exits; the name can then be reused", () =>
    Effect.gen(function*() {
      const reg = yield* Registry.make({ keys: "unique" })
      const ref = yield* Actor.start(echo(), "one", { name: Registry.via<EchoProtocol>(reg, "svc") })
      yield* Actor.stop(ref)
      assert.deepStrictEqual(yield* Registry.lookup(reg, "svc"), [])
      assert.strictEqual(reg.size, 0)
      assert.strictEqual((yield* Effect.flip(Actor.call(Registry.via<EchoProtocol>(reg, "svc"), "x")))._tag, "NoProc")
      yield* Actor.cast(Registry.via<EchoProtocol>(reg, "svc"), "to nobody") // cast never fails
      yield* Actor.start(echo(), "again", { name: Registry.via<EchoProtocol>(reg, "svc") })
      assert.strictEqual(yield* Actor.call(Registry.via<EchoProtocol>(reg, "svc"), "x"), "again:x")
    }))

  it.effect("duplicate keys with values: lookup and dispatch (pub/sub)", () =>
    Effect.gen(function*() {
      const reg = yield* Registry.make<string, { readonly priority: number }>({ keys: "duplicate" })
      const seenA: Array<unknown> = []
      const seenB: Array<unknown> = []
      const a = yield* Actor.start(echo(seenA), "a")
      const b = yield* Actor.start(echo(seenB), "b")
      yield* Registry.register(reg, "topic", a, { priority: 1 })
      yield* Registry.register(reg, "topic", b, { priority: 2 })
      assert.deepStrictEqual((yield* Registry.lookup(reg, "topic")).map((e) => e.value.priority), [1, 2])
      yield* Registry.dispatch(reg, "topic", (entries) =>
        Effect.forEach(entries, (e) =>
          Actor.cast(e.process as Actor.ActorRef<EchoProtocol>, "event"), { discard: true }))
      assert.deepStrictEqual([seenA, seenB], [["event"], ["event"]])
      yield* Actor.stop(a)
      assert.deepStrictEqual(
        (yield* Registry.lookup(reg, "topic")).map((e) =>
          e.process
        ),
        [b]
      )
      yield* Registry.unregister(reg, "topic", b)
      assert.deepStrictEqual(yield* Registry.lookup(reg, "topic"), [])
      yield* Registry.dispatch(reg, "nobody", () =>
        Effect.die("not called"))
    }))

  it.effect("duplicate keys: a process may register one key several times, lookup lists every entry in registration order, unregister removes them all", () =>
    Effect.gen(function*() {
      const reg = yield* Registry.make<string, string>({ keys: "duplicate" })
      const a = yield* Actor.start(echo(), "a")
      const b = yield* Actor.start(echo(), "b")
      yield* Registry.register(reg, "hello", a, "world")
      yield* Registry.register(reg, "hello", b, "other")
      yield* Registry.register(reg, "hello", a, "another")
      yield* Registry.register(reg, "bye", a, "later")
      const entries = (key: string) =>
        Effect.map(Registry.lookup(reg, key), (es) => es.map((e) => [e.process, e.value]))
      assert.deepStrictEqual(yield* entries("hello"), [[a, "world"], [b, "other"], [a, "another"]])
      assert.deepStrictEqual(yield* Registry.keysOf(reg, a), ["hello", "hello", "bye"])
      assert.strictEqual(reg.size, 4)
      yield* Registry.unregister(reg, "hello", a)
      assert.deepStrictEqual(yield* entries("hello"), [[b, "other"]])
      assert.deepStrictEqual(yield* Registry.keysOf(reg, a), ["bye"])
      yield* Registry.register(reg, "bye", a, "again")
      yield* Actor.stop(a)
      assert.deepStrictEqual(yield* entries("bye"), [])
      assert.deepStrictEqual(yield* Registry.keysOf(reg, a), [])
      assert.strictEqual(reg.size, 1)
      yield* Actor.stop(b)
      assert.strictEqual(reg.size, 0)
    }))

  it.effect("Registry.via needs a unique registry: a start named by via on a duplicate registry fails with InvalidOptions at name", () =>
    Effect.gen(function*() {
      const reg = yield* Registry.make({ keys: "duplicate", name: "topics" })
      const name = Registry.via<EchoProtocol>(reg, "svc")
      for (const registration of [name, { ...name }]) {
        const error = yield* Effect.flip(Actor.start(echo(), "one", { name: registration }))
        assert.isTrue(error._tag === "InvalidOptions" && error.path === "name", String(error))
        assert.include(error.message, "via needs a unique registry")
      }
      assert.strictEqual(reg.size, 0)
      assert.strictEqual((yield* Effect.flip(Actor.call(name, "x")))._tag, "NoProc")
    }))
})

describe("Monitor", () => {
  it.effect("exactly one Down with the exit reason", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(echo(), "m")
      const m1 = yield* Monitor.monitor(ref)
      const m2 = yield* Monitor.monitor(ref)
      yield* Actor.stop(ref, ExitReason.shutdownWith("bye"))
      const down = yield* m1.down
      assert.deepStrictEqual(down.reason, ExitReason.shutdownWith("bye"))
      assert.strictEqual(down.pid, ref.pid)
      assert.notStrictEqual((yield* m2.down).monitor, down.monitor)
    }))

  it.effect("monitoring a dead process yields Down(noproc) at once", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.start(echo(), "m")
      yield* Actor.stop(ref)
      assert.deepStrictEqual((yield* (yield* Monitor.monitor(ref)).down).reason, ExitReason.noproc)
    }))

  it.effect("demonitor: no Down afterwards; an actor watcher gets Down in handleInfo", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const watcher = yield* Actor.start(echo(seen), "watcher")
      const target = yield* Actor.start(echo(), "target")
      const other = yield* Actor.start(echo(), "other")
      const cancelled = yield* Monitor.monitorFrom(watcher, other)
      yield* cancelled.demonitor
      const m = yield* Monitor.monitorFrom(watcher, target)
      yield* Actor.cast(target, "x")
      target.kill()
      yield* Process.awaitExit(target)
      yield* Actor.stop(other)
      yield* Actor.call(watcher, "sync")
      assert.deepStrictEqual(seen, [{ _tag: "Down", monitor: m.id, pid: target.pid, reason: ExitReason.killed }])
    }))
  it.effect("a start interrupted after its name is registered, before the actor is launched, frees the name", () =>
    Effect.gen(function*() {
      const reg = yield* Registry.make({ keys: "unique" })
      const name = Registry.via<EchoProtocol>(reg, "svc")
      // a registration whose register suspends once the name is taken (any effect may, by the interface)
      const suspending: Actor.NameRegistration<EchoProtocol> = {
        ...name,
        register: (process) => Effect.andThen(name.register(process), Effect.yieldNow)
      }
      const starter = yield* Effect.forkChild(Actor.start(echo(), "one", { name: suspending }), {
        startImmediately: true
      })
      assert.isDefined(yield* Registry.whereis(reg, "svc")) // registered, not launched yet
      yield* Fiber.interrupt(starter)
      assert.isUndefined(yield* Registry.whereis(reg, "svc"), "a never-launched process holds the name")
      const ref = yield* Actor.start(echo(), "two", { name })
      assert.strictEqual(yield* Actor.call(name, "hi"), "two:hi")
      yield* Actor.stop(ref)
    }))
})
