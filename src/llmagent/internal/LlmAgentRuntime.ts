/**
 * What every agent of one definition shares — the model client, the memory, the system prompt (with the output
 * Schema's JSON Schema when there is one, also sent as OpenAI's strict `json_schema` response format through effect/ai's
 * `OpenAiStructuredOutput`), the configured `AgentLoop` — and the body of one turn: the loop run (or
 * streamed), then the answer decoded with the output Schema and, on a decode failure, sent back to the model for
 * repair up to `repairs` times (the repair messages are part of the conversation, like any turn).
 *
 * Rules of a turn:
 * - **A turn is appended to memory once, whole, when it answers**: the loop's appends go to a buffer of the turn
 *   (`TurnBuffer`, which its later runs read after the stored history), written to `ConversationMemory` in one
 *   append after the answer decodes (journaled as a step of a durable turn). A turn that is cancelled, fails or never
 *   decodes leaves nothing in memory, repairs included.
 * - **`maxSteps` counts every model call of the turn, repairs included**: a repair round gets the steps left, and
 *   none is made when none is left. A structured turn that runs out of steps without a decodable answer fails with
 *   `TurnFailed` tagged `MaxSteps` (running out of steps is not an answer to repair); a decodable one answers with
 *   `stopReason: "max-steps"`, as an unstructured turn does.
 * - **Usage and cost are the provider's, per model call**: the usage of the runs is summed count by count
 *   (`AgentLoop.addUsage`), and `costUsd` is the sum of the price of every model call (its tokens plus the
 *   `perRequest` fee), as the pipeline charges it.
 *
 * Reuses `AgentLoop` (supervised tools, events, memory append at the end of each run, `LoopProgress` to see every
 * step's usage) and effect/ai's `Tool.getJsonSchemaFromSchema` for the output's JSON Schema.
 */
import { Clock, Context, Effect, Result, Schema, Stream } from "effect"
import { OpenAiStructuredOutput, Tool as AiTool } from "effect/ai"
import { fromSchemaError } from "../../agent/AgentError.ts"
import type { AgentLoopEvent, AgentLoopResult } from "../../agent/AgentLoop.ts"
import { AgentLoop } from "../../agent/index.ts"
import type { ToolDefinition } from "../../agent/Tool.ts"
import { type LlmMessage, makeUsage, type Usage } from "../../llm/index.ts"
import type { ConversationMemoryShape, MemoryError } from "../../memory/index.ts"
import { costOf, findPrice } from "../../pipeline/index.ts"
import type { AnyLlmAgent } from "../LlmAgent.ts"
import { describeError, InvalidAgentOutput, TurnFailed } from "../LlmAgentError.ts"
import type { CheckedTurn, TurnAnswer } from "../LlmAgentTurn.ts"
import {
  type DurableDefinition,
  journaledClient,
  journaledMemory,
  journaledToolCall,
  makeDurable
} from "./DurableTurn.ts"
import type { HostConfig } from "./LlmAgentHost.ts"

/**
 * The loop of a definition. Its runs name a conversation only when the definition keeps conversation memory, and
 * then the memory is in the loop's configuration: no run needs a service from the context.
 */
type Loop = AgentLoop.AgentLoop<unknown, never>

export interface DefinitionRuntime {
  readonly definition: AnyLlmAgent
  /** the conversation memory itself (the loop's memory buffers a turn's appends: see `TurnBuffer`) */
  readonly memory: ConversationMemoryShape | undefined
  /** appends an answered turn to memory (journaled as a step of a durable turn) */
  readonly appendTurn: (id: string, messages: ReadonlyArray<LlmMessage>) => Effect.Effect<void, MemoryError>
  readonly llm: AgentLoop.ModelClient<unknown, never>
  readonly systemPrompt: string | undefined
  /** the loop of agents without sub-agents (those build their own with their sub-agent tools) */
  readonly loop: Loop | undefined
  readonly makeLoop: (extraTools: ReadonlyArray<ToolDefinition>) => Loop
  readonly decodeOutput: ((u: unknown) => Result.Result<unknown, Schema.SchemaError>) | undefined
  readonly price: (usage: Usage) => number
  /** the workflow of a durable definition (its turns are runs); undefined for other definitions */
  readonly durable: DurableDefinition | undefined
}

/**
 * The messages the running turn has appended so far, held until it answers; absent outside a turn (the loop's
 * memory then writes through).
 */
