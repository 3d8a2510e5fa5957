/**
 * The agent loop (ReAct): call the model with the conversation and the tools; when it answers with tool calls, run
 * them as actions, append the assistant turn and the tool results, and call it again — until it answers without
 * tool calls or the step budget (`maxSteps`, default 8) is spent. `run` returns the answer, the transcript, the tool
 * events and the summed usage; `runStream` emits `AgentLoopEvent`s (text deltas, tool calls started / finished,
 * step boundaries, a final `Finished`) as they happen.
 *
 * Mirrors the ReAct agents of LangGraph (`create_react_agent`: model node ⇄ tool node, `recursion_limit`) and the
 * Vercel AI SDK (`generateText` / `streamText` with `maxSteps`): tools of the last step still run (so the transcript
 * never holds a tool call without its result), and running out of steps is an outcome (`stopReason: "max-steps"`),
 * not a failure. Like Jido, every tool call is an action run through the `ToolRunner`: decoded against its Schema,
 * checked against the allow/deny policy, supervised, under a timeout and a concurrency limit, and a bad call (unknown
 * tool, denied tool, bad JSON, bad params, a failing, crashing or slow action) becomes a tool error message the model
 * sees and can recover from.
 *
 * The model is a value (`ModelClient`): a bare `LlmProvider`, the pipeline's `Llm`, or anything with the same
 * `generate` / `stream` shape, with any error type (which the loop passes through). With a `conversationId` the loop
 * loads the history from `ConversationMemory` (from the options, else from the context — and then `ConversationMemory`
 * is in the effect's requirements, so a program without one does not compile) and appends this run's messages once
 * the run ends (answered or out of steps). With a `telemetry` hub in the options, each call of a known tool is
 * tracked with `trackToolExecution` (the ToolRunner itself emits nothing, so nothing is emitted twice). **Every
 * requirement is in the types**: the loop looks nothing up from the context at run time except `ConversationMemory`,
 * which is then in the effect's requirements, and `LoopProgress`, an optional observer (none by default) through which
 * the host of a run — a supervised LLM agent — sees every event of a `run` as well as of a `runStream` (its current
 * step, for the observer page) without streaming it.
 *
 * With a `guard` (src/guard), the user input is checked at stage `input` (redactions replace what the model sees),
 * every tool result at stage `document` (indirect injection, secrets) and the final answer at stage `output`; a
 * `block` policy fails the run with `GuardBlocked`. **A run keeps one anonymiser `Vault`** for all of these checks, so
a PII placeholder means one value across the run's messages: two user messages with different e-mail addresses get
`<EMAIL_1>` and `<EMAIL_2>`, and the first address is `<EMAIL_1>` wherever it appears again. Streamed text deltas are guarded by the model client (the
 * pipeline's `GuardStep`), not by the loop.
 *
 * Each run owns a fresh `ToolRunner` (its `DynamicSupervisor`) in a scope of its own: interrupting the run — or
 * dropping the stream — interrupts the in-flight model call and shuts the supervisor down, stopping running tools
 * (their finalizers run). Reuses Effect (`Stream.callback` for the event stream, `Effect.forEach` for the parallel
 * calls, `Clock` for durations); the loop itself is hand-rolled because effect/ai's `LanguageModel` runs tools
 * itself, without troupe's supervision, policy or events.
 */
import { Clock, Context, Effect, Option, Queue, type Scope, Stream } from "effect"
import { Vault } from "../guard/index.ts"
import type {
  Finish,
  LlmMessage,
  LlmRequest,
  LlmResponse,
  LlmStreamPart,
  ToolCall as LlmToolCall,
  ToolDefinition as LlmToolDefinition,
  Usage
} from "../llm/index.ts"
import { makeUsage, Tokenizer, usageFrom } from "../llm/index.ts"
import { ConversationMemory, type ConversationMemoryShape } from "../memory/index.ts"

