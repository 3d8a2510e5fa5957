/**
 * Running actions: decode params, run each attempt under a timeout, retry with capped exponential backoff, decode
 * the output, and compensate once when the action finally fails. Also sequential chains.
 *
 * Mirrors `Jido.Exec.run/4` and `Jido.Exec.Chain.chain/3`: params validated before the run, `timeout` per
 * attempt, `max_retries` with backoff, `on_error` compensation with its own timeout, and chains where each
 * action's output is merged into the next action's params.
 *
 * Reuses Effect: `Schema` for decoding, `Effect.timeoutOrElse` for timeouts, `Schedule.exponential` capped by
 * `Schedule.min` with `Schedule.spaced` for backoff (so it all runs under `TestClock`). Compensation runs as its
 * own process — a temporary `ChildSpec.task` under the `CompensationSupervisor` when one is in context (the
 * AgentServer sets it), else a standalone `Task` process — so it is supervised, outlives the interruption of
 * whoever was waiting for the action, and is stopped when its timeout elapses.
 */
import { Cause, Context, Duration, Effect, Exit, Result, Schedule, Schema, SchemaAST } from "effect"
import * as ExitReason from "../runtime/ExitReason.ts"
import { DynamicSupervisor, type Process, Task } from "../runtime/index.ts"
import { awaitExit } from "../runtime/Process.ts"
import type * as Action from "./Action.ts"
import { isOutcome } from "./Action.ts"
import {
  ActionFailed,
  ActionTimeout,
  type CompensationOutcome,
  fromSchemaError,
  InvalidOutput,
  InvalidParams
} from "./AgentError.ts"
import * as FastGuard from "./internal/FastGuard.ts"
import * as StateOp from "./StateOp.ts"

/** The dynamic supervisor compensations run under (set by the AgentServer); none → standalone task. */
export const CompensationSupervisor = Context.Reference<DynamicSupervisor.DynamicSupervisorRef | undefined>(
  "troupe/agent/CompensationSupervisor",
  { defaultValue: () => undefined }
)

/** An action's decoded output and the state operations it asked for. */
export interface ActionResult<O> {
  readonly output: O
  readonly ops: ReadonlyArray<StateOp.StateOp>
}

/**
 * Why running an action fails: params that do not decode (`InvalidParams`), an output that does not match its schema
 * (`InvalidOutput`), or the action's own failure or timeout (`ActionFailed`).
 */
export type ExecuteError = InvalidParams | InvalidOutput | ActionFailed

const decoders = new WeakMap<object, (u: unknown) => Result.Result<unknown, Schema.SchemaError>>()
const decoderOf = (
  schema: Action.AnySchema,
  typeSide: boolean
): (u: unknown) => Result.Result<unknown, Schema.SchemaError> => {
  // every Schema carries its AST; the type side shares it, so the AST is the cache key
  const key = typeSide ? (schema as { ast: object }).ast : schema
  let decode = decoders.get(key)
  if (decode === undefined) {
    const s = typeSide ? Schema.toType(schema) : schema
    // toType keeps the schema's Type and needs no services, so it is still an AnySchema
    const run = Schema.decodeUnknownResult(s as Action.AnySchema)
    decode = (u) => run(u, { errors: "all" })
    decoders.set(key, decode)
  }
  return decode
}

// Per-schema checks, cached on the schema object under a symbol (a property read instead of a WeakMap lookup).
const CHECKS: unique symbol = Symbol.for("troupe/agent/SchemaChecks")
interface SchemaChecks {
  /** a fast type guard for the type side (`Schema.is`); decoding runs only to explain a failure */
  readonly guard: (u: unknown) => boolean
  /** no transformations or defaults: a valid encoded value decodes to itself */
  readonly plain: boolean
}
const checksOf = (schema: Action.AnySchema): SchemaChecks => {
  // the checks are cached on the schema object under our own symbol
  const holder = schema as { [CHECKS]?: SchemaChecks }
  let checks = holder[CHECKS]
  if (checks === undefined) {
    // every Schema carries its AST
    const ast = (schema as { ast: SchemaAST.AST }).ast
    checks = {
      guard: FastGuard.make(schema),
      plain: SchemaAST.toEncoded(ast) === ast && SchemaAST.toType(ast) === ast
    }
    Object.defineProperty(schema, CHECKS, { value: checks, enumerable: false })
  }
  return checks
}

/** Decodes untrusted params (the encoded side of the params schema). */
export const decodeParams = <A extends Action.Any>(
  action: A,
  params: unknown
): Result.Result<Action.Params<A>, InvalidParams> => {
  // fast path: a schema without transformations or defaults decodes a valid value to itself
  const checks = checksOf(action.params)
  // a transformation-free schema decodes a value its guard accepts to itself
  if (checks.plain && checks.guard(params)) return Result.succeed(params as Action.Params<A>)
  const result = decoderOf(action.params, false)(params)
  // decoded by the action's params schema, whose Type is Params<A>
  if (Result.isSuccess(result)) return result as Result.Result<Action.Params<A>, never>
  const { path, detail } = fromSchemaError(result.failure)
  return Result.fail(new InvalidParams({ action: action.name, subject: `params of ${action.name}`, path, detail }))
}

