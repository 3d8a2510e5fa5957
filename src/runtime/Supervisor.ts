/**
 * Supervisors: start a tree of children and keep it running by OTP's rules (see `SupervisorBehaviour`).
 *
 * - `spawn(options)` starts a supervisor whose lifetime its caller (or parent supervisor) owns; `start(options)`
 *   ties it to the current `Scope` — closing the scope shuts the tree down in reverse start order, each child by
 *   its `shutdown` setting; `layer(options)` is the same as a Layer providing `RootSupervisor`.
 * - Start is synchronous: the ref is returned once every child has started. A child that fails to start makes
 *   `spawn` fail with `FailedToStartChild { id, reason }` after the started ones were stopped in reverse order.
 * - Management calls mirror `supervisor:start_child/terminate_child/restart_child/delete_child/which_children/
 *   count_children/get_childspec` with OTP's error cases as typed errors.
 * - Supervisors trap exits. Killing one (`Actor.kill`, a parent's `brutalKill`, Effect interruption) is OTP's
 *   `exit(Sup, kill)`: it dies at once, and each child gets the exit signal `killed`, as through its link — a
 *   trapping worker runs `terminate(killed)`, a non-trapping one exits `killed`, a child supervisor shuts its own
 *   subtree down in order (its children with `shutdown`) and exits `killed`. The link holds from the start of the
 *   supervisor's init: a supervisor killed or interrupted during its own init, or during a slow child start, leaves
 *   no child alive (the child being started is killed with its interrupted start).
 * - A kill does not wait for finalizers: a child killed by its `brutalKill`, or after its shutdown timeout, has
 *   exited `killed` at once, so the supervisor's `terminateChild`, restart and shutdown go on even when the child
 *   (a task, an actor) is stuck in a finalizer that hangs; that finalizer is detached and reported (see `Task`).
 *
 * - `whichChildren` lists children in start order (a deliberate difference: OTP lists the newest first).
 *
 * Defaults: `oneForOne`, intensity 3 restarts in 5 seconds (Elixir's; OTP's is 1 in 5), `autoShutdown: "never"`.
 * The intensity flags are validated as OTP does (see `RestartIntensity`).
 */
import { Cause, Context, Effect, Layer, Result, Schema, type Scope } from "effect"
import * as Actor from "./Actor.ts"
import { type ChildSpec, normalize } from "./ChildSpec.ts"
import * as ExitReason from "./ExitReason.ts"
import * as Options from "./internal/Options.ts"
import { DEFAULT_MAX_RESTARTS, IntensityFields, periodMillis } from "./internal/RestartIntensity.ts"
import {
  type AutoShutdown,
  behaviour,
  type ChildCounts,
  type ChildInfo,
  type ManagementError,
  type Request,
  type Strategy,
  type SupervisorConfig,
  type SupervisorProtocol
} from "./internal/SupervisorBehaviour.ts"
import { type Child, makeChild } from "./internal/SupervisorChild.ts"
import { awaitExit, type Process } from "./Process.ts"
import { FailedToStartChild, InitFailed, type InvalidOptions } from "./RuntimeError.ts"

export type { AutoShutdown, ChildCounts, ChildInfo, ManagementError, Strategy } from "./internal/SupervisorBehaviour.ts"

/** A running supervisor. */
export type SupervisorRef = Actor.ActorRef<SupervisorProtocol>

/**
 * Options of `Supervisor.start`, as OTP's `sup_flags()` plus the children: strategy, restart intensity
 * (`maxRestarts` within `maxSeconds` or `maxMillis`), `autoShutdown` and the child specs. Decoded with Schema;
 * invalid values fail with `InvalidOptions` naming the path.
 */
export interface SupervisorOptions<R = never> {
  /** for lifecycle events and errors */
  readonly name?: string
  /** default `oneForOne` */
  readonly strategy?: Strategy
  /** intensity: a non-negative integer, default 3 (Elixir's; OTP's is 1) */
  readonly maxRestarts?: number
  /** the intensity period: a positive integer number of seconds, default 5 */
  readonly maxSeconds?: number
  /** the intensity period in milliseconds instead (a positive integer; not with `maxSeconds`) */
  readonly maxMillis?: number
  /** default `never` */
  readonly autoShutdown?: AutoShutdown
  readonly children?: ReadonlyArray<ChildSpec<R>>
}

