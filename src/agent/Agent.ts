/**
 * Agents as data, and `cmd`: the pure decision function.
 *
 * Mirrors `Jido.Agent`: an agent is an immutable value (id, state, status, last result/error); `new` decodes the
 * initial state with the definition's Schema (defaults applied); `cmd(agent, instruction | instructions)` returns
 * `{ agent, directives }` and performs no effect — pure actions run inline, effectful ones become `RunAction`
 * directives whose results come back as `ActionResult` instructions. `cmd` never throws. A failed command leaves
 * the agent unchanged: a throwing hook or handler (`CmdFailed`), a pure action that throws or whose params or
 * output do not decode (`ActionFailed`, `InvalidParams`, `InvalidOutput`), an action the agent does not have
 * (`CmdFailed`), a state operation naming a reserved key or a state that no longer satisfies the Schema
 * (`InvalidState`) discards the whole command — the state changes and directives before it too — and `cmd`
 * returns the input agent and one `Error` directive. An unroutable signal is not a failure of the command: it adds
 * a `NoRoute` Error directive and the rest of the command applies. Nor is the failure of an effectful action: it
 * comes back later as an `ActionResult` failure, which records the error on the agent (`error`, `pending - 1`)
 * and adds an `Error` directive. Completion is the agent's `status` (`idle` → `running` while actions are in
 * flight → `completed` / `failed` when a decision says so), not the exit of a process.
 */
import { Effect, Result, Schema } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"
import type * as Action from "./Action.ts"
import * as ActionRunner from "./ActionRunner.ts"
import { type AnyDefinition, compile, type Decision, type Definition, targetsFor } from "./AgentDefinition.ts"
import { CmdFailed, fromSchemaError, InvalidState, NoRoute } from "./AgentError.ts"
import * as Directive from "./Directive.ts"
import type { Instruction } from "./Instruction.ts"
import * as FastGuard from "./internal/FastGuard.ts"
import type { Signal } from "./Signal.ts"
import * as StateOp from "./StateOp.ts"
import * as Uuid7 from "./Uuid7.ts"

export { define } from "./AgentDefinition.ts"
export type { Decision, Definition, Handler, Route, RouteTarget, StateOf } from "./AgentDefinition.ts"

/** An agent's status (Jido's): `idle`, `running` (actions in flight), `completed` or `failed`. */
export type Status = "idle" | "running" | "completed" | "failed"

/**
 * A pure agent (Jido's `Agent` struct): an id, its definition, its state (decoded with the definition's schema),
 * status, pending action count, last result and last error. `Agent.cmd` returns a new agent; nothing mutates.
 */
export interface Agent<S> {
  readonly id: string
  readonly definition: Definition<S, unknown>
  readonly state: S
  readonly status: Status
  /** `RunAction`s in flight */
  readonly pending: number
  /** the last action output */
  readonly result: unknown
  /** the last error */
  readonly error: unknown
}

/** What `Agent.cmd` returns: the new agent and the directives it asked for (effects the server runs afterwards). */
export interface CmdResult<S> {
  readonly agent: Agent<S>
  readonly directives: ReadonlyArray<Directive.Directive>
}

const valid: Result.Result<unknown, Schema.SchemaError> = Result.succeed(undefined)

// Cached on the definition under a symbol (a property read instead of a WeakMap lookup).
const VALIDATOR: unique symbol = Symbol.for("troupe/agent/StateValidator")
type Validator = (u: unknown) => Result.Result<unknown, Schema.SchemaError>
const validatorOf = (definition: AnyDefinition): Validator => {
  // the validator is cached on the definition under our own symbol
  let validate = (definition as { [VALIDATOR]?: Validator })[VALIDATOR]
  if (validate === undefined) {
    const typeSide = Schema.toType(definition.schema)
    const is = FastGuard.make(definition.schema)
    const decode = Schema.decodeUnknownResult(typeSide)
    // the guard is the fast path (`valid`); decoding only runs to explain a failure
    validate = (u) => is(u) ? valid : decode(u, { errors: "all" })
    Object.defineProperty(definition, VALIDATOR, { value: validate, enumerable: false })
  }
  return validate
}

/**
 * Creates an agent: decodes `state` (encoded form; missing fields get the Schema's defaults) and checks the
 * routes. The id defaults to a UUIDv7. Fails with `InvalidRoute` when a route of the definition does not compile
 * and `InvalidState` when the initial state does not decode with the definition's schema.
 *
 * @example
 * ```ts
 * const agent = yield* Agent.make(Counter, { state: { count: 1 } })
 * ```
 */
