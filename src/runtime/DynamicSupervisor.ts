/**
 * Dynamic supervisors: children started on demand, one_for_one only.
 *
 * Mirrors Elixir's `DynamicSupervisor` (OTP's `simple_one_for_one` made general): no children at start,
 * `startChild(sup, spec)` starts one (its `start` function receives the supervisor's `extraArguments` first),
 * `maxChildren` bounds how many children exist at once — running or restarting, as Elixir counts them —
 * (`MaxChildren` error), restart types and intensity follow the static supervisor (default 3 restarts in 5 s,
 * validated as OTP does; exceeding it shuts everything down and exits `shutdown`),
 * temporary children are forgotten when they exit, and shutdown terminates all children concurrently.
 *
 * Restart backoff, as under `Supervisor`: a killed child with backoff is not restarted before its backoff delay
 * and is restarted when the delay is over (the n-th consecutive restart waits Akka's `min(max, min × 2^n)` with
 * jitter, the count starting over after a stable run of `resetAfter`). The restart counts toward the intensity
 * when it is decided, not when the delay ends; a failing restart retries after the next backoff step (the retry
 * counts again, OTP's `try_again_restart`). A child waiting for its backoff is `"restarting"` in `whichChildren`,
 * counts in `countChildren`'s `specs` but not `active`, and counts toward `maxChildren` as a restarting one does.
 * `terminateChild` with the process it last ran as cancels the pending restart (terminateChild during the
 * backoff wins: no restart later), and shutdown cancels every pending timer (shutdown during backoff leaves no
 * timer).
 *
 * Children are linked as under `Supervisor`: a killed dynamic supervisor sends each child the exit signal `killed`,
 * and one killed or interrupted during a slow `startChild` leaves no child alive (the child being started is killed
 * with its interrupted start).
 *
 * Specs are validated once per spec object (a spec reused across many starts is checked once), which keeps
 * `startChild` on the microsecond scale.
 */
import { Effect, Exit, Result, Schema, type Scope } from "effect"
import * as Actor from "./Actor.ts"
import * as Behaviour from "./Behaviour.ts"
import { type ChildSpec, normalize, type NormalizedSpec } from "./ChildSpec.ts"
import * as ExitReason from "./ExitReason.ts"
import * as BackoffRestart from "./internal/BackoffRestart.ts"
import * as Options from "./internal/Options.ts"
import { DEFAULT_MAX_RESTARTS, IntensityFields, periodMillis, RestartWindow } from "./internal/RestartIntensity.ts"
import * as SupervisorChild from "./internal/SupervisorChild.ts"
import {
  type Child,
  type ChildExit,
  emit,
  linkChildren,
  makeChild,
  makeSupervisorContext,
  shouldRestart,
  type SupervisorContext
} from "./internal/SupervisorChild.ts"
import { isProcess, type Process } from "./Process.ts"
import { ChildNotFound, FailedToStartChild, type InvalidOptions, MaxChildren } from "./RuntimeError.ts"
import { startScopedUnderParent } from "./Supervisor.ts"

/**
 * Options of `DynamicSupervisor.start`, as Elixir's `DynamicSupervisor.init/1`: intensity, `maxChildren` (restarting
 * children count toward it) and `extraArguments` prepended to each child's start arguments. Invalid values fail the
 * start with `InvalidOptions`.
 */
export interface DynamicSupervisorOptions<Extra extends ReadonlyArray<unknown> = []> {
  readonly name?: string
  /** intensity: a non-negative integer, default 3 (Elixir's) */
  readonly maxRestarts?: number
  /** the intensity period: a positive integer number of seconds, default 5 */
  readonly maxSeconds?: number
  /** the intensity period in milliseconds instead (a positive integer; not with `maxSeconds`) */
  readonly maxMillis?: number
  /** how many children may exist at once, running or restarting (as Elixir counts them); default: unbounded */
  readonly maxChildren?: number
  /** prepended to every child's start arguments */
  readonly extraArguments?: Extra
}

interface Config {
  readonly name: string
  readonly maxRestarts: number
  readonly periodMillis: number
  readonly maxChildren: number
  readonly extra: ReadonlyArray<unknown>
}