/**
 * Why starting a supervisor or a child can fail: a child's start failed (`FailedToStartChild`, with the child's id
 * and reason) or the options are invalid (`InvalidOptions`).
 */
export type SpawnError = FailedToStartChild | InvalidOptions

const OptionsSchema = Schema.Struct({
  name: Schema.optional(Schema.String),
  strategy: Schema.optional(Schema.Literals(["oneForOne", "oneForAll", "restForOne"])),
  ...IntensityFields,
  autoShutdown: Schema.optional(Schema.Literals(["never", "anySignificant", "allSignificant"])),
  children: Schema.optional(Schema.Array(Schema.Unknown))
})

/** Validates options and every child spec (paths like `children[2].shutdown`); duplicate ids are rejected. */
export const validateOptions = <R>(options: SupervisorOptions<R>): Result.Result<SupervisorConfig, InvalidOptions> => {
  const checked = Options.validate(OptionsSchema, options, "supervisor options")
  if (Result.isFailure(checked)) return Result.fail(checked.failure)
  const period = periodMillis(options, "supervisor options")
  if (Result.isFailure(period)) return Result.fail(period.failure)
  const autoShutdown = options.autoShutdown ?? "never"
  const children: Array<Child> = []
  const seen = new Set<string>()
  for (const [index, spec] of (options.children ?? []).entries()) {
    const normalized = normalize(spec, `children[${index}]`, autoShutdown)
    if (Result.isFailure(normalized)) return Result.fail(normalized.failure)
    if (seen.has(normalized.success.id)) {
      return Result.fail(
        Options.invalid("supervisor options", `children[${index}].id`, `duplicate child id "${normalized.success.id}"`)
      )
    }
    seen.add(normalized.success.id)
    // the children list stores erased specs; their R is provided by the supervisor's own context
    children.push(makeChild(normalized.success as Child["spec"]))
  }
  return Result.succeed({
    name: options.name ?? "supervisor",
    strategy: options.strategy ?? "oneForOne",
    maxRestarts: options.maxRestarts ?? DEFAULT_MAX_RESTARTS,
    periodMillis: period.success,
    autoShutdown,
    children
  })
}

/**
 * Starts a supervisor and its children; the caller owns its lifetime (stop it with `Actor.stop`, or let a
 * parent supervisor do it). Fails with `InvalidOptions` when the options or a child spec do not validate, and with
 * `FailedToStartChild` when a child's start fails (the children started before it are stopped again).
 */
export const spawn = <R = never>(options: SupervisorOptions<R>): Effect.Effect<SupervisorRef, SpawnError, R> =>
  Effect.suspend((): Effect.Effect<SupervisorRef, SpawnError, R> => {
    const config = validateOptions(options)
    if (Result.isFailure(config)) return Effect.fail(config.failure)
    return Actor.start(behaviour, config.success, { name: config.success.name, kind: "supervisor", trapExit: true })
      .pipe(
        Effect.catchTag("InitFailed", (error) => Effect.fail(toSpawnError(error))),
        Effect.catchTag(["StartIgnored", "AlreadyStarted"], (error) => Effect.die(error))
      )
  })

const toSpawnError = (error: InitFailed): FailedToStartChild => {
  const reason = error.exitReason
  if (reason._tag === "Shutdown" && reason.term instanceof FailedToStartChild) return reason.term
  return new FailedToStartChild({ id: "(supervisor)", reason })
}

/**
 * The supervisor under which `start` places new supervisors (an application's root); absent by default, when
 * `start` makes an independent tree. Services started inside an application layer thereby become subtrees of
 * one root supervisor, which `whichChildren` shows and which restarts a service supervisor that gave up.
 */
export const CurrentParentSupervisor = Context.Reference<SupervisorRef | undefined>("troupe/Supervisor/Parent", {
  defaultValue: () => undefined
})

