/**
 * Child specifications: what a supervisor starts, and how it treats the child's exits.
 *
 * Mirrors OTP's `child_spec()`: `id` (unique within a static supervisor), `start`, `restart` (`permanent` —
 * the default — | `transient` | `temporary`), `shutdown` (`brutalKill` | milliseconds | `infinity`; default
 * 5000 for workers and `infinity` for supervisors), `type` (`worker` | `supervisor`) and `significant` (only for
 * `transient`/`temporary` children, and only where auto-shutdown is enabled).
 *
 * Beyond OTP: `backoff`, Akka's `restartWithBackoff` — each restart of the child waits
 * `min(max, min × 2^attempt) × (1 + random × randomFactor)`, and the attempt count resets once the child has run
 * for `resetAfter` (default: `min`) without crashing. Both `Supervisor` and `DynamicSupervisor` apply it; the restart
 * counts toward the supervisor's intensity when it is decided, and a restart that fails retries after the next
 * backoff step.
 *
 * `start` is an Effect producing a `Process`, or a function of the dynamic supervisor's `extraArguments`.
 * Failing with `StartIgnored` means OTP's `ignore`.
 */
import { Duration, Effect, Result, Schema } from "effect"
import * as Actor from "./Actor.ts"
import type * as Behaviour from "./Behaviour.ts"
import * as Options from "./internal/Options.ts"
import type { Process } from "./Process.ts"
import { AlreadyStarted, type InvalidOptions, StartIgnored } from "./RuntimeError.ts"
import * as Task from "./Task.ts"

/** OTP restart types: `permanent` is always restarted, `transient` only after an abnormal exit, `temporary` never. */
export type Restart = "permanent" | "transient" | "temporary"
/**
 * How a supervisor stops the child: `brutalKill` (interrupt at once), a number of milliseconds to wait for
 * `terminate` (or a task's finalizers) before killing, or `infinity` (wait; the default for supervisors). A kill
 * does not wait for finalizers: the child has exited once it is killed.
 */
export type Shutdown = "brutalKill" | "infinity" | number
/**
 * What the child is to its supervisor: a `worker` (default shutdown 5,000 ms) or a `supervisor` (default
 * `infinity`).
 */
export type ChildType = "worker" | "supervisor"

/**
 * An optional restart delay (not in OTP; Akka's `BackoffSupervisor` semantics), under `Supervisor` and
 * `DynamicSupervisor` alike: the n-th consecutive restart waits `min(max, min × 2^n)` with jitter, and the count
 * starts over after the child ran for `resetAfter`.
 */
export interface Backoff {
  readonly min: Duration.Input
  readonly max: Duration.Input
  /** 0 ≤ randomFactor; the delay is multiplied by 1 + random × randomFactor (default 0.2) */
  readonly randomFactor?: number
  /** a child that ran this long without crashing starts its backoff over (default: `min`) */
  readonly resetAfter?: Duration.Input
}

/**
 * How a child is started: an Effect producing its process, or (in a `simpleOneForOne`-style DynamicSupervisor) a
 * function of the extra start arguments.
 */
export type StartFn<Extra extends ReadonlyArray<unknown>, R> =
  | Effect.Effect<Process, unknown, R>
  | ((...extra: Extra) => Effect.Effect<Process, unknown, R>)

/**
 * A child specification, as OTP's `child_spec()`: its `id`, how to `start` it, its `restart` type, `shutdown`,
 * `type`, whether it is `significant` (for `autoShutdown`) and an optional `backoff`. Validated with
 * `ChildSpecSchema` when given to a supervisor (`InvalidOptions` names the path, e.g. `children[2].shutdown`).
 */
export interface ChildSpec<R = never, Extra extends ReadonlyArray<unknown> = []> {
  readonly id: string
  readonly start: StartFn<Extra, R>
  readonly restart?: Restart
  readonly shutdown?: Shutdown
  readonly type?: ChildType
  readonly significant?: boolean
  readonly backoff?: Backoff
}

/** A validated spec with every default filled in and durations in milliseconds. */
export interface NormalizedSpec<R = never, Extra extends ReadonlyArray<unknown> = []> {
  readonly id: string
  readonly start: StartFn<Extra, R>
  readonly restart: Restart
  readonly shutdown: Shutdown
  readonly type: ChildType
  readonly significant: boolean
  readonly backoff:
    | {
      readonly minMillis: number
      readonly maxMillis: number
      readonly randomFactor: number
      readonly resetAfterMillis: number
    }
    | undefined
  /** the spec as given, for `getChildSpec` */
  readonly original: ChildSpec<R, Extra>
}

const StartShape = Schema.declare(
  // an Effect or a function: any other object (an array, a plain record) would die when the supervisor runs it
  (u: unknown): u is object => typeof u === "function" || Effect.isEffect(u),
  { expected: "an Effect producing a process, or a function returning one" }
)

/** The Schema a child spec is decoded with (functions checked as functions). */
export const ChildSpecSchema = Schema.Struct({
  id: Schema.NonEmptyString,
  start: StartShape,
  restart: Schema.optional(Schema.Literals(["permanent", "transient", "temporary"])),
  shutdown: Schema.optional(Schema.Union([Schema.Literals(["brutalKill", "infinity"]), Options.NonNegativeInt])),
  type: Schema.optional(Schema.Literals(["worker", "supervisor"])),
  significant: Schema.optional(Schema.Boolean),
  backoff: Schema.optional(Schema.Struct({
    min: Options.DurationInput,
    max: Options.DurationInput,
    randomFactor: Schema.optional(Options.NonNegative),
    resetAfter: Schema.optional(Options.DurationInput)
  }))
})