interface State {
  readonly config: Config
  readonly context: SupervisorContext
  readonly children: Set<Child>
  readonly restarts: RestartWindow
  /** children with a running process, kept up to date so `countChildren` costs nothing */
  active: number
  /**
   * Restarting children (a retry or a backoff delay pending) by the process they last ran as: Elixir keys them by
   * that pid, so `terminateChild` with it cancels the pending restart.
   */
  readonly restartingAs: Map<Child, Process>
}

type Request =
  | { readonly _tag: "StartChild"; readonly spec: NormalizedSpec<unknown, ReadonlyArray<unknown>> }
  | { readonly _tag: "TerminateChild"; readonly process: Process }
  | { readonly _tag: "WhichChildren" }
  | { readonly _tag: "CountChildren" }

type Response = Result.Result<unknown, FailedToStartChild | MaxChildren | ChildNotFound | InvalidOptions>

const invalidRequest = (detail: string): InvalidOptions => Options.invalid("dynamic supervisor request", "", detail)

/** `undefined` for a well-formed request; its specs must come from `startChild` (validated and cached). */
const checkRequest = (request: unknown): InvalidOptions | undefined => {
  if (typeof request !== "object" || request === null || !("_tag" in request)) return invalidRequest("not a request")
  switch (request._tag) {
    case "StartChild":
      // "spec" in request proves the key, not its type; the WeakSet lookup accepts any object and fails for others
      return "spec" in request && trustedSpecs.has(request.spec as object)
        ? undefined
        : invalidRequest("StartChild needs a spec validated by DynamicSupervisor.startChild")
    case "TerminateChild":
      return "process" in request && isProcess(request.process)
        ? undefined
        : invalidRequest("TerminateChild needs a process")
    case "WhichChildren":
    case "CountChildren":
      return undefined
    default:
      return invalidRequest(`unknown request ${String(request._tag)}`)
  }
}

type DynamicProtocol = {
  readonly call: Request
  readonly reply: Response
  readonly info: ChildExit | { readonly _tag: "TryAgain"; readonly child: Child } | BackoffRestart.BackoffDue
}

/** A running dynamic supervisor whose children's `start` functions take `Extra` first. */
export type DynamicSupervisorRef<Extra extends ReadonlyArray<unknown> = []> = Actor.ActorRef<DynamicProtocol> & {
  readonly _Extra?: Extra
}

/** Children that count toward `maxChildren`: running and restarting ones (Elixir's `map_size(children)`). */
const childCount = (state: State): number => state.children.size

