/**
 * Instructions: what an agent's `cmd` is asked to do.
 *
 * Mirrors Jido's `%Jido.Instruction{}` (an action plus params) and signal delivery to an agent: a `Signal` is
 * routed through the agent's routes; an `Action` runs (inline when pure, as a `RunAction` directive otherwise);
 * an `ActionResult` is how a `RunAction`'s outcome comes back into `cmd`; `Decide` is a pure function of the
 * agent, for ad-hoc decisions and tests.
 */
import type * as Action from "./Action.ts"
import type { Agent } from "./Agent.ts"
import type { Decision } from "./AgentDefinition.ts"
import type { Signal } from "./Signal.ts"

/** Route a signal to the agent's handlers and actions. */
export interface SignalInstruction {
  readonly _tag: "Signal"
  readonly signal: Signal
}
/** Run an action with params. */
export interface ActionInstruction {
  readonly _tag: "Action"
  readonly action: Action.Any
  readonly params: unknown
}
/** The result of an action run outside the command (a `RunAction` directive), delivered back to the agent. */
export interface ActionResult {
  readonly _tag: "ActionResult"
  readonly action: string
  readonly outcome:
    | {
      readonly _tag: "Success"
      readonly output: unknown
      readonly ops: ReadonlyArray<import("./StateOp.ts").StateOp>
    }
    | { readonly _tag: "Failure"; readonly error: unknown }
}
/** Apply a decision function to the agent. */
export interface Decide {
  readonly _tag: "Decide"
  readonly decide: Action.Bivariant<[agent: Agent<unknown>], Decision<unknown> | void>
}

/** What `Agent.cmd` takes: a signal, an action, an action's result, or a decision. */
export type Instruction = SignalInstruction | ActionInstruction | ActionResult | Decide

/** An instruction that routes signal `s`. */
export const signal = (s: Signal): SignalInstruction => ({ _tag: "Signal", signal: s })
/** @example `Agent.cmd(agent, Instruction.action(Increment, { by: 2 }))` */
export const action = <A extends Action.Any>(a: A, params: unknown = {}): ActionInstruction => ({
  _tag: "Action",
  action: a,
  params
})
/** An instruction that applies `f` to the agent. */
export const decide = <S>(f: (agent: Agent<S>) => Decision<S> | void): Decide => ({ _tag: "Decide", decide: f })
/** The instruction that delivers a successful `RunAction` result. */
export const actionSucceeded = (
  action: string,
  output: unknown,
  ops: ReadonlyArray<import("./StateOp.ts").StateOp>
): ActionResult => ({ _tag: "ActionResult", action, outcome: { _tag: "Success", output, ops } })
/** The instruction that delivers a failed `RunAction` result. */
export const actionFailed = (action: string, error: unknown): ActionResult => ({
  _tag: "ActionResult",
  action,
  outcome: { _tag: "Failure", error }
})