export const make = <S, I>(
  definition: Definition<S, I>,
  options: { readonly id?: string; readonly state?: unknown } = {}
): Effect.Effect<Agent<S>, InvalidState | import("./AgentError.ts").InvalidRoute> =>
  Effect.gen(function*() {
    const router = compile(definition).router
    if (Result.isFailure(router)) return yield* router.failure
    const id = options.id ?? (yield* Uuid7.make)
    const decoded = Schema.decodeUnknownResult(definition.schema)(options.state ?? {}, { errors: "all" })
    if (Result.isFailure(decoded)) {
      const { path, detail } = fromSchemaError(decoded.failure)
      return yield* new InvalidState({ agent: definition.name, subject: `state of ${definition.name}`, path, detail })
    }
    return { id, definition, state: decoded.success, status: "idle", pending: 0, result: undefined, error: undefined }
  })

/** `make` under Jido's name: `Agent.new(definition, options)`. */
export { make as new }

const MAX_DEPTH = 32

/** Mutable scratch state of one `cmd`. */
interface Work {
  agent: Agent<unknown>
  directives: Array<Directive.Directive>
  depth: number
}

/** Thrown inside `cmd` to discard the command with `error` as its one Error directive (a failed pure action). */
class Abort {
  readonly error: unknown
  constructor(error: unknown) {
    this.error = error
  }
}

const isSignal = (u: unknown): u is Signal =>
  // reading an optional field of an object: a signal has specversion "1.0"
  typeof u === "object" && u !== null && (u as { specversion?: unknown }).specversion === "1.0"

const normalize = (input: Instruction | Signal): Instruction =>
  isSignal(input) ? { _tag: "Signal", signal: input } : input

const withAgent = (work: Work, patch: Partial<Agent<unknown>>): void => {
  work.agent = { ...work.agent, ...patch }
}

const applyDecision = (work: Work, decision: Decision<unknown> | void): void => {
  if (decision === undefined) return
  let state = work.agent.state
  if ("state" in decision) state = decision.state
  if (decision.ops !== undefined && decision.ops.length > 0) state = StateOp.apply(state, decision.ops)
  if (state !== work.agent.state || decision.status !== undefined) {
    withAgent(work, decision.status !== undefined ? { state, status: decision.status } : { state })
  }
  if (decision.directives !== undefined) { for (const d of decision.directives) work.directives.push(d) }
  if (decision.instructions !== undefined) { for (const i of decision.instructions) step(work, i) }
}

const runAction = (work: Work, action: Action.Any, params: unknown): void => {
  const registered = compile(work.agent.definition).actions
  if (!registered.has(action)) {
    throw new CmdFailed({
      agent: work.agent.id,
      stage: "action",
      error: `action ${action.name} is not registered with agent ${work.agent.definition.name}`
    })
  }
  runRegisteredAction(work, action, params)
}

/** Runs an action known to be registered (route targets are registered when the definition is compiled). */
const runRegisteredAction = (work: Work, action: Action.Any, params: unknown): void => {
  if (action.sync !== undefined) {
    const result = ActionRunner.executeSync(action, params, { state: work.agent.state, agentId: work.agent.id })
    if (Result.isSuccess(result)) {
      const ops = result.success.ops
      const current = work.agent
      // every field spelled out: one object of the agent's fixed shape (cheaper than a spread on this hot path)
      work.agent = {
        id: current.id,
        definition: current.definition,
        state: ops.length > 0 ? StateOp.apply(current.state, ops) : current.state,
        status: current.status,
        pending: current.pending,
        result: result.success.output,
        error: current.error
      }
    } else {
      // a failed pure action fails the command (the agent is left unchanged)
      throw new Abort(result.failure)
    }
    return
  }
  work.directives.push(Directive.runAction(action, params))
  withAgent(work, {
    pending: work.agent.pending + 1,
    status: work.agent.status === "idle" ? "running" : work.agent.status
  })
}

/** Runs a signal's route targets (actions run inline when pure, else as `RunAction` directives). */
const routeSignal = (work: Work, signal: Signal): void => {
  const definition = work.agent.definition
  const compiled = compile(definition)
  const router = compiled.router
  if (Result.isFailure(router)) throw router.failure
  const targets = targetsFor(compiled, router.success, signal.type)
  if (targets.length === 0) {
    if (!signal.type.startsWith("troupe.")) {
      work.directives.push(Directive.error(new NoRoute({ agent: work.agent.id, type: signal.type })))
    }
    return
  }
  for (const target of targets) {
    if (typeof target === "function") applyDecision(work, target(signal, work.agent))
    else runRegisteredAction(work, target, signal.data ?? {})
  }
}