const behaviour = Behaviour.make<DynamicProtocol>()({
  name: "dynamic-supervisor",
  init: (config: Config) =>
    Effect.gen(function*() {
      const context = yield* makeSupervisorContext(config.name)
      const self = context.self
      const state: State = {
        config,
        context,
        children: new Set(),
        restarts: new RestartWindow(),
        active: 0,
        restartingAs: new Map()
      }
      linkChildren(self, () => state.children)
      emit(context, "SupervisorStarted", { pid: self.pid })
      return Behaviour.ok(state)
    }),
  handleCall: (request, _from, state) => {
    // a malformed request (from a raw `Actor.call`) is answered with InvalidOptions; the supervisor keeps running
    const bad = checkRequest(request)
    // widened to the protocol's Response (the reply type of every call)
    if (bad !== undefined) return Behaviour.reply(Result.fail(bad) as Response, state)
    switch (request._tag) {
      case "StartChild": {
        if (childCount(state) >= state.config.maxChildren) {
          const error = new MaxChildren({ supervisor: state.config.name, maxChildren: state.config.maxChildren })
          // widened to the protocol's Response
          return Behaviour.reply(Result.fail(error) as Response, state)
        }
        const child = makeChild(request.spec, state.config.extra)
        return Effect.map(SupervisorChild.startChild(state.context, child), (outcome) => {
          if (outcome._tag === "Failed") {
            // widened to the protocol's Response
            return Behaviour.reply(
              Result.fail(new FailedToStartChild({ id: child.spec.id, reason: outcome.reason })) as Response,
              state
            )
          }
          // widened to the protocol's Response
          if (outcome._tag === "Ignored") return Behaviour.reply(Result.succeed(undefined) as Response, state)
          state.children.add(child)
          state.active++
          // widened to the protocol's Response
          return Behaviour.reply(Result.succeed(outcome.process) as Response, state)
        })
      }
      case "TerminateChild": {
        for (const child of state.children) {
          const running = child.process !== undefined
          if (
            running ? child.process === request.process : state.restartingAs.get(child) === request.process
          ) {
            // also cancels a pending backoff restart; a TryAgain or BackoffDue still queued finds the child gone
            return Effect.map(SupervisorChild.terminateChild(state.context, child), () => {
              state.children.delete(child)
              state.restartingAs.delete(child)
              child.restarting = false
              if (running) state.active--
              // widened to the protocol's Response
              return Behaviour.reply(Result.succeed(undefined) as Response, state)
            })
          }
        }
        const error = new ChildNotFound({ id: String(request.process.pid) })
        // widened to the protocol's Response
        return Behaviour.reply(Result.fail(error) as Response, state)
      }
      case "WhichChildren":
        // widened to the protocol's Response
        return Behaviour.reply(
          Result.succeed([...state.children].map((c) => c.process ?? "restarting")) as Response,
          state
        )
      case "CountChildren": {
        let supervisors = 0
        for (const c of state.children) if (c.spec.type === "supervisor") supervisors++
        const counts = {
          specs: state.children.size,
          active: state.active,
          supervisors,
          workers: state.children.size - supervisors
        }
        // widened to the protocol's Response
        return Behaviour.reply(Result.succeed(counts) as Response, state)
      }
    }
  },
  // OTP's supervisor logs and ignores an unexpected cast
  handleCast: (_message, state) => Behaviour.noreply(state),
  handleInfo: (message, state) => {
    // only its own notices about its own children are acted on; anything else sent to it is dropped
    if (
      typeof message !== "object" || message === null || !("child" in message) || !state.children.has(message.child)
    ) {
      return Behaviour.noreply(state)
    }
    if (message._tag === "TryAgain") {
      return message.child.restarting ? restart(state, message.child) : Behaviour.noreply(state)
    }
    if (message._tag === "BackoffDue") {
      message.child.timer = undefined
      return message.child.restarting
        ? startRestart(state, message.child, message.delayMillis)
        : Behaviour.noreply(state)
    }
    if (message._tag !== "ChildExit") return Behaviour.noreply(state)
    const { child, process, reason } = message
    if (child.process !== process) return Behaviour.noreply(state)
    child.process = undefined
    child.offExit = undefined
    state.active--
    emit(state.context, "ChildExited", { childId: child.spec.id, pid: process.pid, reason })
    if (!shouldRestart(child, reason)) {
      state.children.delete(child)
      return Behaviour.noreply(state)
    }
    state.restartingAs.set(child, process)
    return restart(state, child)
  },
  terminate: (_reason, state) =>
    Effect.gen(function*() {
      yield* Effect.forEach(state.children, (child) => SupervisorChild.terminateChild(state.context, child), {
        concurrency: "unbounded",
        discard: true
      })
      emit(state.context, "SupervisorStopped", { pid: state.context.self.pid })
    })
})

/** Restarts one child as `Supervisor` does: the intensity check, then the start (now, or after its backoff). */
const restart = (state: State, child: Child): Effect.Effect<Behaviour.NoReplyResult<State>> => {
  const now = state.context.now()
  if (!state.restarts.add(now, state.config.maxRestarts, state.config.periodMillis)) {
    emit(state.context, "RestartIntensityReached", { childId: child.spec.id })
    return Effect.succeed(Behaviour.stop(ExitReason.shutdown, state))
  }
  return child.spec.backoff === undefined
    ? startRestart(state, child)
    : Effect.as(BackoffRestart.schedule(state.context, child, now), Behaviour.noreply(state))
}

/** Starts the child again (after `delayMillis` of backoff, when it had one); a failure retries (`TryAgain`). */
const startRestart = (
  state: State,
  child: Child,
  delayMillis?: number
): Effect.Effect<Behaviour.NoReplyResult<State>> =>
  Effect.map(SupervisorChild.startChild(state.context, child), (outcome) => {
    if (outcome._tag === "Started") {
      state.active++
      state.restartingAs.delete(child)
      emit(state.context, "ChildRestarted", {
        childId: child.spec.id,
        pid: outcome.process.pid,
        ...(delayMillis !== undefined ? { delayMillis } : {})
      })
    } else if (outcome._tag === "Ignored") {
      child.restarting = false
      state.children.delete(child)
      state.restartingAs.delete(child)
    } else {
      // like OTP's try_again_restart: retried later (after the next backoff step, for a child with backoff), and
      // every retry counts toward the intensity
      child.restarting = true
      Actor.sendSystemUnsafe(state.context.self, { _tag: "TryAgain", child })
    }
    return Behaviour.noreply(state)
  })