import { InvalidAgentOptions } from "./AgentError.ts"
import type { AgentLoopEvent, AgentLoopResult, StopReason, ToolCallFinished } from "./AgentLoopEvent.ts"
import {
  type AgentLoopConfig,
  type AgentLoopError,
  type AgentLoopInput,
  checkConfig,
  type Checked,
  checkInput,
  DEFAULT_MAX_STEPS
} from "./AgentLoopOptions.ts"
import * as ToolRunner from "./ToolRunner.ts"

export type * from "./AgentLoopEvent.ts"
export type { AgentLoopConfig, AgentLoopError, AgentLoopInput, ModelClient } from "./AgentLoopOptions.ts"
export { DEFAULT_MAX_STEPS } from "./AgentLoopOptions.ts"

/**
 * What a run needs from the context: `ConversationMemory` when its input may name a conversation
 * (`conversationId`) and its options give no `memory`; nothing otherwise.
 */
export type MemoryRequirement<Options> = Options extends { readonly conversationId?: undefined } ? never
  : Options extends { readonly memory: ConversationMemoryShape } ? never
  : ConversationMemory

/** A run's input that names no conversation. */
export type WithoutConversation = Omit<AgentLoopInput, "conversationId"> & { readonly conversationId?: undefined }

/** What a run of `input` needs, for a loop whose own requirement for conversations is `R`. */
export type RunRequirement<I, R> = I extends string ? never
  : I extends { readonly conversationId?: undefined } ? never
  : R

/**
 * A configured loop (see `make`). `R` is what a run with a `conversationId` needs: `ConversationMemory`, unless the
 * configuration gives its own `memory` (then `never`).
 */
export interface AgentLoop<E, R = ConversationMemory> {
  /** Runs the loop once, as `AgentLoop.run`. Fails with the model's `E`, or an `AgentLoopError`: `InvalidAgentOptions` when the configuration or input is invalid, `InvalidOptions` when the run's tool supervisor rejects its options, `MemoryError` when loading or appending the conversation history fails, `GuardBlocked` when a guard with the `block` policy blocks the input or the answer. */
  readonly run: <I extends string | AgentLoopInput>(
    input: I
  ) => Effect.Effect<AgentLoopResult, E | AgentLoopError, RunRequirement<I, R>>
  /** Runs the loop once, streaming, as `AgentLoop.runStream`; the stream fails as `run` (`E` or `AgentLoopError`). */
  readonly runStream: <I extends string | AgentLoopInput>(
    input: I
  ) => Stream.Stream<AgentLoopEvent, E | AgentLoopError, RunRequirement<I, R>>
}

const ZERO: Usage = makeUsage(0, 0)

/**
 * The usage of two model calls together: every count summed (the provider's totals, cache reads and writes, reasoning
 * tokens), `estimated` when either was. The loop sums its steps with it; so does an LLM agent's turn over its runs.
 */
export const addUsage = (a: Usage, b: Usage): Usage =>
  usageFrom({
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    totalTokens: a.totalTokens + b.totalTokens,
    cachedInputTokens: (a.cachedInputTokens ?? 0) + (b.cachedInputTokens ?? 0),
    cacheWriteInputTokens: (a.cacheWriteInputTokens ?? 0) + (b.cacheWriteInputTokens ?? 0),
    reasoningTokens: (a.reasoningTokens ?? 0) + (b.reasoningTokens ?? 0),
    estimated: a.estimated === true || b.estimated === true
  })

/**
 * Trimming (the last N messages) can cut an exchange: tool results whose assistant turn was trimmed would be
 * rejected by providers, so leading `tool` messages are dropped.
 */
const withoutOrphanResults = (history: ReadonlyArray<LlmMessage>): ReadonlyArray<LlmMessage> => {
  let first = 0
  while (first < history.length && history[first]?.role === "tool") first++
  return first === 0 ? history : history.slice(first)
}

/** The text the model gets back for a tool result. */
const toolMessage = (call: LlmToolCall, result: ToolRunner.ToolResult): LlmMessage => {
  if (result._tag === "ToolSuccess") {
    const output = result.output
    const content = typeof output === "string" ? output : JSON.stringify(output) ?? "null"
    return { role: "tool", toolCallId: call.id, name: call.name, content }
  }
  return {
    role: "tool",
    toolCallId: call.id,
    name: call.name,
    content: JSON.stringify({ error: result.error }),
    isError: true
  }
}

