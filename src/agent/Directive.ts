/**
 * Directives: the effects an agent's pure `cmd` asks for, as a closed tagged union of data.
 *
 * Mirrors Jido 2.0's directives (`%Directive.Emit{}`, `Spawn`, `SpawnAgent`, `StopChild`, `Schedule`,
 * `RunInstruction`, `Stop`, `Error`): `cmd` never performs effects; it returns directives that the AgentServer
 * hands to one executor per kind (see `DirectiveExecutor`). `RunAction`'s result is routed back into `cmd` as an
 * `ActionResult` instruction.
 */
import { Duration } from "effect"
import type { ChildSpec } from "../runtime/ChildSpec.ts"
import * as ExitReason from "../runtime/ExitReason.ts"
import type * as Action from "./Action.ts"
import type { AnyDefinition } from "./AgentDefinition.ts"
import type { Signal, SignalInput } from "./Signal.ts"

/** Where an emitted signal goes. */
export type EmitTarget =
  | { readonly _tag: "Bus" }
  | { readonly _tag: "Parent" }
  | { readonly _tag: "Agent"; readonly id: string }

/** What a child agent does when its parent dies. */
export type OnParentDeath = "stop" | "continue" | "emitOrphan"

/** Publish a signal (to the bus, the parent or another agent). */
export interface Emit {
  readonly _tag: "Emit"
  /** a full signal, or an input stamped (id, time) when the directive executes */
  readonly signal: Signal | SignalInput
  readonly to: EmitTarget
}
/** Start a child process under the agent's supervisor. */
export interface Spawn {
  readonly _tag: "Spawn"
  readonly spec: ChildSpec<never>
}
/** Start a child agent (Jido's `SpawnAgent`), linked to its parent with an `OnParentDeath` policy. */
export interface SpawnAgent {
  readonly _tag: "SpawnAgent"
  readonly id: string
  readonly definition: AnyDefinition
  /** encoded initial state (defaults applied) */
  readonly state: unknown
  readonly onParentDeath: OnParentDeath
}
/** Stop a child process or agent by id. */
export interface StopChild {
  readonly _tag: "StopChild"
  readonly id: string
  readonly reason: ExitReason.ExitReason
}
/** Deliver a signal to the agent itself after a delay. */
export interface Schedule {
  readonly _tag: "Schedule"
  readonly delay: Duration.Duration
  /** delivered to this agent as a signal after `delay` */
  readonly signal: Signal | SignalInput
}
/** Run an action outside the command (its result comes back as an `ActionResult` instruction). */
export interface RunAction {
  readonly _tag: "RunAction"
  readonly action: Action.Any
  readonly params: unknown
}
/** Stop the agent with a reason. */
export interface Stop {
  readonly _tag: "Stop"
  readonly reason: ExitReason.ExitReason
}
/** Report an error through the agent's error policy. */
export interface Error {
  readonly _tag: "Error"
  readonly error: unknown
}

/**
 * An effect an agent asks for (Jido's directives): pure agents return them and the server executes them, each
 * through its executor service.
 */
export type Directive = Emit | Spawn | SpawnAgent | StopChild | Schedule | RunAction | Stop | Error
/** The `_tag` of a directive. */
export type Tag = Directive["_tag"]

/** Publish a signal (to the bus by default, or to the parent / another agent). */
export const emit = (signal: Signal | SignalInput, to: EmitTarget = { _tag: "Bus" }): Emit => ({
  _tag: "Emit",
  signal,
  to
})
/** Send a signal to the parent agent. */
export const emitToParent = (signal: Signal | SignalInput): Emit => emit(signal, { _tag: "Parent" })
/** Start a plain child process (actor, task, supervisor) under the agent server, owned by this agent. */
export const spawn = (spec: ChildSpec<never>): Spawn => ({ _tag: "Spawn", spec })
/** Start a child agent. */
export const spawnAgent = (
  id: string,
  definition: AnyDefinition,
  options: { readonly state?: unknown; readonly onParentDeath?: OnParentDeath } = {}
): SpawnAgent => ({
  _tag: "SpawnAgent",
  id,
  definition,
  state: options.state ?? {},
  onParentDeath: options.onParentDeath ?? "stop"
})
/** Stop a child (agent or process) by id. */
export const stopChild = (id: string, reason: ExitReason.ExitReason = ExitReason.shutdown): StopChild => ({
  _tag: "StopChild",
  id,
  reason
})
/** Deliver a signal to this agent later. */
export const schedule = (delay: Duration.Input, signal: Signal | SignalInput): Schedule => ({
  _tag: "Schedule",
  delay: Duration.fromInputUnsafe(delay),
  signal
})
/** Run an effectful action; its result comes back into `cmd`. */
export const runAction = (action: Action.Any, params: unknown): RunAction => ({ _tag: "RunAction", action, params })
/** Stop this agent's process (completion is `status`, not this). */
export const stop = (reason: ExitReason.ExitReason = ExitReason.normal): Stop => ({ _tag: "Stop", reason })
/** Report an error (handled by the agent's error policy). */
export const error = (err: unknown): Error => ({ _tag: "Error", error: err })

/** True when `u` is a directive. */
export const isDirective = (u: unknown): u is Directive =>
  typeof u === "object" && u !== null && "_tag" in u &&
  ["Emit", "Spawn", "SpawnAgent", "StopChild", "Schedule", "RunAction", "Stop", "Error"].includes(String(u._tag))
