/**
 * Runtime benchmarks beyond call/cast:
 * - `actor.spawn`: ns per actor started under a DynamicSupervisor, beside `floor.effect-spawn` (forking a plain
 *   fiber that waits on an Effect `Queue`, the naive Effect actor).
 * - `actor.idle-bytes`: heap bytes per idle actor (100k under one DynamicSupervisor), beside
 *   `floor.effect-fiber-idle-bytes` (an idle fiber parked on its own Queue).
 * - `supervisor.restart`: latency of crash → restarted → answering a call (p50 / p99 per restart).
 * - `registry.lookup`: a unique-key lookup, beside `floor.map-get` (a plain `Map.get` over the same keys).
 */
import { Effect, Fiber, Queue } from "effect"
import { Actor, Behaviour, DynamicSupervisor, ExitReason, Registry, Supervisor } from "../src/runtime/index.ts"
import type { BenchRow } from "./harness.ts"
import { bytesPer, timeBatch, timeEach } from "./harness.ts"

type IdleProtocol = { readonly call: "ping"; readonly reply: "pong"; readonly cast: "crash" }
/** The crash is a typed failure of the handler (an abnormal exit), so the row measures restart machinery, not V8 stack capture. */
const crash = Effect.fail("crash" as const)
const Idle = Behaviour.make<IdleProtocol>()({
  init: () => Behaviour.ok(null),
  handleCall: (_r, _f, s) => Behaviour.reply("pong" as const, s),
  handleCast: () => crash
})
const idleSpec = { id: "idle", restart: "temporary" as const, start: Actor.start(Idle, undefined) }

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

const spawnMany = (count: number) =>
  Effect.gen(function*() {
    const sup = yield* DynamicSupervisor.spawn({ name: "bench" })
    for (let i = 0; i < count; i++) yield* DynamicSupervisor.startChild(sup, idleSpec)
    return sup
  })

const fiberMany = (count: number) =>
  Effect.gen(function*() {
    const fibers: Array<Fiber.Fiber<unknown>> = []
    for (let i = 0; i < count; i++) {
      const queue = yield* Queue.unbounded<number>()
      fibers.push(yield* Effect.forkDetach(Effect.forever(Queue.take(queue)), { startImmediately: true }))
    }
    return fibers
  })

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const rows: Array<BenchRow> = []
  const SPAWNS = 10_000

  // Each sample times only the spawning; tearing the spawned fibers/actors down happens outside the timing.
  const spawnRow = async <T>(
    id: string,
    setup: () => Promise<T>,
    spawn: (t: T, n: number) => Promise<void>,
    teardown: (t: T) => Promise<void>,
    extra: { readonly baseline?: string; readonly note: string }
  ): Promise<BenchRow> => {
    const perOp: Array<number> = []
    for (let i = 0; i < 12; i++) {
      const t = await setup()
      const started = process.hrtime.bigint()
      await spawn(t, SPAWNS)
      const elapsed = Number(process.hrtime.bigint() - started)
      await teardown(t)
      if (i >= 2) perOp.push(elapsed / SPAWNS)
    }
    perOp.sort((a, b) => a - b)
    const median = perOp[Math.floor(perOp.length / 2)] ?? Number.NaN
    return {
      id,
      unit: "ns/op",
      median: Math.round(median * 1000) / 1000,
      p99: Math.round((perOp.at(-1) ?? Number.NaN) * 1000) / 1000,
      ...extra
    }
  }
  const fibers: Array<Fiber.Fiber<unknown>> = []
  rows.push(
    await spawnRow("floor.effect-spawn", async () => fibers, async (_t, n) => {
      fibers.push(...(await run(fiberMany(n))))
    }, async () => {
      await run(Fiber.interruptAll(fibers.splice(0)))
    }, { note: "plain fiber forked on its own Queue (the naive Effect actor)" })
  )
  rows.push(
    await spawnRow(
      "actor.spawn",
      () => run(DynamicSupervisor.spawn({ name: "bench" })),
      async (sup, n) => {
        await run(Effect.gen(function*() {
          for (let i = 0; i < n; i++) yield* DynamicSupervisor.startChild(sup, idleSpec)
        }))
      },
      async (sup) => sup.kill(),
      { baseline: "floor.effect-spawn", note: "startChild under a DynamicSupervisor (init run, registered child)" }
    )
  )

  const IDLE = 100_000
  rows.push(
    await bytesPer(
      "floor.effect-fiber-idle-bytes",
      IDLE,
      (n) => run(fiberMany(n)),
      (fibers) => run(Fiber.interruptAll(fibers)),
      {
        note: "idle fiber parked on its own Queue"
      }
    )
  )
  rows.push(
    await bytesPer("actor.idle-bytes", IDLE, (n) => run(spawnMany(n)), async (sup) => sup.kill(), {
      baseline: "floor.effect-fiber-idle-bytes",
      note: "100k idle actors under one DynamicSupervisor"
    })
  )

  const registry = await run(Registry.make<string, unknown>({ keys: "unique", name: "bench" }))
  const supervisor = await run(Supervisor.spawn({
    name: "restart-bench",
    maxRestarts: 1_000_000_000,
    maxSeconds: 1,
    children: [{ id: "w", start: Actor.start(Idle, undefined, { name: Registry.via(registry, "w") }) }]
  }))
  const name = Registry.via<IdleProtocol>(registry, "w")
  const crashAndCall = Effect.gen(function*() {
    yield* Actor.cast(name, "crash")
    const reply = yield* Actor.call(name, "ping")
    if (reply !== "pong") return yield* Effect.die("no pong")
  })
  rows.push(
    await timeEach("supervisor.restart", () => run(crashAndCall), {
      count: 5000,
      note: "crash (typed failure) → restarted → answering a call by name; p50 = median"
    })
  )
  await run(Actor.stop(supervisor, ExitReason.shutdown))

  const KEYS = 10_000
  const keys = Array.from({ length: KEYS }, (_, i) => `actor-${i}`)
  const map = new Map<string, unknown>()
  const names = await run(Registry.make<string, unknown>({ keys: "unique" }))
  const holder = await run(Actor.start(Idle, undefined))
  for (const key of keys) {
    map.set(key, holder)
    names.registerUnsafe(key, holder, undefined)
  }
  let sink: unknown = undefined
  rows.push(
    await timeBatch("floor.map-get", (ops) => {
      for (let i = 0; i < ops; i++) sink = map.get(keys[i % KEYS] as string)
    }, { ops: 1_000_000, samples: 20 })
  )
  rows.push(
    await timeBatch("registry.lookup", (ops) => {
      for (let i = 0; i < ops; i++) sink = names.whereisUnsafe(keys[i % KEYS] as string)
    }, { ops: 1_000_000, samples: 20, baseline: "floor.map-get", note: "unique key, liveness checked" })
  )
  if (sink === 42) console.log(sink)
  await run(Actor.stop(holder))
  return rows
}