/** One input of `cmd`: a signal goes straight to its routes unless a hook needs it as an `Instruction`. */
const stepInput = (work: Work, input: Instruction | Signal): void => {
  const definition = work.agent.definition
  if (isSignal(input) && definition.onBeforeCmd === undefined && definition.onAfterCmd === undefined) {
    if (++work.depth > MAX_DEPTH) {
      throw new CmdFailed({
        agent: work.agent.id,
        stage: "instructions",
        error: `more than ${MAX_DEPTH} nested instructions`
      })
    }
    routeSignal(work, input)
    work.depth--
  } else {
    step(work, normalize(input))
  }
}

const step = (work: Work, raw: Instruction): void => {
  if (++work.depth > MAX_DEPTH) {
    throw new CmdFailed({
      agent: work.agent.id,
      stage: "instructions",
      error: `more than ${MAX_DEPTH} nested instructions`
    })
  }
  const definition = work.agent.definition
  let instruction = raw
  if (definition.onBeforeCmd !== undefined) {
    const before = definition.onBeforeCmd(work.agent, instruction)
    work.agent = before.agent
    instruction = before.instruction
  }
  const mark = work.directives.length
  switch (instruction._tag) {
    case "Signal":
      routeSignal(work, instruction.signal)
      break
    case "Action":
      runAction(work, instruction.action, instruction.params)
      break
    case "ActionResult": {
      const pending = Math.max(0, work.agent.pending - 1)
      const status = pending === 0 && work.agent.status === "running" ? "idle" : work.agent.status
      const outcome = instruction.outcome
      if (outcome._tag === "Success") {
        withAgent(work, {
          pending,
          status,
          result: outcome.output,
          state: outcome.ops.length > 0 ? StateOp.apply(work.agent.state, outcome.ops) : work.agent.state
        })
      } else {
        withAgent(work, { pending, status, error: outcome.error })
        work.directives.push(Directive.error(outcome.error))
      }
      break
    }
    case "Decide":
      applyDecision(work, instruction.decide(work.agent))
      break
  }
  if (definition.onAfterCmd !== undefined) {
    const produced = work.directives.splice(mark)
    const after = definition.onAfterCmd(work.agent, instruction, produced)
    work.agent = after.agent
    for (const d of after.directives) work.directives.push(d)
  }
  work.depth--
}

/**
 * The pure decision function: applies instructions (or signals) to an agent and returns the new agent and the
 * directives to execute. Never throws and performs no effects.
 *
 * @example
 * ```ts
 * const { agent: next, directives } = Agent.cmd(agent, Instruction.action(Increment, { by: 2 }))
 * ```
 */
export const cmd = <S>(
  agent: Agent<S>,
  input: Instruction | Signal | ReadonlyArray<Instruction | Signal>
): CmdResult<S> => {
  const work: Work = { agent, directives: [], depth: 0 }
  try {
    // an array input is a list of instructions and signals (cmd's signature)
    if (Array.isArray(input)) { for (const i of input as ReadonlyArray<Instruction | Signal>) stepInput(work, i) }
    // not an array, so a single instruction or signal
    else stepInput(work, input as Instruction | Signal)
  } catch (error) {
    return { agent, directives: [Directive.error(failureOf(agent, error))] }
  }
  // the work began with this Agent<S>; every step keeps its definition, and the state is checked against S's schema below
  const next = work.agent as Agent<S>
  if (next.state !== agent.state && agent.definition.validateState) {
    const checked = validatorOf(agent.definition)(next.state)
    if (Result.isFailure(checked)) {
      const { path, detail } = fromSchemaError(checked.failure)
      return {
        agent,
        directives: [
          Directive.error(new InvalidState({ agent: agent.id, subject: `state of ${agent.id}`, path, detail }))
        ]
      }
    }
  }
  return { agent: next, directives: work.directives }
}

/** The error a command failed with: what was thrown, as the typed error that names it. */
const failureOf = (agent: Agent<unknown>, error: unknown): unknown => {
  if (error instanceof Abort) return error.error
  if (error instanceof StateOp.ReservedKey) {
    return new InvalidState({ agent: agent.id, ...Invalid.fields(`state of ${agent.id}`, error.path, error.message) })
  }
  const typed = error instanceof CmdFailed ||
    (typeof error === "object" && error !== null && "_tag" in error && error._tag === "InvalidRoute")
  return typed ? error : new CmdFailed({ agent: agent.id, stage: "cmd", error })
}

/** Is the agent done (`completed` or `failed`)? */
export const isDone = (agent: Agent<unknown>): boolean => agent.status === "completed" || agent.status === "failed"
