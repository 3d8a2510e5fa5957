/**
 * Test workers for the supervisor suites: actors that log their lifecycle into a shared array and exit on
 * command with any reason.
 */
import { Deferred, Effect, Ref } from "effect"
import { Actor, Behaviour, ChildSpec, ExitReason, type Process, Supervisor } from "../../../src/runtime/index.ts"

export type WorkerProtocol = {
  readonly cast: { readonly exit: ExitReason.ExitReason } | "crash"
  readonly call: "ping"
  readonly reply: string
}

export interface WorkerOptions {
  /** terminate never finishes (for shutdown-timeout tests) */
  readonly hangInTerminate?: boolean
}

export const worker = (log: Array<string>, id: string, options: WorkerOptions = {}) =>
  Behaviour.make<WorkerProtocol>()({
    trapExit: true,
    init: () => {
      log.push(`start ${id}`)
      return Behaviour.ok(id)
    },
    handleCall: (_req, _from, s) => Behaviour.reply(`pong ${id}`, s),
    handleCast: (message, s) => {
      if (message === "crash") throw new Error(`${id} crashed`)
      return Behaviour.stop(message.exit, s)
    },
    terminate: (reason) =>
      options.hangInTerminate === true
        ? Effect.andThen(Effect.sync(() => log.push(`terminating ${id}`)), Effect.never)
        : Effect.sync(() => log.push(`stop ${id} ${ExitReason.format(reason)}`))
  })

export const workerSpec = (
  log: Array<string>,
  id: string,
  spec: Omit<ChildSpec.ChildSpec, "id" | "start"> = {},
  options: WorkerOptions = {}
): ChildSpec.ChildSpec => ChildSpec.actor(id, worker(log, id, options), undefined, spec)

/** The running process of child `id`. */
export const childOf = (sup: Supervisor.SupervisorRef, id: string) =>
  Effect.map(Supervisor.whichChildren(sup), (children) => children.find((c) => c.id === id)?.process)

/** Makes child `id` exit with `reason` (or crash) and waits until the supervisor has handled it. */
export const exitChild = (sup: Supervisor.SupervisorRef, id: string, how: ExitReason.ExitReason | "crash") =>
  Effect.gen(function*() {
    const process = yield* childOf(sup, id)
    if (process === undefined || process === "restarting") return yield* Effect.die(`child ${id} not running`)
    yield* Actor.cast(process as Actor.ActorRef<WorkerProtocol>, how === "crash" ? "crash" : { exit: how })
    // the next call is processed after the ChildExit info, so the supervisor has reacted
    if (sup.exitReason === undefined) yield* Effect.exit(Supervisor.countChildren(sup))
  })

export const pidOf = (process: Process.Process | "restarting" | undefined): number | string =>
  process === undefined ? "undefined" : process === "restarting" ? "restarting" : process.pid

/** A start effect that fails from the n-th call on. */
export const flakyStart = (log: Array<string>, id: string, failFrom: number) =>
  Effect.gen(function*() {
    const calls = yield* Ref.make(0)
    return Effect.flatMap(Ref.updateAndGet(calls, (n) => n + 1), (n) =>
      n >= failFrom
        ? Effect.fail(new Error(`${id} cannot start (attempt ${n})`))
        : Actor.start(worker(log, id), undefined, { name: id }))
  })

/** A worker whose `init` takes a second; it records its process in `started`. */
export const slowInit = (started: Array<Process.Process>) =>
  Behaviour.make<{ call: "ping"; reply: string }>()({
    init: () =>
      Effect.flatMap(Actor.self, (self) => {
        if (self !== undefined) started.push(self)
        return Effect.as(Effect.sleep("1 second"), Behaviour.ok(0))
      }),
    handleCall: (_r, _f, s) => Behaviour.reply("pong", s)
  })

/** A worker whose `init` returns at once; it records its process in `started`. */
export const fastInit = (started: Array<Process.Process>) =>
  Behaviour.make<{ call: "ping"; reply: string }>()({
    init: () =>
      Effect.map(Actor.self, (self) => {
        if (self !== undefined) started.push(self)
        return Behaviour.ok(0)
      }),
    handleCall: (_r, _f, s) => Behaviour.reply("pong", s)
  })

/**
 * A recorder whose cast `0` signals `started` and keeps it busy until `release`; every other cast is recorded in
 * `seen`, and a call answers a copy of what was seen (for the mailbox overflow and backpressure suites).
 */
export const gatedRecorder = (
  started: Deferred.Deferred<void>,
  release: Deferred.Deferred<void>,
  seen: Array<number>
) =>
  Behaviour.make<{ cast: number; call: "seen"; reply: ReadonlyArray<number> }>()({
    init: () => Behaviour.ok(null),
    handleCast: (n, s) =>
      n === 0
        ? Effect.andThen(
          Deferred.succeed(started, undefined),
          Effect.as(Deferred.await(release), Behaviour.noreply(s))
        )
        : Effect.sync(() => {
          seen.push(n)
          return Behaviour.noreply(s)
        }),
    handleCall: (_r, _f, s) => Behaviour.reply([...seen], s)
  })
