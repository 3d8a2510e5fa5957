/**
 * Actions: named, described, Schema-typed units of work — the building block agents, tools and chains run.
 *
 * Mirrors `Jido.Action` (jido_action): `name`, `description`, a params schema (`schema:`), an output schema
 * (`output_schema:`), `run(params, context)`, per-action `timeout` (default 30 s), `max_retries` (default 1) with
 * exponential backoff (250 ms doubling, capped at 30 s), and `on_error/compensate` run when the action finally
 * fails. Params and output are decoded with Effect `Schema` (typed errors naming the bad path). An action may
 * return state operations with its output (`Action.withOps`), which the agent's `cmd` applies.
 *
 * Two kinds: `make` (an effectful `run`, executed by `ActionRunner.execute` with timeout, retries, compensation)
 * and `pure` (a synchronous function, which an agent's pure `cmd` runs inline — no fiber, no directive).
 * Both run everywhere an action is expected.
 */
import { Duration, Effect, Schema } from "effect"
import type { ActionTimeout } from "./AgentError.ts"
import type { StateOp } from "./StateOp.ts"

/** The brand that marks an `Action`. */
export const ActionTypeId: unique symbol = Symbol.for("troupe/agent/Action")
const OutcomeTypeId: unique symbol = Symbol.for("troupe/agent/Action/Outcome")

/** What a running action knows about its caller. */
export interface ActionContext {
  /** the agent's state when the action started (undefined outside an agent) */
  readonly state: unknown
  /** the agent's id, when run by an agent */
  readonly agentId?: string | undefined
}

/** An output together with state operations for the agent. */
export interface Outcome<O> {
  readonly [OutcomeTypeId]: true
  readonly output: O
  readonly ops: ReadonlyArray<StateOp>
}

/**
 * Returns `output` together with state operations.
 *
 * @example
 * ```ts
 * run: ({ n }) => Effect.succeed(Action.withOps({ total: n }, StateOp.set({ total: n })))
 * ```
 */
export const withOps = <O>(output: O, ...ops: ReadonlyArray<StateOp>): Outcome<O> => ({
  [OutcomeTypeId]: true,
  output,
  ops
})

/** True when an action's `run` returned `withOps(output, …ops)` rather than a plain output. */
export const isOutcome = (u: unknown): u is Outcome<unknown> =>
  typeof u === "object" && u !== null && OutcomeTypeId in u

/** A schema usable for params and outputs: decodable without services. */
export type AnySchema = Schema.Codec<unknown, unknown, never, never>

/** What running an action can fail with: its own error `E`, or `ActionTimeout` when it ran past its `timeout`. */
export type Failure<E> = E | ActionTimeout

/** Function types compared bivariantly, so that specific actions are assignable to `Action.Any`. */
export type Bivariant<Args extends ReadonlyArray<unknown>, R> = { bivarianceHack(...args: Args): R }["bivarianceHack"]

/**
 * A named, schema-typed unit of work (Jido's `Action`): params decoded with `params` before `run`, output checked
 * with `output` after it, an optional timeout; `run` may return state ops with its output (`withOps`).
 */
export interface Action<
  Name extends string = string,
  PS extends AnySchema = AnySchema,
  OS extends AnySchema = AnySchema,
  E = unknown,
  R = never
> {
  readonly [ActionTypeId]: typeof ActionTypeId
  readonly name: Name
  readonly description: string
  readonly params: PS
  readonly output: OS
  readonly run: Bivariant<
    [params: PS["Type"], context: ActionContext],
    Effect.Effect<OS["Type"] | Outcome<OS["Type"]>, E, R>
  >
  /** set for `pure` actions: the synchronous body `cmd` runs inline */
  readonly sync: Bivariant<[params: PS["Type"], context: ActionContext], OS["Type"] | Outcome<OS["Type"]>> | undefined
  readonly timeout: Duration.Duration
  /** retries after the first attempt */
  readonly retries: number
  readonly backoffBase: Duration.Duration
  readonly backoffMax: Duration.Duration
  readonly retryable: Bivariant<[error: Failure<E>], boolean>
  readonly compensate:
    | Bivariant<
      [params: PS["Type"], error: Failure<E> | unknown, context: ActionContext],
      Effect.Effect<unknown, unknown, R>
    >
    | undefined
  readonly compensateTimeout: Duration.Duration
}

/** Any action, whatever its types (for lists of actions). */
export type Any = Action<string, AnySchema, AnySchema, unknown, unknown>

/** The decoded params type of action `A`. */
export type Params<A> = A extends Action<string, infer PS, AnySchema, unknown, unknown> ? PS["Type"] : never
/** The output type of action `A`. */
export type Output<A> = A extends Action<string, AnySchema, infer OS, unknown, unknown> ? OS["Type"] : never
/** The services action `A`'s `run` needs. */
export type Requirements<A> = A extends Action<string, AnySchema, AnySchema, unknown, infer R> ? R : never
/** The error type of action `A`'s `run`. */
export type Error<A> = A extends Action<string, AnySchema, AnySchema, infer E, unknown> ? E : never

/**
 * What `Action.make` takes: the name, an optional description, the params and output schemas, `run`, and an optional
 * timeout.
 */