/**
 * Starts a supervisor tied to the current scope: closing the scope shuts the tree down in order. Under a
 * `CurrentParentSupervisor` it is started as that parent's child (its `name`, made unique: `name#2`, `name#3`, …,
 * even for starts that run concurrently) and closing the scope terminates and removes it there (see
 * `startScopedUnderParent`). Fails as `spawn`: `InvalidOptions` for invalid options or specs,
 * `FailedToStartChild` when a child's start fails.
 *
 * @example
 * ```ts
 * const sup = yield* Supervisor.start({
 *   strategy: "oneForOne",
 *   children: [ChildSpec.actor("counter", Counter, 0), ChildSpec.task({ id: "sweeper", run: sweep })]
 * })
 * ```
 */
export const start = <R = never>(
  options: SupervisorOptions<R>
): Effect.Effect<SupervisorRef, SpawnError, R | Scope.Scope> =>
  Effect.suspend(() => {
    const config = validateOptions(options)
    if (Result.isFailure(config)) return Effect.fail(config.failure)
    return startScopedUnderParent(config.success.name, "permanent", (name) => spawn({ ...options, name }))
  })

/**
 * Starts a supervisor process tied to the current scope: standalone (shut down when the scope closes), or, under
 * a `CurrentParentSupervisor`, as that parent's child named `name` (made unique) with the given restart type —
 * `permanent` for supervisors whose children carry everything they need (the parent may restart them), or
 * `temporary` for ones a service keeps calling by ref (a restarted copy would be unknown to the service).
 *
 * - The parent picks the id (`name`, else the first free `name#2`, `name#3`, …) and starts the child in one
 *   request, so same-named supervisors started concurrently all start, each under its own id.
 * - Closing the scope terminates and removes the child this scope added, restarted copies included; when that
 *   child already left the parent (a temporary one that exited), it does nothing, so a later supervisor that
 *   reused the id is not touched.
 *
 * Fails with `spawnNamed`'s error when the supervisor fails to start; a failure of the call to the parent (it is
 * not alive, or exits meanwhile) is a defect.
 */
export const startScopedUnderParent = <A extends Process, E, R>(
  name: string,
  restart: "permanent" | "temporary",
  spawnNamed: (name: string) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R | Scope.Scope> =>
  // the inner child ref is the A that spawnNamed produced; E and R are those of spawnNamed plus Scope
  Effect.gen(function*() {
    const parent = yield* CurrentParentSupervisor
    if (parent === undefined || parent.exitReason !== undefined) {
      return yield* Effect.acquireRelease(spawnNamed(name), (ref) => shutdownTree(ref))
    }
    // the parent picks the free id and starts the child in one request: concurrent starters cannot race for it
    const specFor = (id: string): ChildSpec<R> => ({
      id,
      type: "supervisor",
      restart,
      // a supervisor ref is a Process; the spec's error channel is erased to unknown
      start: spawnNamed(id) as Effect.Effect<Process, unknown, R>
    })
    const { ref } = yield* Effect.acquireRelease(
      Effect.gen(function*() {
        const added = yield* request<ScopedChild, FailedToStartChild>(parent, {
          _tag: "StartUniqueChild",
          name,
          // the supervisor stores erased specs; R is provided by its context
          spec: specFor as (id: string) => ChildSpec<unknown>
        }).pipe(Effect.catch((e) => e._tag === "FailedToStartChild" ? Effect.fail(e) : Effect.die(e)))
        if (added.process === undefined) return yield* Effect.die(new Error(`supervisor ${added.id} ignored its start`))
        // the process started by spawnNamed(id), i.e. its A
        return { spec: added.spec, ref: added.process as A }
      }).pipe(Effect.catchTag("FailedToStartChild", (e) => Effect.failCause(startFailureCause(e)))),
      // only the child this scope added (restarted or not) is removed: one that left leaves its id to others
      ({ ref, spec }) =>
        parent.exitReason !== undefined
          ? shutdownTree(ref)
          : Effect.andThen(
            Effect.ignore(request(parent, { _tag: "RemoveChild", spec })),
            Effect.suspend(() => parent.exitReason !== undefined ? shutdownTree(ref) : Effect.void)
          )
    )
    return ref
  }) as Effect.Effect<A, E, R | Scope.Scope>

/** The reply to `StartUniqueChild`: the id the parent chose, the process, and the spec it was added with. */
interface ScopedChild {
  readonly id: string
  readonly process: Process | undefined
  readonly spec: ChildSpec<unknown>
}

/** The original failure of a child supervisor that failed to start under a parent. */
const startFailureCause = (error: FailedToStartChild): Cause.Cause<never> => {
  const reason = error.exitReason
  // the cause spawnNamed failed with (its E): typed never here, restored to E by the cast of startScopedUnderParent
  if (reason._tag === "Failure") return reason.cause as Cause.Cause<never>
  // a child supervisor's own start failure: `shutdown(failedToStartChild(...))`, OTP's shape
  if (reason._tag === "Shutdown" && reason.term instanceof FailedToStartChild) {
    return Cause.fail(reason.term) as Cause.Cause<never>
  }
  return Cause.die(error)
}

/** Stops a supervisor with `shutdown` and waits until its whole tree is down. */
export const shutdownTree = (ref: Process): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (ref.exitReason !== undefined) return Effect.void
    ref.signalStop(ExitReason.shutdown)
    return Effect.asVoid(awaitExit(ref))
  })