const OptionsSchema = Schema.Struct({
  name: Schema.optional(Schema.String),
  ...IntensityFields,
  maxChildren: Schema.optional(Options.PositiveInt),
  extraArguments: Schema.optional(Schema.Array(Schema.Unknown))
})

/** Starts a dynamic supervisor; the caller owns its lifetime. Fails with `InvalidOptions` when the options do not validate. */
export const spawn = <Extra extends ReadonlyArray<unknown> = []>(
  options: DynamicSupervisorOptions<Extra> = {}
): Effect.Effect<DynamicSupervisorRef<Extra>, InvalidOptions> =>
  Effect.suspend((): Effect.Effect<DynamicSupervisorRef<Extra>, InvalidOptions> => {
    const checked = Options.validate(OptionsSchema, options, "dynamic supervisor options")
    if (Result.isFailure(checked)) return Effect.fail(checked.failure)
    const period = periodMillis(options, "dynamic supervisor options")
    if (Result.isFailure(period)) return Effect.fail(period.failure)
    const config: Config = {
      name: options.name ?? "dynamic-supervisor",
      maxRestarts: options.maxRestarts ?? DEFAULT_MAX_RESTARTS,
      periodMillis: period.success,
      maxChildren: options.maxChildren ?? Number.POSITIVE_INFINITY,
      extra: options.extraArguments ?? []
    }
    return Actor.start(behaviour, config, {
      name: config.name,
      kind: "supervisor",
      trapExit: true
    }).pipe(
      Effect.catch((error) => Effect.die(error))
    )
  })

/** `spawn`, shut down (all children concurrently) when the scope closes; `InvalidOptions` for invalid options. */
export const start = <Extra extends ReadonlyArray<unknown> = []>(
  options: DynamicSupervisorOptions<Extra> = {}
): Effect.Effect<DynamicSupervisorRef<Extra>, InvalidOptions, Scope.Scope> =>
  // under an application's root it is a temporary child: its owner calls it by ref, so a restarted copy would be
  // unknown to it (see `Supervisor.startScopedUnderParent`)
  startScopedUnderParent(options.name ?? "dynamic-supervisor", "temporary", (name) => spawn({ ...options, name }))

const normalized = new WeakMap<object, NormalizedSpec<unknown, ReadonlyArray<unknown>>>()
/** Normalized specs made by `startChild`: the only ones a `StartChild` request may carry. */
const trustedSpecs = new WeakSet<object>()

const normalizeCached = <R, Extra extends ReadonlyArray<unknown>>(
  spec: ChildSpec<R, Extra>
): Result.Result<NormalizedSpec<unknown, ReadonlyArray<unknown>>, InvalidOptions> => {
  const cached = normalized.get(spec)
  if (cached !== undefined) return Result.succeed(cached)
  // specs are stored erased; R is provided through the supervisor's context and Extra through its config
  const result = normalize(spec as ChildSpec<unknown, ReadonlyArray<unknown>>, "", "never")
  if (Result.isSuccess(result)) {
    normalized.set(spec, result.success)
    trustedSpecs.add(result.success)
  }
  return result
}

type CallFailure = Actor.CallError | import("./RuntimeError.ts").CallingSelf

/** A call with constant options, so nothing to decode (`callUnsafe`: it cannot fail with `InvalidOptions`). */
const trustedCall = <Extra extends ReadonlyArray<unknown>>(ref: DynamicSupervisorRef<Extra>, request: Request) =>
  Effect.suspend(() => Actor.callUnsafe(ref, request, { timeout: "infinity" }))

const startReply = (response: Response): Effect.Effect<Process | undefined, MaxChildren | FailedToStartChild> =>
  Result.isSuccess(response)
    // a StartChild reply succeeds with the started process or undefined (see handleCall)
    ? Effect.succeed(response.success as Process | undefined)
    // a StartChild reply fails only with these two (see handleCall)
    : Effect.fail(response.failure as MaxChildren | FailedToStartChild)