/** Checks what `run` returned against the output schema (its type side) and splits off state operations. */
export const decodeOutput = <A extends Action.Any>(
  action: A,
  returned: unknown
): Result.Result<ActionResult<Action.Output<A>>, InvalidOutput> => {
  const output = isOutcome(returned) ? returned.output : returned
  const ops = isOutcome(returned) ? returned.ops : []
  // accepted by the output schema's guard, whose type is Output<A>
  if (checksOf(action.output).guard(output)) return Result.succeed({ output: output as Action.Output<A>, ops })
  const result = decoderOf(action.output, true)(output)
  // decoded by the action's output schema, whose Type is Output<A>
  if (Result.isSuccess(result)) return Result.succeed({ output: result.success as Action.Output<A>, ops })
  const { path, detail } = fromSchemaError(result.failure)
  return Result.fail(new InvalidOutput({ action: action.name, subject: `output of ${action.name}`, path, detail }))
}

const noOps: ReadonlyArray<StateOp.StateOp> = []

/**
 * Runs a pure action synchronously (what `cmd` does inline). A throw becomes `ActionFailed` (no compensation:
 * a pure action has no effects to undo).
 */
export const executeSync = <A extends Action.Any>(
  action: A,
  params: unknown,
  context: Action.ActionContext
): Result.Result<ActionResult<Action.Output<A>>, ExecuteError> => {
  const body = action.sync
  // fast path (a valid value of a transformation-free params schema, a valid output): one allocation
  const paramChecks = checksOf(action.params)
  if (body !== undefined && paramChecks.plain && paramChecks.guard(params)) {
    let returned: unknown
    try {
      // accepted by the params schema's guard of a transformation-free schema
      returned = body(params as Action.Params<A>, context)
    } catch (error) {
      return Result.fail(new ActionFailed({ action: action.name, attempts: 1, error, compensation: "none" }))
    }
    const outcome = isOutcome(returned) ? returned : undefined
    const output = outcome !== undefined ? outcome.output : returned
    if (checksOf(action.output).guard(output)) {
      // accepted by the output schema's guard, whose type is Output<A>
      return Result.succeed({ output: output as Action.Output<A>, ops: outcome !== undefined ? outcome.ops : noOps })
    }
    return decodeOutput(action, returned)
  }
  const decoded = decodeParams(action, params)
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
  if (body === undefined) {
    return Result.fail(
      new ActionFailed({ action: action.name, attempts: 0, error: "not a pure action", compensation: "none" })
    )
  }
  let returned: unknown
  try {
    returned = body(decoded.success, context)
  } catch (error) {
    return Result.fail(new ActionFailed({ action: action.name, attempts: 1, error, compensation: "none" }))
  }
  return decodeOutput(action, returned)
}

const backoff = (action: Action.Any) =>
  Schedule.min([Schedule.exponential(action.backoffBase), Schedule.spaced(action.backoffMax)])

/** Runs the compensation as a supervised process and reports what happened. Never fails. */
const compensate = (
  action: Action.Any,
  params: unknown,
  error: unknown,
  context: Action.ActionContext
): Effect.Effect<CompensationOutcome> => {
  const undo = action.compensate
  if (undo === undefined) return Effect.succeed("none")
  return Effect.gen(function*() {
    // compensation runs in the context of `execute`, whose type requires the action's services
    const run = undo(params, error, context) as Effect.Effect<unknown, unknown>
    const supervisor = yield* CompensationSupervisor
    const id = `compensate:${action.name}`
    let process: Process.Process | undefined
    if (supervisor !== undefined && supervisor.exitReason === undefined) {
      const started = yield* Effect.exit(
        DynamicSupervisor.startChild(supervisor, { id, restart: "temporary", start: Task.start(id, run) })
      )
      process = Exit.isSuccess(started) ? started.value : undefined
    }
    if (process === undefined) process = yield* Task.start(id, run)
    const target = process
    const reason = yield* awaitExit(target).pipe(
      Effect.timeoutOrElse({
        duration: action.compensateTimeout,
        orElse: () =>
          Effect.sync(() => {
            target.signalStop(ExitReason.shutdownWith("compensation timeout"))
            return undefined
          })
      })
    )
    if (reason === undefined) return "timedOut" as const
    return reason._tag === "Normal" ? "succeeded" as const : "failed" as const
  })
}