/** Folds a streamed answer, emitting its text deltas. */
const streamStep = <E>(
  parts: Stream.Stream<LlmStreamPart, E>,
  step: number,
  model: string,
  emit: (event: AgentLoopEvent) => Effect.Effect<void>
): Effect.Effect<LlmResponse, E> =>
  Effect.suspend(() => {
    let text = ""
    const calls: Array<{ readonly index: number; readonly call: LlmToolCall }> = []
    let finish: Finish | undefined
    return Stream.runForEach(parts, (part) => {
      switch (part._tag) {
        case "TextDelta":
          text += part.delta
          return part.delta === "" ? Effect.void : emit({ _tag: "TextDelta", step, delta: part.delta })
        case "ToolCall":
          calls.push({ index: part.index, call: part.toolCall })
          return Effect.void
        case "Finish":
          finish = part
          return Effect.void
        default:
          return Effect.void
      }
    }).pipe(Effect.map((): LlmResponse => ({
      // a stream that ended without its `Finish` part still counts: what arrived, with no usage
      ...(finish?.id !== undefined ? { id: finish.id } : {}),
      provider: finish?.provider ?? "unknown",
      model: finish?.model ?? model,
      text,
      toolCalls: calls.sort((a, b) => a.index - b.index).map((c) => c.call),
      finishReason: finish?.finishReason ?? "other",
      usage: finish?.usage ?? ZERO
    })))
  })

/**
 * An observer of a run's events, called synchronously with each one (`run` and `runStream` alike) before it is
 * emitted; none by default. Set by the host of a run (a supervised LLM agent keeps its current step from it). It must
 * not throw, and it costs the loop one context lookup per run.
 */
export const LoopProgress = Context.Reference<((event: AgentLoopEvent) => void) | undefined>(
  "troupe/agent/AgentLoop/LoopProgress",
  { defaultValue: () => undefined }
)