/**
 * Starts a child under the dynamic supervisor. Its `start` receives the supervisor's `extraArguments` first.
 * Returns the process, or `undefined` when the start was ignored. Fails with `InvalidOptions` when the spec does
 * not validate, `MaxChildren` when `maxChildren` children are already running, `FailedToStartChild` when the child's
 * start fails; and with `CallError` (`NoProc` when the supervisor is not alive, `ActorExited` when it exits before replying) or
 * `CallingSelf` (called from the supervisor's own fiber).
 */
export const startChild = <Extra extends ReadonlyArray<unknown>, R>(
  ref: DynamicSupervisorRef<Extra>,
  spec: ChildSpec<R, NoInfer<Extra>>
): Effect.Effect<Process | undefined, MaxChildren | FailedToStartChild | InvalidOptions | CallFailure, R> =>
  Effect.suspend(
    (): Effect.Effect<Process | undefined, MaxChildren | FailedToStartChild | InvalidOptions | CallFailure> => {
      const checked = normalizeCached(spec)
      if (Result.isFailure(checked)) return Effect.fail(checked.failure)
      // the dynamic supervisor usually answers synchronously: map its reply without a combinator
      const reply = Actor.callUnsafe(ref, { _tag: "StartChild", spec: checked.success }, { timeout: "infinity" })
      // the reply to a StartChild call is a Response (the protocol's reply type)
      if (Exit.isExit(reply) && Exit.isSuccess(reply)) return startReply(reply.value as Response)
      return Effect.flatMap(reply, startReply)
    }
  ) as Effect.Effect<Process | undefined, MaxChildren | FailedToStartChild | InvalidOptions | CallFailure, R>

/**
 * Terminates one child (by its process; a child whose restart is pending — a retry, or its backoff delay — by the
 * process it last ran as, which cancels the pending restart). Fails with `ChildNotFound` when the process is not a
 * child of this supervisor, and with `CallError` (`NoProc` when the supervisor is not alive, `ActorExited` when it exits before replying) or
 * `CallingSelf` (called from the supervisor's own fiber). `InvalidOptions` when `process` is not a process.
 */
export const terminateChild = <Extra extends ReadonlyArray<unknown>>(
  ref: DynamicSupervisorRef<Extra>,
  process: Process
): Effect.Effect<void, import("./RuntimeError.ts").ChildNotFound | InvalidOptions | CallFailure> =>
  Effect.flatMap(trustedCall(ref, { _tag: "TerminateChild", process }), (response) =>
    // a TerminateChild reply fails only with these two (see handleCall)
    Result.isSuccess(response)
      ? Effect.void
      : Effect.fail(response.failure as import("./RuntimeError.ts").ChildNotFound | InvalidOptions))

/**
 * The children (or `"restarting"` for one whose restart is pending), in start order (a deliberate difference:
 * OTP/Elixir list the newest first). Fails with `CallError` (`NoProc` when the supervisor is not alive, `ActorExited` when it exits before replying) or
 * `CallingSelf` (called from the supervisor's own fiber).
 */
export const whichChildren = <Extra extends ReadonlyArray<unknown>>(
  ref: DynamicSupervisorRef<Extra>
): Effect.Effect<ReadonlyArray<Process | "restarting">, CallFailure> =>
  Effect.map(trustedCall(ref, { _tag: "WhichChildren" }), (response) =>
    // a WhichChildren reply carries this list (see handleCall)
    Result.isSuccess(response) ? response.success as ReadonlyArray<Process | "restarting"> : [])

/** Counts of children (specs = running + restarting), as `Supervisor.countChildren`. Fails with `CallError` (`NoProc` when the supervisor is not alive, `ActorExited` when it exits before replying) or
 * `CallingSelf` (called from the supervisor's own fiber). */
export const countChildren = <Extra extends ReadonlyArray<unknown>>(
  ref: DynamicSupervisorRef<Extra>
): Effect.Effect<import("./internal/SupervisorBehaviour.ts").ChildCounts, CallFailure> =>
  Effect.map(
    trustedCall(ref, { _tag: "CountChildren" }),
    (response) =>
      Result.isSuccess(response)
        // a CountChildren reply carries the counts (see handleCall)
        ? response.success as import("./internal/SupervisorBehaviour.ts").ChildCounts
        : { specs: 0, active: 0, supervisors: 0, workers: 0 }
  )
