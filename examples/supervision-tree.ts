/**
 * `npm start`: a small supervision tree under load and chaos.
 *
 * - root (oneForOne)
 *   - metrics: a worker that counts ticks
 *   - pipeline (restForOne): ingest → transform → sink; a crash of transform restarts transform and sink
 *   - jobs (oneForOne): a flaky worker restarted with backoff (100 ms doubling to 800 ms)
 *   - chaos: a task that crashes a random worker every 350 ms
 *
 * It prints the tree, then every lifecycle event as it happens, runs for about 4 seconds (Ctrl-C ends it early),
 * prints the tree again, shuts everything down in reverse start order and exits 0.
 */
import { Deferred, Effect, Fiber, Random, Schedule, Stream } from "effect"
import type { LifecycleEvent } from "../src/runtime/index.ts"
import {
  Actor,
  Behaviour,
  ChildSpec,
  ExitReason,
  Lifecycle,
  Registry,
  SupervisionTree,
  Supervisor
} from "../src/runtime/index.ts"

type WorkerProtocol = { readonly call: "count"; readonly reply: number; readonly cast: "tick" | "crash" }

const worker = Behaviour.make<WorkerProtocol>()({
  init: () => Behaviour.ok(0),
  handleCall: (_request, _from, ticks) => Behaviour.reply(ticks, ticks),
  handleCast: (message, ticks) => {
    if (message === "crash") return Effect.fail(`injected crash after ${ticks} ticks`)
    return Behaviour.noreply(ticks + 1)
  }
})

const t0 = Date.now()
const stamp = () => `+${String(Date.now() - t0).padStart(4, " ")}ms`

const names = Effect.runSync(Registry.make<string, unknown>({ keys: "unique", name: "workers" }))
const workerSpec = (id: string, spec: Omit<ChildSpec.ChildSpec, "id" | "start"> = {}): ChildSpec.ChildSpec =>
  ChildSpec.actor(id, worker, undefined, { ...spec, start: { name: Registry.via(names, id) } })
const victims = ["metrics", "ingest", "transform", "sink", "flaky"]

const chaos = Effect.gen(function*() {
  const victim = victims[yield* Random.nextIntBetween(0, victims.length)] ?? "metrics"
  yield* Effect.sync(() => console.log(`${stamp()}  chaos: crashing ${victim}`))
  yield* Actor.cast(Registry.via<WorkerProtocol>(names, victim), "crash")
}).pipe(Effect.delay("350 millis"), Effect.forever)

const load = Effect.forEach(victims, (id) => Actor.cast(Registry.via<WorkerProtocol>(names, id), "tick"), {
  discard: true
}).pipe(
  Effect.repeat(Schedule.spaced("50 millis"))
)

const tree: Supervisor.SupervisorOptions = {
  name: "root",
  strategy: "oneForOne",
  maxRestarts: 20,
  maxSeconds: 5,
  children: [
    workerSpec("metrics"),
    Supervisor.childSpec("pipeline", {
      strategy: "restForOne",
      maxRestarts: 20,
      children: [workerSpec("ingest"), workerSpec("transform"), workerSpec("sink")]
    }),
    Supervisor.childSpec("jobs", {
      maxRestarts: 20,
      children: [workerSpec("flaky", { backoff: { min: "100 millis", max: "800 millis", randomFactor: 0.2 } })]
    }),
    ChildSpec.task({ id: "load", run: load }),
    ChildSpec.task({ id: "chaos", run: chaos })
  ]
}

// the tree as `troupe tree` prints a gateway's: one line per child, `├─ id (type, restart) pid n`
const render = (sup: Supervisor.SupervisorRef): Effect.Effect<string> =>
  Effect.map(SupervisionTree.of(sup), SupervisionTree.render)

const describe = (event: LifecycleEvent): string => {
  const who = event.childId === undefined ? event.supervisor : `${event.supervisor}/${event.childId}`
  const reason = event.reason === undefined ? "" : ` ${ExitReason.format(event.reason)}`
  const delay = event.delayMillis === undefined ? "" : ` after ${event.delayMillis} ms backoff`
  return `${stamp()}  ${event._tag.padEnd(23)} ${who}${reason}${delay}`
}

const program = Effect.gen(function*() {
  const lifecycle = yield* Lifecycle
  const events = yield* lifecycle.subscribe
  const printer = yield* Effect.forkChild(
    Stream.runForEach(events, (e) => Effect.sync(() => console.log(describe(e)))),
    {
      startImmediately: true
    }
  )

  const interrupted = yield* Deferred.make<void>()
  const onSigint = () => Deferred.doneUnsafe(interrupted, Effect.void)
  process.once("SIGINT", onSigint)

  console.log("troupe supervision tree demo (Ctrl-C to stop early)\n")
  const root = yield* Supervisor.spawn(tree)
  console.log(`${yield* render(root)}\n`)

  yield* Effect.race(Effect.sleep("4 seconds"), Deferred.await(interrupted))
  process.removeListener("SIGINT", onSigint)

  console.log(`\n${stamp()}  tree before shutdown:\n${yield* render(root)}\n`)
  console.log(`${stamp()}  shutting down in reverse start order`)
  yield* Supervisor.shutdownTree(root)
  yield* Effect.sleep("10 millis") // let the printer drain the last events
  yield* Fiber.interrupt(printer)
  console.log(`\n${stamp()}  root exited with ${ExitReason.format(root.exitReason ?? ExitReason.normal)}; bye`)
}).pipe(Effect.scoped, Effect.provide(Lifecycle.layer))

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