const TurnBuffer = Context.Reference<Array<LlmMessage> | undefined>("troupe/llmagent/internal/TurnBuffer", {
  defaultValue: () => undefined
})

/**
 * The loop's view of `memory`: inside a turn, appends go to its `TurnBuffer`, and reads return the stored history
 * followed by the buffer (the last `maxMessages` of them, as the memory would keep them).
 */
const bufferedMemory = (memory: ConversationMemoryShape): ConversationMemoryShape => ({
  maxMessages: memory.maxMessages,
  append: (conversationId, messages) =>
    Effect.gen(function*() {
      const buffer = yield* TurnBuffer
      if (buffer === undefined) return yield* memory.append(conversationId, messages)
      for (const m of messages) buffer.push(m)
    }),
  messages: (conversationId, options) =>
    Effect.gen(function*() {
      const buffer = yield* TurnBuffer
      if (buffer === undefined || buffer.length === 0) return yield* memory.messages(conversationId, options)
      const all = [...(yield* memory.messages(conversationId)), ...buffer]
      const keep = Math.min(memory.maxMessages, options?.last ?? Number.POSITIVE_INFINITY)
      return all.length > keep ? all.slice(all.length - keep) : all
    }),
  clear: (conversationId) => memory.clear(conversationId),
  stats: memory.stats
})

const outputInstructions = (schema: Schema.Codec<unknown, unknown, never, never>): string =>
  `Answer with only a JSON value (no prose, no code fence) matching this JSON Schema: ${
    JSON.stringify(AiTool.getJsonSchemaFromSchema(schema))
  }`

/** The shared parts of a definition. Dies when the loop configuration is invalid (definitions are code). */
export const makeRuntime = (definition: AnyLlmAgent, host: HostConfig): DefinitionRuntime => {
  // either model client of any error type; a definition's own llm needs no services
  const given = (definition.llm ?? host.llm) as AgentLoop.ModelClient<unknown, never> | undefined
  if (given === undefined) throw new Error(`LlmAgent ${definition.name}: no model client (give llm, or provide Llm)`)
  const durable = definition.durable === undefined ? undefined : host.durable
  if (definition.durable !== undefined && durable === undefined) {
    throw new Error(`LlmAgent ${definition.name}: durable turns need WorkflowEngine, RunJournal and ToolLedger`)
  }
  const llm = durable === undefined ? given : journaledClient(given)
  const memory = definition.memory === "conversation" ? host.memory : undefined
  if (definition.memory === "conversation" && memory === undefined) {
    throw new Error(`LlmAgent ${definition.name}: conversation memory needs ConversationMemory`)
  }
  const parts = [
    definition.instructions,
    definition.output === undefined ? undefined : outputInstructions(definition.output)
  ]
    .filter((p): p is string => p !== undefined && p !== "")
  const systemPrompt = parts.length === 0 ? undefined : parts.join("\n\n")
  // the native mode: OpenAI's strict json_schema on every call (other wires render it as an instruction), and the
  // matching codec (optional fields arrive as nulls) to decode the answer
  const strict = definition.output === undefined ? undefined : OpenAiStructuredOutput.toCodecOpenAI(definition.output)
  const makeLoop = (extraTools: ReadonlyArray<ToolDefinition>): Loop => {
    const made = Effect.runSync(Effect.result(AgentLoop.make<unknown, never>({
      llm,
      model: definition.model,
      tools: [...definition.tools, ...extraTools],
      maxSteps: definition.maxSteps,
      agent: definition.name,
      ...(systemPrompt !== undefined ? { systemPrompt } : {}),
      // a turn's appends are buffered until it answers (see `runTurn`)
      ...(memory !== undefined ? { memory: bufferedMemory(memory) } : {}),
      ...(host.hub !== undefined ? { telemetry: host.hub } : {}),
      ...(definition.params !== undefined ? { params: definition.params } : {}),
      ...(definition.toolChoice !== undefined ? { toolChoice: definition.toolChoice } : {}),
      // the OpenAI form's JSON Schema (the request's response format takes a JSON Schema object)
      ...(strict !== undefined
        ? { responseFormat: { type: "json", name: "output", schema: strict.jsonSchema as never, strict: true } }
        : {}),
      ...(definition.policy !== undefined ? { policy: definition.policy } : {}),
      ...(definition.concurrency !== undefined ? { concurrency: definition.concurrency } : {}),
      ...(definition.toolTimeout !== undefined ? { toolTimeout: definition.toolTimeout } : {}),
      ...(durable !== undefined ? { wrapToolCall: journaledToolCall } : {})
    })))
    if (Result.isFailure(made)) throw new Error(`LlmAgent ${definition.name}: ${made.failure.message}`)
    return made.success as Loop // `memory` is configured whenever a run names a conversation (see `runTurn`)
  }
  const price = findPrice(host.prices, definition.model)
  // the OpenAI form of the output schema needs no services, like the output schema
  const decode = strict === undefined
    ? undefined
    : Schema.decodeUnknownResult(strict.codec as Schema.Codec<unknown, unknown, never, never>)
  // a durable run journals its append, so a resumed run does not append its conversation twice
  const target = memory === undefined ? undefined : durable === undefined ? memory : journaledMemory(memory)
  const runtime: DefinitionRuntime = {
    definition,
    memory,
    appendTurn: (id, messages) => target === undefined ? Effect.void : target.append(id, messages),
    llm,
    systemPrompt,
    loop: definition.subAgents.length === 0 ? makeLoop([]) : undefined,
    makeLoop,
    decodeOutput: decode === undefined ? undefined : (u) => decode(u, { errors: "all" }),
    price: price === undefined ? () => 0 : (usage) => costOf(price, usage),
    durable: durable === undefined ? undefined : makeDurable({
      layerName: durable.layerName,
      definition,
      services: durable.services,
      // durable definitions have no sub-agents (`LlmAgent.make` refuses them): the shared loop is theirs
      body: (agentId, turn) => runTurn(runtime, runtime.loop as Loop, agentId, turn, undefined)
    })
  }
  return runtime
}

