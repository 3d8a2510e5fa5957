/**
 * What the agent loop reports: the events `AgentLoop.runStream` emits as the loop runs, and the result
 * `AgentLoop.run` returns.
 *
 * The vocabulary follows the ReAct loops of LangGraph (`astream_events`: model token, tool start / end, step) and
 * the Vercel AI SDK (`streamText` with `maxSteps`: `text-delta`, `tool-call`, `tool-result`, `step-finish`,
 * `finish`), reduced to tagged plain values so they serialise as JSON and pattern-match with `_tag`.
 *
 * Order of one run: `StepStarted(1)`, its `TextDelta`s, for each tool call of the answer a `ToolCallStarted`
 * (all before any finishes) and later its `ToolCallFinished` (in completion order), `StepFinished(1)`, then the next
 * step, and exactly one final `Finished`. Plain types: nothing hand-rolled beyond the shapes.
 */
import type { FinishReason, LlmMessage, ToolCall, Usage } from "../llm/index.ts"
import type { ToolResult } from "./ToolRunner.ts"

/** Why the loop stopped: the model answered without tool calls, or the step budget ran out. */
export type StopReason = "answered" | "max-steps"

/** A model call (step `step`, counted from 1) begins. */
export interface StepStarted {
  readonly _tag: "StepStarted"
  readonly step: number
}

/** A piece of the model's answer text, as the model streams it. */
export interface TextDelta {
  readonly _tag: "TextDelta"
  readonly step: number
  readonly delta: string
}

/** A tool call of the model is dispatched to the tool runner (it may wait for a concurrency permit). */
export interface ToolCallStarted {
  readonly _tag: "ToolCallStarted"
  readonly step: number
  readonly id: string
  readonly name: string
  /** the arguments as the model sent them (an object, or the raw text when it was not valid JSON) */
  readonly arguments: ToolCall["arguments"]
}

/** A tool call finished: `result` is `ToolSuccess` (with the output) or `ToolFailure` (with the tool error). */
export interface ToolCallFinished {
  readonly _tag: "ToolCallFinished"
  readonly step: number
  readonly id: string
  readonly name: string
  readonly arguments: ToolCall["arguments"]
  readonly result: ToolResult
  /** from dispatch to result, on Effect's `Clock` (so `TestClock` time in tests) */
  readonly durationMillis: number
}

/** A model call and the tool calls it asked for are done. */
export interface StepFinished {
  readonly _tag: "StepFinished"
  readonly step: number
  /** the text of this step's answer */
  readonly text: string
  readonly toolCalls: ReadonlyArray<ToolCall>
  readonly finishReason: FinishReason
  /** this step's model usage */
  readonly usage: Usage
  /** the `TokenCounter`'s estimate of this step's input tokens, beside the actual `usage.inputTokens` */
  readonly estimatedInputTokens: number
}

/** The last event of a run. */
export interface Finished {
  readonly _tag: "Finished"
  readonly stopReason: StopReason
  /** the text of the last model answer (may be empty when the step budget ran out during tool use) */
  readonly text: string
  readonly steps: number
  /** model usage summed over every step */
  readonly usage: Usage
  /** the `TokenCounter`'s estimate of the input tokens, summed over every step, beside the actual usage */
  readonly estimatedInputTokens: number
}

/** One event of `AgentLoop.runStream`. */
export type AgentLoopEvent = StepStarted | TextDelta | ToolCallStarted | ToolCallFinished | StepFinished | Finished

/** What `AgentLoop.run` returns. */
export interface AgentLoopResult {
  readonly stopReason: StopReason
  /** the text of the last model answer (named `text` as in `Llm`'s result) */
  readonly text: string
  /** model calls made */
  readonly steps: number
  /** model usage summed over every step */
  readonly usage: Usage
  /** the `TokenCounter`'s estimate of the input tokens, summed over every step, beside the actual usage */
  readonly estimatedInputTokens: number
  /** the whole transcript as last sent to the model, plus its answer: system prompt, history, this run's messages */
  readonly messages: ReadonlyArray<LlmMessage>
  /** only the messages this run added (the input, assistant turns, tool results) — what memory persists */
  readonly newMessages: ReadonlyArray<LlmMessage>
  /** every tool call of the run, in completion order */
  readonly toolEvents: ReadonlyArray<ToolCallFinished>
}
