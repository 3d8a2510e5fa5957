/**
 * Supervised LLM agents: a tool-using agent is a process with a name, a mailbox, a supervisor and a memory.
 * `LlmAgent.make` defines one; `LlmAgents.layer` runs them, one actor per agent id.
 */
export * as LlmAgent from "./LlmAgent.ts"
export * from "./LlmAgentError.ts"
export { LlmAgents } from "./LlmAgents.ts"
export type { AskStreamOptions, LlmAgentsOptions, LlmAgentsShape } from "./LlmAgents.ts"
export { DEFAULT_MAX_LIVE } from "./LlmAgents.ts"
export type { AgentStatus, TurnAnswer, TurnInput, TurnProgress } from "./LlmAgentTurn.ts"
export * as Mcp from "./Mcp.ts"
/** Durable agent runs: journaled model and tool steps on `effect/workflow`, a ledger for non-idempotent tools. */
export * as Journal from "./Journal.ts"
/** The readable record of durable runs (what `Journal.replay` reads), memory and PostgreSQL backends. */
export { RunJournal } from "./RunJournal.ts"
export type { RunJournalShape, RunOutcome, RunRecord, RunStart, RunStep, RunSummary } from "./RunJournal.ts"
/** Snapshots of agent state with retention, saved after each turn and restored on start. */
export { Checkpoints } from "./Checkpoints.ts"
export type { Checkpoint, CheckpointsShape, RetentionOptions } from "./Checkpoints.ts"
/** The redrive handler of `turn` dead letters. */
export { TurnRedrive } from "./TurnRedrive.ts"
export type { RedriveTurn } from "./TurnRedrive.ts"