/** The root supervisor of an application layer. */
export class RootSupervisor extends Context.Service<RootSupervisor, SupervisorRef>()("troupe/RootSupervisor") {}

/**
 * A Layer that starts the tree when built and shuts it down in order when released. Fails to build as `spawn`:
 * `InvalidOptions` for invalid options or specs, `FailedToStartChild` when a child's start fails.
 */
export const layer = <R = never>(options: SupervisorOptions<R>): Layer.Layer<RootSupervisor, SpawnError, R> =>
  Layer.effect(RootSupervisor, start(options))

/**
 * The root of an application: provides `RootSupervisor` and makes it the `CurrentParentSupervisor`, so every
 * supervisor that layers built on top of it start (`Supervisor.start`) becomes a subtree of this one root.
 * Releasing the layer shuts the whole tree down in reverse start order. Fails to build as `spawn`: `InvalidOptions`
 * for invalid options or specs, `FailedToStartChild` when a child's start fails.
 */
export const layerRoot = <R = never>(options: SupervisorOptions<R>): Layer.Layer<RootSupervisor, SpawnError, R> =>
  Layer.effectContext(
    Effect.map(
      Effect.acquireRelease(spawn(options), (ref) => shutdownTree(ref)),
      (ref) => Context.make(RootSupervisor, ref).pipe(Context.add(CurrentParentSupervisor, ref))
    )
  )

/** A child spec for a nested supervisor (`type: "supervisor"`, shutdown `infinity` unless given). */
export const childSpec = <R = never>(
  id: string,
  options: SupervisorOptions<R>,
  spec?: Omit<ChildSpec, "id" | "start" | "type">
): ChildSpec<R> => ({
  ...spec,
  id,
  type: "supervisor",
  // a supervisor ref is a Process; the spec's error channel is erased to unknown
  start: spawn({ name: id, ...options }) as Effect.Effect<Process, unknown, R>
})

type CallFailure = Actor.CallError | import("./RuntimeError.ts").CallingSelf

const request = <A, E extends ManagementError>(
  ref: SupervisorRef,
  message: Request
): Effect.Effect<A, E | CallFailure> =>
  Effect.flatMap(
    // constant options, nothing to decode: callUnsafe (a supervisor call cannot fail with InvalidOptions)
    Effect.suspend(() => Actor.callUnsafe(ref, message, { timeout: "infinity" })),
    (response) =>
      // each request's reply type is fixed by its tag; the callers below name it as A and E
      Result.isSuccess(response) ? Effect.succeed(response.success as A) : Effect.fail(response.failure as E)
  )

/**
 * Adds and starts a child (`undefined` when its start was ignored). Fails with `InvalidOptions` when the spec does
 * not validate, `AlreadyStarted` when a running child has the id, `AlreadyPresent` when a stopped child's spec has
 * it, `FailedToStartChild` when the child's start fails; and with `CallError` (`NoProc` when the supervisor is not alive, `ActorExited` when it exits before replying) or
 * `CallingSelf` (called from the supervisor's own fiber).
 */
export const startChild = <R>(
  ref: SupervisorRef,
  spec: ChildSpec<R>
): Effect.Effect<
  Process | undefined,
  | import("./RuntimeError.ts").AlreadyStarted
  | import("./RuntimeError.ts").AlreadyPresent
  | FailedToStartChild
  | InvalidOptions
  | CallFailure