const FENCE = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/

/** Parses the answer as JSON (a surrounding code fence is tolerated) and decodes it. */
const decodeAnswer = (
  decode: (u: unknown) => Result.Result<unknown, Schema.SchemaError>,
  text: string
): Result.Result<unknown, { readonly path: string; readonly detail: string }> => {
  const body = FENCE.exec(text)?.[1] ?? text
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch (error) {
    return Result.fail({ path: "", detail: `not JSON: ${error instanceof Error ? error.message : String(error)}` })
  }
  const decoded = decode(json)
  return Result.isSuccess(decoded) ? Result.succeed(decoded.success) : Result.fail(fromSchemaError(decoded.failure))
}

const repairMessage = (failure: { readonly path: string; readonly detail: string }): LlmMessage => ({
  role: "user",
  content: `Your answer does not match the required JSON Schema${
    failure.path === "" ? "" : ` at ${failure.path}`
  }: ${failure.detail}. Reply with only the corrected JSON value.`
})

interface RunSummary {
  readonly answer: string
  readonly stopReason: AgentLoop.StopReason
  readonly steps: number
  readonly toolCalls: number
  readonly usage: Usage
  readonly estimatedInputTokens: number
  readonly newMessages: ReadonlyArray<LlmMessage>
}

const summary = (result: AgentLoopResult): RunSummary => ({
  answer: result.text,
  stopReason: result.stopReason,
  steps: result.steps,
  toolCalls: result.toolEvents.length,
  usage: result.usage,
  estimatedInputTokens: result.estimatedInputTokens,
  newMessages: result.newMessages
})

/** A streamed run: events go to `onEvent`; the summary is folded from them. */
const streamRun = (
  loop: Loop,
  input: AgentLoop.AgentLoopInput,
  onEvent: (event: AgentLoopEvent) => Effect.Effect<void>
): Effect.Effect<RunSummary, unknown> =>
  Effect.suspend(() => {
    let toolCalls = 0
    let finished: Extract<AgentLoopEvent, { _tag: "Finished" }> | undefined
    return Stream.runForEach(loop.runStream(input), (event) => {
      if (event._tag === "ToolCallFinished") toolCalls++
      else if (event._tag === "Finished") finished = event
      return onEvent(event)
    }).pipe(Effect.map((): RunSummary => ({
      answer: finished?.text ?? "",
      stopReason: finished?.stopReason ?? "max-steps",
      steps: finished?.steps ?? 0,
      toolCalls,
      usage: finished?.usage ?? makeUsage(0, 0),
      estimatedInputTokens: finished?.estimatedInputTokens ?? 0,
      // streamed runs do not report their messages: the input and the answer text are what a repair resends
      newMessages: [...asMessages(input.input), { role: "assistant", content: finished?.text ?? "" }]
    })))
  })