export interface Options<Name extends string, PS extends AnySchema, OS extends AnySchema, E, R> {
  readonly name: Name
  readonly description?: string
  readonly params: PS
  readonly output: OS
  readonly run: (params: PS["Type"], context: ActionContext) => Effect.Effect<OS["Type"] | Outcome<OS["Type"]>, E, R>
  /** per attempt; default 30 seconds */
  readonly timeout?: Duration.Input
  /** retries after the first attempt; default 1 */
  readonly retries?: number
  /** first backoff delay, doubled at each retry; default 250 ms */
  readonly backoff?: Duration.Input
  /** backoff cap; default 30 seconds */
  readonly maxBackoff?: Duration.Input
  /** which failures are worth retrying; default: all typed failures and timeouts */
  readonly retryable?: (error: Failure<E>) => boolean
  /** undo, run once when the action finally fails (as a supervised task) */
  readonly compensate?: (
    params: PS["Type"],
    error: Failure<E> | unknown,
    context: ActionContext
  ) => Effect.Effect<unknown, unknown, R>
  /** default 5 seconds */
  readonly compensateTimeout?: Duration.Input
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/

const OptionsSchema = Schema.Struct({
  name: Schema.String.pipe(Schema.check(Schema.isPattern(NAME))),
  description: Schema.optional(Schema.String),
  retries: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 100 }))))
})

const always = (): boolean => true

const durationOr = (
  input: Duration.Input | undefined,
  fallback: Duration.Duration,
  field: string,
  name: string
): Duration.Duration => {
  if (input === undefined) return fallback
  const d = Duration.fromInputUnsafe(input)
  if (Duration.toMillis(d) < 0) throw new TypeError(`action ${name}: ${field} must not be negative`)
  return d
}

/**
 * Defines an effectful action. Definitions are code: a malformed name or option throws at definition time
 * (module load), naming the field.
 *
 * @example
 * ```ts
 * const Fetch = Action.make({
 *   name: "fetch_user",
 *   description: "Loads a user by id",
 *   params: Schema.Struct({ id: Schema.String }),
 *   output: Schema.Struct({ name: Schema.String }),
 *   run: ({ id }) => Users.get(id),
 *   retries: 3,
 *   compensate: ({ id }) => Audit.record(`fetch ${id} failed`)
 * })
 * ```
 */
export const make = <const Name extends string, PS extends AnySchema, OS extends AnySchema, E = never, R = never>(
  options: Options<Name, PS, OS, E, R>
): Action<Name, PS, OS, E, R> => build(options, undefined)

/**
 * Defines a pure action: a synchronous function of params and state. An agent's `cmd` runs it inline; elsewhere
 * it runs like any action (no timeout or retries apply to a function that cannot wait or fail transiently).
 *
 * @example
 * ```ts
 * const Increment = Action.pure({
 *   name: "increment",
 *   params: Schema.Struct({ by: Schema.Number }),
 *   output: Schema.Number,
 *   run: ({ by }, { state }) => Action.withOps(by, StateOp.set({ count: (state as { count: number }).count + by }))
 * })
 * ```
 */
export const pure = <const Name extends string, PS extends AnySchema, OS extends AnySchema>(options: {
  readonly name: Name
  readonly description?: string
  readonly params: PS
  readonly output: OS
  readonly run: (params: PS["Type"], context: ActionContext) => OS["Type"] | Outcome<OS["Type"]>
}): Action<Name, PS, OS, never, never> => {
  const sync = options.run
  return build<Name, PS, OS, never, never>(
    {
      ...options,
      // a pure action never calls `run`: build uses the `sync` body passed below
      run: undefined as never,
      retries: 0
    },
    sync
  )
}

const build = <Name extends string, PS extends AnySchema, OS extends AnySchema, E, R>(
  options: Options<Name, PS, OS, E, R>,
  sync: Action<Name, PS, OS, E, R>["sync"]
): Action<Name, PS, OS, E, R> => {
  const checked = Schema.decodeUnknownResult(OptionsSchema)(options)
  if (checked._tag === "Failure") {
    throw new TypeError(`invalid action definition ${String(options.name)}: ${checked.failure.message}`)
  }
  const name = options.name
  return {
    [ActionTypeId]: ActionTypeId,
    name,
    description: options.description ?? "",
    params: options.params,
    output: options.output,
    run: sync !== undefined ? (params, context) => Effect.sync(() => sync(params, context)) : options.run,
    sync,
    timeout: durationOr(options.timeout, Duration.seconds(30), "timeout", name),
    retries: options.retries ?? 1,
    backoffBase: durationOr(options.backoff, Duration.millis(250), "backoff", name),
    backoffMax: durationOr(options.maxBackoff, Duration.seconds(30), "maxBackoff", name),
    retryable: options.retryable ?? always,
    compensate: options.compensate,
    compensateTimeout: durationOr(options.compensateTimeout, Duration.seconds(5), "compensateTimeout", name)
  }
}

/** True when `u` is an `Action`. */
export const isAction = (u: unknown): u is Any => typeof u === "object" && u !== null && ActionTypeId in u