/** One run of the loop; `emitTo` receives the events (a no-op for `run`), after the `LoopProgress` observer. */
const loop = <E, O>(
  config: Checked<E, O>,
  input: AgentLoopInput,
  mode: "generate" | "stream",
  emitTo: (event: AgentLoopEvent) => Effect.Effect<void>
): Effect.Effect<AgentLoopResult, E | AgentLoopError, Scope.Scope | ConversationMemory> =>
  Effect.gen(function*() {
    const progress = yield* LoopProgress
    const emit = progress === undefined ? emitTo : (event: AgentLoopEvent) => {
      progress(event)
      return emitTo(event)
    }
    const maxSteps = input.maxSteps ?? config.maxSteps ?? DEFAULT_MAX_STEPS
    const conversationId = input.conversationId
    let memory: ConversationMemoryShape | undefined = config.memory
    // declared in the public types (`MemoryRequirement`): only a run with a conversation and no memory option needs it
    if (conversationId !== undefined && memory === undefined) memory = yield* ConversationMemory
    const history = memory !== undefined && conversationId !== undefined
      ? withoutOrphanResults(yield* memory.messages(conversationId))
      : []
    const newMessages: Array<LlmMessage> = typeof input.input === "string"
      ? [{ role: "user", content: input.input }]
      : [...input.input]
    const guard = config.guard
    const guardScope = config.agent === undefined ? {} : { agent: config.agent }
    // one vault for the whole run: a placeholder names the same value in every message the model sees
    const vault = new Vault()
    if (guard !== undefined) { // user input: stage `input` (redactions replace the text the model sees)
      for (let i = 0; i < newMessages.length; i++) {
        const m = newMessages[i]
        if (m?.role === "user") {
          newMessages[i] = { ...m, content: (yield* guard.check(m.content, "input", guardScope, vault)).text }
        }
      }
    }

    const runner = yield* ToolRunner.make({
      tools: config.tools,
      name: config.agent === undefined ? "agent-loop" : `agent-loop:${config.agent}`,
      ...(config.policy !== undefined ? { policy: config.policy } : {}),
      ...(config.concurrency !== undefined ? { concurrency: config.concurrency } : {}),
      ...(config.toolTimeout !== undefined ? { timeout: config.toolTimeout } : {})
    })
    // a tool's name type may be a literal; the set holds plain strings
    const known = new Set(config.tools.map((t) => t.name as string))
    const offered: ReadonlyArray<LlmToolDefinition> = runner.definitions.map((d) => ({
      name: d.name,
      description: d.description,
      // a tool's parameters are a JSON Schema object, the shape the LLM request carries
      parameters: d.parameters as LlmToolDefinition["parameters"]
    }))
    const hub = config.telemetry
    const system: ReadonlyArray<LlmMessage> = config.systemPrompt === undefined || config.systemPrompt === ""
      ? []
      : [{ role: "system", content: config.systemPrompt }]

    const execute = (call: LlmToolCall): Effect.Effect<ToolRunner.ToolResult> => {
      const direct = runner.handle({ id: call.id, name: call.name, params: call.arguments })
      const handled = config.wrapToolCall === undefined ? direct : config.wrapToolCall(call, direct)
      if (hub === undefined || !known.has(call.name)) return handled
      // a tool failure is a value for the loop, but an exception for telemetry: fail inside the span, recover outside
      return handled.pipe(
        Effect.flatMap((result) =>
          result._tag === "ToolSuccess"
            ? Effect.succeed(result)
            : Effect.fail({ _tag: result.error.tag, message: result.error.message, result })
        ),
        hub.trackToolExecution(
          config.agent === undefined ? { tool: call.name } : { tool: call.name, agent: config.agent }
        ),
        Effect.catch((failed) => Effect.succeed(failed.result))
      )
    }

    const toolEvents: Array<ToolCallFinished> = []
    const runTool = (step: number) => (call: LlmToolCall): Effect.Effect<ToolRunner.ToolResult> =>
      Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const result = yield* execute(call)
        const event: ToolCallFinished = {
          _tag: "ToolCallFinished",
          step,
          id: call.id,
          name: call.name,
          arguments: call.arguments,
          result,
          durationMillis: (yield* Clock.currentTimeMillis) - started
        }
        toolEvents.push(event)
        yield* emit(event)
        return result
      })

    let usage = ZERO
    // the estimate the token rate limit and budgets work from, recorded beside the usage the provider reports
    const counter = yield* Tokenizer.TokenCounter
    let estimatedInputTokens = 0
    let answer = ""
    let stopReason: StopReason = "max-steps"
    let steps = 0
    let request: LlmRequest | undefined
    while (steps < maxSteps) {
      const step = ++steps
      yield* emit({ _tag: "StepStarted", step })
      request = {
        model: config.model,
        // non-empty: the input is at least one message
        messages: [...system, ...history, ...newMessages] as unknown as LlmRequest["messages"],
        ...(offered.length > 0 ? { tools: offered } : {}),
        ...(config.toolChoice !== undefined && offered.length > 0 ? { toolChoice: config.toolChoice } : {}),
        ...(config.params !== undefined ? { params: config.params } : {}),
        ...(config.responseFormat !== undefined ? { responseFormat: config.responseFormat } : {})
      }
      const estimate = counter.countRequest(request, config.model)
      estimatedInputTokens += estimate
      const options = config.callOptions
      const response: LlmResponse = mode === "generate"
        ? yield* (options === undefined ? config.llm.generate(request) : config.llm.generate(request, options))
        : yield* streamStep(
          options === undefined ? config.llm.stream(request) : config.llm.stream(request, options),
          step,
          config.model,
          emit
        )
      usage = addUsage(usage, response.usage)
      answer = response.text
      const calls = response.toolCalls
      newMessages.push(
        calls.length > 0
          ? { role: "assistant", content: response.text, toolCalls: calls }
          : { role: "assistant", content: response.text }
      )
      if (calls.length > 0) {
        for (const call of calls) {
          yield* emit({ _tag: "ToolCallStarted", step, id: call.id, name: call.name, arguments: call.arguments })
        }
        // the runner's semaphore bounds how many run at once; results go back in call order
        const results = yield* Effect.forEach(calls, runTool(step), { concurrency: "unbounded" })
        for (let i = 0; i < calls.length; i++) {
          const call = calls[i]
          const result = results[i]
          if (call === undefined || result === undefined) continue
          const message = toolMessage(call, result)
          // tool results are documents the model reads: stage `document` (indirect injection, secrets)
          newMessages.push(
            guard === undefined
              ? message
              : { ...message, content: (yield* guard.check(message.content, "document", guardScope, vault)).text }
          )
        }
      }
      yield* emit({
        _tag: "StepFinished",
        step,
        text: response.text,
        toolCalls: calls,
        finishReason: response.finishReason,
        usage: response.usage,
        estimatedInputTokens: estimate
      })
      if (calls.length === 0) {
        stopReason = "answered"
        break
      }
    }

    if (guard !== undefined && answer !== "") { // the final answer: stage `output`
      answer = (yield* guard.check(answer, "output", guardScope, vault)).text
      const last = newMessages[newMessages.length - 1]
      if (last?.role === "assistant") newMessages[newMessages.length - 1] = { ...last, content: answer }
    }
    if (memory !== undefined && conversationId !== undefined) yield* memory.append(conversationId, newMessages)
    yield* emit({ _tag: "Finished", stopReason, text: answer, steps, usage, estimatedInputTokens })
    return {
      stopReason,
      text: answer,
      steps,
      usage,
      estimatedInputTokens,
      messages: [...system, ...history, ...newMessages],
      newMessages,
      toolEvents
    }
  })