/**
 * Executes an action: decode params, run with timeout and retries, decode the output; on final failure run the
 * compensation and fail with `ActionFailed`. Interruption is not a failure: no compensation runs. Fails with
 * `InvalidParams` when the params do not decode (nothing runs), `InvalidOutput` when the action's output does not
 * match its schema (not retried, no compensation), `ActionFailed` when the action fails or times out on its last
 * attempt.
 *
 * @example
 * ```ts
 * const { output, ops } = yield* ActionRunner.execute(Fetch, { id: "u1" }, { state: undefined })
 * ```
 */
export const execute = <A extends Action.Any>(
  action: A,
  params: unknown,
  context: Action.ActionContext = { state: undefined }
): Effect.Effect<ActionResult<Action.Output<A>>, ExecuteError, Action.Requirements<A>> =>
  Effect.suspend(() => {
    const decoded = decodeParams(action, params)
    if (Result.isFailure(decoded)) return Effect.fail(decoded.failure)
    return executeDecoded(action, decoded.success, context)
  })

/**
 * `execute` for params that are already decoded (e.g. by an `effect/ai` Toolkit). Fails with `InvalidOutput` when
 * the output does not match its schema and `ActionFailed` when the action fails or times out on its last attempt;
 * `InvalidParams` is in its type (`ExecuteError`) but not raised, the params being taken as decoded.
 */
export const executeDecoded = <A extends Action.Any>(
  action: A,
  input: Action.Params<A>,
  context: Action.ActionContext = { state: undefined }
): Effect.Effect<ActionResult<Action.Output<A>>, ExecuteError, Action.Requirements<A>> =>
  Effect.suspend(() => {
    let attempts = 0
    const timeoutMillis = Duration.toMillis(action.timeout)
    const attempt = Effect.suspend(() => {
      attempts++
      // `run` of an Action.Any is erased; this is A's own run, so its services are Requirements<A>
      return action.run(input, context) as Effect.Effect<unknown, unknown, Action.Requirements<A>>
    }).pipe(
      Effect.timeoutOrElse({
        duration: action.timeout,
        orElse: () => Effect.fail(new ActionTimeout({ action: action.name, timeoutMillis }))
      }),
      Effect.flatMap((returned) => {
        const out = decodeOutput(action, returned)
        return Result.isSuccess(out) ? Effect.succeed(out.success) : Effect.fail(out.failure)
      })
    )
    const retried = action.retries > 0
      ? Effect.retry(attempt, {
        schedule: backoff(action),
        times: action.retries,
        while: (error: unknown) => !(error instanceof InvalidOutput) && action.retryable(error)
      })
      : attempt
    // the output was checked by decodeOutput (Output<A>); the services are those of A's run
    return retried.pipe(
      Effect.catchCause((cause): Effect.Effect<never, ExecuteError> => {
        // a cause with interrupts only holds no failure, so its error type is never
        if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
        const found = Cause.findErrorOption(cause)
        const error = found._tag === "Some" ? found.value : Cause.squash(cause)
        if (error instanceof InvalidOutput) return Effect.fail(error)
        return Effect.flatMap(
          compensate(action, input, error, context),
          (compensation) => Effect.fail(new ActionFailed({ action: action.name, attempts, error, compensation }))
        )
      })
    ) as Effect.Effect<ActionResult<Action.Output<A>>, ExecuteError, Action.Requirements<A>>
  })

/** The result of a chain: every output, the last one, and all state operations in order. */
export interface ChainResult {
  readonly outputs: ReadonlyArray<unknown>
  readonly output: unknown
  readonly ops: ReadonlyArray<StateOp.StateOp>
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Runs actions one after another. Each action's params are the previous params merged with the previous output
 * (when both are objects); each sees the state with the previous actions' operations applied. Stops at the first
 * failure, which is that action's `execute` failure: `InvalidParams` (its merged params do not decode),
 * `InvalidOutput` (its output does not match its schema) or `ActionFailed` (it failed or timed out).
 *
 * @example
 * ```ts
 * const { output } = yield* ActionRunner.chain([Parse, Enrich, Store], { raw: "..." })
 * ```
 */
export const chain = <const Actions extends ReadonlyArray<Action.Any>>(
  actions: Actions,
  params: unknown,
  context: Action.ActionContext = { state: undefined }
): Effect.Effect<ChainResult, ExecuteError, Action.Requirements<Actions[number]>> =>
  // each step needs the services of one of the actions, so the union covers the chain
  Effect.gen(function*() {
    let current = params
    let state = context.state
    const outputs: Array<unknown> = []
    const ops: Array<StateOp.StateOp> = []
    for (const action of actions) {
      const result = yield* execute(action, current, { ...context, state })
      outputs.push(result.output)
      ops.push(...result.ops)
      state = StateOp.apply(state, result.ops)
      current = isRecord(current) && isRecord(result.output) ? { ...current, ...result.output } : result.output
    }
    return { outputs, output: outputs[outputs.length - 1], ops }
  }) as Effect.Effect<ChainResult, ExecuteError, Action.Requirements<Actions[number]>>