const toMillis = (input: Duration.Input): number => Duration.toMillis(Duration.fromInputUnsafe(input))

/**
 * Validates a spec (`path` names the field, prefixed with e.g. `children[2]`) and fills in OTP's defaults.
 * `autoShutdown` is the supervisor's setting: significant children are invalid under `never`.
 */
export const normalize = <R, Extra extends ReadonlyArray<unknown>>(
  spec: ChildSpec<R, Extra>,
  pathPrefix: string,
  autoShutdown: "never" | "anySignificant" | "allSignificant"
): Result.Result<NormalizedSpec<R, Extra>, InvalidOptions> => {
  const decoded = Options.validate(ChildSpecSchema, spec, "child spec", pathPrefix)
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
  const type = spec.type ?? "worker"
  const restart = spec.restart ?? "permanent"
  const significant = spec.significant ?? false
  const invalid = (field: string, detail: string) =>
    Result.fail(Options.invalid("child spec", pathPrefix === "" ? field : `${pathPrefix}.${field}`, detail))
  if (significant && restart === "permanent") {
    return invalid(
      "significant",
      "a permanent child cannot be significant (OTP: significant requires transient or temporary)"
    )
  }
  if (significant && autoShutdown === "never") {
    return invalid(
      "significant",
      "significant children need the supervisor's autoShutdown to be anySignificant or allSignificant"
    )
  }
  let backoff: NormalizedSpec<R, Extra>["backoff"] = undefined
  if (spec.backoff !== undefined) {
    const minMillis = toMillis(spec.backoff.min)
    const maxMillis = toMillis(spec.backoff.max)
    if (maxMillis < minMillis) return invalid("backoff.max", "must be at least backoff.min")
    backoff = {
      minMillis,
      maxMillis,
      randomFactor: spec.backoff.randomFactor ?? 0.2,
      resetAfterMillis: spec.backoff.resetAfter === undefined ? minMillis : toMillis(spec.backoff.resetAfter)
    }
  }
  return Result.succeed({
    id: spec.id,
    start: spec.start,
    restart,
    shutdown: spec.shutdown ?? (type === "supervisor" ? "infinity" : 5000),
    type,
    significant,
    backoff,
    original: spec
  })
}

/**
 * A child that runs an actor.
 *
 * @example
 * ```ts
 * ChildSpec.actor("counter", Counter, 0, { restart: "transient" })
 * ```
 */
export const actor = <S, P extends Behaviour.Protocol, Args, E = never, R = never>(
  id: string,
  behaviour: Behaviour.Behaviour<S, P, Args, E, R>,
  args: Args,
  options?: Omit<ChildSpec, "id" | "start"> & { readonly start?: Actor.StartOptions }
): ChildSpec<R> => ({
  ...withoutStart(options),
  id,
  start: Actor.start(behaviour, args, { name: id, ...options?.start })
})

/**
 * A child that runs a plain long-running effect (a sweep, a refill tick, a watcher): restarted when it fails or
 * dies (per `restart`), interrupted on shutdown.
 *
 * @example
 * ```ts
 * ChildSpec.task({ id: "sweeper", run: sweep.pipe(Effect.repeat(Schedule.spaced("1 second"))) })
 * ```
 */
export const task = <R>(
  options: Omit<ChildSpec, "start"> & { readonly run: Effect.Effect<unknown, unknown, R> }
): ChildSpec<R> => {
  const { run, ...rest } = options
  return { ...rest, start: Task.start(options.id, run) }
}

/**
 * The `start` of a child registered by name whose restarts yield to a newer process under that name: the first run
 * is the caller's own start (a taken name fails it with `AlreadyStarted`, as ever); on every later run — the
 * supervisor's restarts — a name found taken fails with `StartIgnored`, so the supervisor forgets the old child
 * instead of retrying the restart until its intensity stops every sibling (beyond OTP, whose `try_again_restart`
 * would loop). `onRestart` may map a restart's other failures too (e.g. an on-demand child's failed init to
 * `StartIgnored`).
 */
export const restartsYieldToTakenName = <A, E, R, E2 = never>(
  start: Effect.Effect<A, E, R>,
  onRestart?: (restart: Effect.Effect<A, E | StartIgnored, R>) => Effect.Effect<A, E2, R>
): Effect.Effect<A, E | E2 | StartIgnored, R> => {
  let restarting = false
  return Effect.suspend((): Effect.Effect<A, E | E2 | StartIgnored, R> => {
    if (!restarting) {
      restarting = true
      return start
    }
    const restart = Effect.mapError(start, (e) => e instanceof AlreadyStarted ? new StartIgnored({ name: e.name }) : e)
    return onRestart === undefined ? restart : onRestart(restart)
  })
}

const withoutStart = (options: (Omit<ChildSpec, "id" | "start"> & { readonly start?: unknown }) | undefined) => {
  if (options === undefined) return {}
  const { start: _start, ...rest } = options
  return rest
}