const noEmit = (_: AgentLoopEvent): Effect.Effect<void> => Effect.void

/**
 * Runs the loop once, without streaming (each step is one `generate`). Fails with the model's `E`, or an `AgentLoopError`: `InvalidAgentOptions`
 * when the configuration or input is invalid, `InvalidOptions` when the run's tool supervisor rejects its options,
 * `MemoryError` when loading or appending the conversation history fails, `GuardBlocked` when a guard with the
 * `block` policy blocks the input or the answer.
 *
 * @example
 * ```ts
 * const result = yield* AgentLoop.run({
 *   llm: provider, model: "fast", systemPrompt: "You are helpful.",
 *   tools: [Tool.fromAction(GetWeather)], maxSteps: 5,
 *   input: "What is the weather in Oslo?", conversationId: "user-42"
 * })
 * result.stopReason // "answered" | "max-steps"
 * ```
 */
export const run: {
  <E, O = never>(
    options: AgentLoopConfig<E, O> & AgentLoopInput & { readonly memory: ConversationMemoryShape }
  ): Effect.Effect<AgentLoopResult, E | AgentLoopError>
  <E, O = never>(
    options: AgentLoopConfig<E, O> & WithoutConversation
  ): Effect.Effect<AgentLoopResult, E | AgentLoopError>
  <E, O = never>(
    options: AgentLoopConfig<E, O> & AgentLoopInput
  ): Effect.Effect<AgentLoopResult, E | AgentLoopError, ConversationMemory>
} = (<E, O = never>(
  options: AgentLoopConfig<E, O> & AgentLoopInput
): Effect.Effect<AgentLoopResult, E | AgentLoopError, ConversationMemory> =>
  Effect.suspend(() => {
    const config = checkConfig(options)
    if (config instanceof InvalidAgentOptions) return Effect.fail(config)
    const input = checkInput(options)
    if (input instanceof InvalidAgentOptions) return Effect.fail(input)
    return Effect.scoped(loop(config, input, "generate", noEmit))
  })) as never // the overloads narrow the requirement: the memory is looked up only for a conversation without `memory`