> =>
  // the supervisor stores erased specs; R is provided by its context
  request(ref, { _tag: "StartChild", spec: spec as ChildSpec<unknown> })

/**
 * Terminates a child; a temporary child's spec is removed, others are kept (restartable). Fails with `ChildNotFound`
 * when no child has the id, and with `CallError` (`NoProc` when the supervisor is not alive, `ActorExited` when it exits before replying) or
 * `CallingSelf` (called from the supervisor's own fiber).
 */
export const terminateChild = (
  ref: SupervisorRef,
  id: string
): Effect.Effect<void, import("./RuntimeError.ts").ChildNotFound | CallFailure> =>
  request(ref, { _tag: "TerminateChild", id })

/**
 * Restarts a child that is not running. Fails with `ChildNotFound` when no child has the id, `ChildRunning` when it
 * is running, `ChildRestarting` when its restart is pending, `FailedToStartChild` when its start fails; and with
 * `CallError` (`NoProc` when the supervisor is not alive, `ActorExited` when it exits before replying) or
 * `CallingSelf` (called from the supervisor's own fiber).
 */
export const restartChild = (
  ref: SupervisorRef,
  id: string
): Effect.Effect<
  Process | undefined,
  | import("./RuntimeError.ts").ChildNotFound
  | import("./RuntimeError.ts").ChildRunning
  | import("./RuntimeError.ts").ChildRestarting
  | FailedToStartChild
  | CallFailure
> => request(ref, { _tag: "RestartChild", id })

/**
 * Deletes the spec of a child that is not running. Fails with `ChildNotFound` when no child has the id,
 * `ChildRunning` when it is running, `ChildRestarting` when its restart is pending; and with `CallError` (`NoProc` when the supervisor is not alive, `ActorExited` when it exits before replying) or
 * `CallingSelf` (called from the supervisor's own fiber).
 */
export const deleteChild = (
  ref: SupervisorRef,
  id: string
): Effect.Effect<
  void,
  | import("./RuntimeError.ts").ChildNotFound
  | import("./RuntimeError.ts").ChildRunning
  | import("./RuntimeError.ts").ChildRestarting
  | CallFailure
> => request(ref, { _tag: "DeleteChild", id })

/**
 * Every child, in start order (a deliberate difference from OTP's `which_children`, which lists the newest
 * first); `countChildren` gives exact counts. Fails with `CallError` (`NoProc` when the supervisor is not alive, `ActorExited` when it exits before replying) or
 * `CallingSelf` (called from the supervisor's own fiber).
 */
export const whichChildren = (ref: SupervisorRef): Effect.Effect<ReadonlyArray<ChildInfo>, CallFailure> =>
  request<ReadonlyArray<ChildInfo>, never>(ref, { _tag: "WhichChildren" })

/** Counts of specs, running children, supervisors and workers. Fails with `CallError` (`NoProc` when the supervisor is not alive, `ActorExited` when it exits before replying) or
 * `CallingSelf` (called from the supervisor's own fiber). */
export const countChildren = (ref: SupervisorRef): Effect.Effect<ChildCounts, CallFailure> =>
  request<ChildCounts, never>(ref, { _tag: "CountChildren" })

/**
 * The child's spec with its defaults filled in (`restart`, `shutdown`, `type`, `significant`), as OTP's
 * `get_childspec`. Fails with `ChildNotFound` when no child has the id, and with `CallError` (`NoProc` when the supervisor is not alive, `ActorExited` when it exits before replying) or
 * `CallingSelf` (called from the supervisor's own fiber).
 */
export const getChildSpec = (
  ref: SupervisorRef,
  id: string
): Effect.Effect<ChildSpec<unknown>, import("./RuntimeError.ts").ChildNotFound | CallFailure> =>
  request(ref, { _tag: "GetChildSpec", id })

/** Renders a cause for humans (used by examples and tests). */
export const prettyReason = (reason: ExitReason.ExitReason): string =>
  reason._tag === "Failure" ? `failure: ${Cause.pretty(reason.cause).split("\n")[0]}` : ExitReason.format(reason)
