/**
 * troupe's agents: the Jido model (agentjido/jido, jido_action, jido_signal) on troupe's runtime — actions,
 * tools, CloudEvents signals, a pattern router and a bus, pure agents with typed directives, and the
 * AgentServer that runs each agent as a supervised actor; and the tool-using agent loop (ReAct) over any model client.
 */
export * as Action from "./Action.ts"
export * as ActionRunner from "./ActionRunner.ts"
export * as Agent from "./Agent.ts"
export {
  ActionFailed,
  ActionTimeout,
  AgentNotFound,
  BusOverflow,
  CmdFailed,
  CompensationOutcome,
  DirectiveQueueFull,
  InvalidAgentOptions,
  InvalidMessage,
  InvalidOutput,
  InvalidParams,
  InvalidRoute,
  InvalidSignal,
  InvalidState,
  NoRoute,
  StatusTimeout,
  ToolDenied,
  UnknownTool
} from "./AgentError.ts"
export * as AgentLoop from "./AgentLoop.ts"
export { AgentServer } from "./AgentServer.ts"
export type {
  AgentServerShape,
  CallError as AgentCallError,
  CallOptions as AgentCallOptions,
  ErrorPolicy,
  StartError as AgentStartError,
  StartOptions as AgentStartOptions
} from "./AgentServer.ts"
export { Bus } from "./Bus.ts"
export type {
  BusOptions,
  BusShape,
  DeadLetter as BusDeadLetter,
  DeadLetterReason as BusDeadLetterReason,
  Overflow as BusOverflowStrategy,
  PublishResult,
  SubscribeOptions,
  Subscription
} from "./Bus.ts"
export * as Directive from "./Directive.ts"
export * as DirectiveExecutor from "./DirectiveExecutor.ts"
export * as Instruction from "./Instruction.ts"
export * as Router from "./Router.ts"
export * as Signal from "./Signal.ts"
export * as StateOp from "./StateOp.ts"
export * as Tool from "./Tool.ts"
export * as ToolRunner from "./ToolRunner.ts"
export * as Uuid7 from "./Uuid7.ts"