/**
 * Runs the loop once, streaming: each step is one model `stream`, and the events arrive as they happen. Dropping
 * the stream interrupts the run (the model call and running tools). The stream fails as `run`: with the model's
 * `E`, or an `AgentLoopError` (`InvalidAgentOptions`, `InvalidOptions`, `MemoryError`, `GuardBlocked`).
 *
 * @example
 * ```ts
 * yield* AgentLoop.runStream({ llm, model: "fast", tools, input: "2 + 2?" }).pipe(
 *   Stream.runForEach((e) => e._tag === "TextDelta" ? Console.log(e.delta) : Effect.void)
 * )
 * ```
 */
export const runStream: {
  <E, O = never>(
    options: AgentLoopConfig<E, O> & AgentLoopInput & { readonly memory: ConversationMemoryShape }
  ): Stream.Stream<AgentLoopEvent, E | AgentLoopError>
  <E, O = never>(
    options: AgentLoopConfig<E, O> & WithoutConversation
  ): Stream.Stream<AgentLoopEvent, E | AgentLoopError>
  <E, O = never>(
    options: AgentLoopConfig<E, O> & AgentLoopInput
  ): Stream.Stream<AgentLoopEvent, E | AgentLoopError, ConversationMemory>
} = (<E, O = never>(
  options: AgentLoopConfig<E, O> & AgentLoopInput
): Stream.Stream<AgentLoopEvent, E | AgentLoopError, ConversationMemory> => {
  const config = checkConfig(options)
  if (config instanceof InvalidAgentOptions) return Stream.fail(config)
  const input = checkInput(options)
  if (input instanceof InvalidAgentOptions) return Stream.fail(input)
  return streamChecked(config, input)
}) as never // as `run`: the overloads narrow the requirement

const streamChecked = <E, O>(
  config: Checked<E, O>,
  input: AgentLoopInput
): Stream.Stream<AgentLoopEvent, E | AgentLoopError, ConversationMemory> =>
  Stream.callback<AgentLoopEvent, E | AgentLoopError, ConversationMemory>(
    (queue) =>
      Effect.scoped(loop(config, input, "stream", (event) => Effect.asVoid(Queue.offer(queue, event)))).pipe(
        Effect.andThen(Queue.end(queue))
      ),
    { bufferSize: 64, strategy: "suspend" }
  )

/**
 * Validates a configuration once and returns a loop to run many times (each run with a fresh tool supervisor).
 * Fails with `InvalidAgentOptions` when the configuration is invalid.
 *
 * @example
 * ```ts
 * const agent = yield* AgentLoop.make({ llm, model: "fast", tools: [Tool.fromAction(Add)], concurrency: 2 })
 * const first = yield* agent.run({ input: "1 + 2?", conversationId: "c1" })
 * const events = agent.runStream({ input: "and times 3?", conversationId: "c1" })
 * ```
 */
export const make: {
  <E, O = never>(
    config: AgentLoopConfig<E, O> & { readonly memory: ConversationMemoryShape }
  ): Effect.Effect<AgentLoop<E, never>, InvalidAgentOptions>
  <E, O = never>(config: AgentLoopConfig<E, O>): Effect.Effect<AgentLoop<E, ConversationMemory>, InvalidAgentOptions>
} = (<E, O = never>(
  config: AgentLoopConfig<E, O>
): Effect.Effect<AgentLoop<E, ConversationMemory>, InvalidAgentOptions> =>
  Effect.suspend(() => {
    const checked = checkConfig(config)
    if (checked instanceof InvalidAgentOptions) return Effect.fail(checked)
    // the run-time requirement matches the declared one: the memory is looked up only for a conversation id without
    // a configured memory (the overload with `memory` narrows `R` to never)
    const made: AgentLoop<E, ConversationMemory> = {
      run: (input) =>
        // see above: the overloads give the precise R; this implementation is shared by both
        Effect.suspend(() => {
          const value = checkInput(input)
          if (value instanceof InvalidAgentOptions) return Effect.fail(value)
          return Effect.scoped(loop(checked, value, "generate", noEmit))
        }) as never,
      runStream: (input) => {
        const value = checkInput(input)
        if (value instanceof InvalidAgentOptions) return Stream.fail(value)
        // see above: the overloads give the precise R
        return streamChecked(checked, value) as never
      }
    }
    return Effect.succeed(made)
  })) as never