const asMessages = (input: string | ReadonlyArray<LlmMessage>): ReadonlyArray<LlmMessage> =>
  typeof input === "string" ? [{ role: "user", content: input }] : input

const toTurnFailed = (id: string) => (error: unknown): TurnFailed => {
  const { tag, detail } = describeError(error)
  return new TurnFailed({ id, tag, detail, error })
}

/**
 * One turn of agent `id`: the loop (streamed when `onEvent` is given), then the output Schema with repairs, within
 * the turn's step budget; the turn is appended to memory once it answers. Fails with `TurnFailed` when the model,
 * the loop or the memory append fails with a typed error, or (tagged `MaxSteps`) when a structured turn runs out of
 * steps without a decodable answer; with `InvalidAgentOutput` when the answer is still undecodable after the repairs
 * (or when no step is left to repair it).
 */
export const runTurn = (
  runtime: DefinitionRuntime,
  loop: Loop,
  id: string,
  turn: CheckedTurn,
  onEvent: ((event: AgentLoopEvent) => Effect.Effect<void>) | undefined
): Effect.Effect<TurnAnswer, TurnFailed | InvalidAgentOutput> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const withMemory = runtime.memory !== undefined
    const budget = turn.maxSteps ?? runtime.definition.maxSteps
    const buffer: Array<LlmMessage> = []
    // every model call is priced on its own (the perRequest fee is per call); the host's observer still sees it all
    const observer = yield* AgentLoop.LoopProgress
    let costUsd = 0
    const progress = (event: AgentLoopEvent): void => {
      if (event._tag === "StepFinished") costUsd += runtime.price(event.usage)
      observer?.(event)
    }
    const runOnce = (
      input: string | ReadonlyArray<LlmMessage>,
      maxSteps: number
    ): Effect.Effect<RunSummary, TurnFailed> => {
      const loopInput: AgentLoop.AgentLoopInput = { input, maxSteps, ...(withMemory ? { conversationId: id } : {}) }
      const run = onEvent === undefined ? Effect.map(loop.run(loopInput), summary) : streamRun(loop, loopInput, onEvent)
      return run.pipe(
        Effect.provideService(AgentLoop.LoopProgress, progress),
        Effect.provideService(TurnBuffer, buffer),
        Effect.mapError(toTurnFailed(id))
      )
    }
    let result = yield* runOnce(turn.input, budget)
    let steps = result.steps
    let toolCalls = result.toolCalls
    let usage = result.usage
    let estimatedInputTokens = result.estimatedInputTokens
    let output: unknown = result.answer
    let repairs = 0
    const decode = runtime.decodeOutput
    if (decode !== undefined) {
      // without memory, a repair resends the turn so far (the loop keeps no history of its own)
      let transcript: ReadonlyArray<LlmMessage> = result.newMessages
      let decoded = decodeAnswer(decode, result.answer)
      // running out of steps is not an answer to repair, and a repair needs a step left
      while (
        Result.isFailure(decoded) && result.stopReason === "answered" && repairs < runtime.definition.repairs &&
        steps < budget
      ) {
        repairs++
        const repair = repairMessage(decoded.failure)
        result = yield* runOnce(withMemory ? [repair] : [...transcript, repair], budget - steps)
        transcript = result.newMessages
        steps += result.steps
        toolCalls += result.toolCalls
        usage = AgentLoop.addUsage(usage, result.usage)
        estimatedInputTokens += result.estimatedInputTokens
        decoded = decodeAnswer(decode, result.answer)
      }
      if (Result.isFailure(decoded) && result.stopReason === "max-steps") {
        const detail = `no answer within maxSteps (${budget} model calls)`
        return yield* new TurnFailed({ id, tag: "MaxSteps", detail, error: { _tag: "MaxSteps", maxSteps: budget } })
      }
      if (Result.isFailure(decoded)) {
        return yield* new InvalidAgentOutput({
          id,
          path: decoded.failure.path,
          detail: decoded.failure.detail,
          repairs
        })
      }
      output = decoded.success
    }
    if (buffer.length > 0) yield* Effect.mapError(runtime.appendTurn(id, buffer), toTurnFailed(id))
    return {
      id,
      text: result.answer,
      output,
      stopReason: result.stopReason,
      steps,
      toolCalls,
      usage,
      estimatedInputTokens,
      costUsd,
      repairs,
      durationMillis: (yield* Clock.currentTimeMillis) - started
    }
  })
