/**
 * Instructions: what an agent's `cmd` is asked to do.
 *
 * Mirrors Jido's `%Jido.Instruction{}` (an action plus params) and signal delivery to an agent: a `Signal` is
 * routed through the agent's routes; an `Action` runs (inline when pure, as a `RunAction` directive otherwise);
 * an `ActionResult` is how a `RunAction`'s outcome comes back into `cmd`; `Decide` is a pure function of the
 * agent, for ad-hoc decisions and tests.
 */
import type * as Action from "./Action.ts"
import type { Decision } from "./AgentDefinition.ts"
import type { Agent } from "./Agent.ts"
import type { Signal } from "./Signal.ts"

export interface SignalInstruction {
  readonly _tag: "Signal"
  readonly signal: Signal
}
export interface ActionInstruction {
  readonly _tag: "Action"
  readonly action: Action.Any
  readonly params: unknown
}
export interface ActionResult {
  readonly _tag: "ActionResult"
  readonly action: string
  readonly outcome:
    | { readonly _tag: "Success"; readonly output: unknown; readonly ops: ReadonlyArray<import("./StateOp.ts").StateOp> }
    | { readonly _tag: "Failure"; readonly error: unknown }
}
export interface Decide {
  readonly _tag: "Decide"
  readonly decide: (agent: Agent<any>) => Decision<any> | void
}

export type Instruction = SignalInstruction | ActionInstruction | ActionResult | Decide

export const signal = (s: Signal): SignalInstruction => ({ _tag: "Signal", signal: s })
/** @example `Agent.cmd(agent, Instruction.action(Increment, { by: 2 }))` */
export const action = <A extends Action.Any>(a: A, params: unknown = {}): ActionInstruction => ({ _tag: "Action", action: a, params })
export const decide = <S>(f: (agent: Agent<S>) => Decision<S> | void): Decide => ({ _tag: "Decide", decide: f })
export const actionSucceeded = (
  action: string,
  output: unknown,
  ops: ReadonlyArray<import("./StateOp.ts").StateOp>
): ActionResult => ({ _tag: "ActionResult", action, outcome: { _tag: "Success", output, ops } })
export const actionFailed = (action: string, error: unknown): ActionResult => ({
  _tag: "ActionResult",
  action,
  outcome: { _tag: "Failure", error }
})
