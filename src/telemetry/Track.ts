/**
 * The `track*` helpers: `span` with troupe's prefixes, metadata and OpenTelemetry GenAI span attributes.
 *
 * `trackLlmCall` follows the OTel GenAI semantic conventions for client spans (span name
 * `"{gen_ai.operation.name} {gen_ai.request.model}"`, kind `client`, `gen_ai.provider.name` plus the older
 * `gen_ai.system`, `gen_ai.request.*`, and after the response `gen_ai.response.model`, `gen_ai.response.id`,
 * `gen_ai.response.finish_reasons`, `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`; `error.type` on
 * failure). Tool executions use the `execute_tool {gen_ai.tool.name}` convention and agent actions
 * `invoke_agent {gen_ai.agent.name}`. Token usage is also emitted as `troupe.llm.token.usage` so the token and
 * cost metrics can be bound to it.
 *
 * Like `Telemetry.Metrics`-instrumented Elixir libraries, each helper is just `span` with fixed names: nothing here
 * is hand-rolled beyond the attribute mapping.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Events, SpanPrefixes } from "./EventCatalogue.ts"
import type { SpanFunction, SpanStopInfo } from "./Span.ts"

/** What is known about an LLM request before it is sent. */
export interface LlmCallInfo {
  /** troupe provider id: `openai`, `anthropic`, `google`, `mistral`, `groq`, `deepseek`, `ollama`, or any other. */
  readonly provider: string
  readonly model: string
  /** GenAI operation name (default `chat`): `chat`, `text_completion`, `embeddings`, `generate_content`, ... */
  readonly operation?: string
  readonly temperature?: number
  readonly maxTokens?: number
  readonly topP?: number
  readonly agent?: string
  readonly serverAddress?: string
}

/** What is known after the response; every field optional. */
export interface LlmUsage {
  readonly inputTokens?: number
  readonly outputTokens?: number
  /** The caller's estimate of the input tokens (a token counter's), recorded beside the actual `inputTokens`. */
  readonly estimatedInputTokens?: number
  readonly responseModel?: string
  readonly responseId?: string
  readonly finishReasons?: ReadonlyArray<string>
  /** Cost of this call in USD. */
  readonly cost?: number
}

/** Options of `trackLlmCall`: how to read token usage and response details from the call's result. */
export interface TrackLlmOptions<A> {
  /** Reads token usage (and response details) from the call's result. */
  readonly usage?: (value: A) => LlmUsage | undefined
}

/** OTel `gen_ai.provider.name` values (semantic conventions 1.37+) for troupe's provider ids. */
export const genAiProviderNames: Readonly<Record<string, string>> = {
  openai: "openai",
  anthropic: "anthropic",
  google: "gcp.gemini",
  gemini: "gcp.gemini",
  vertex: "gcp.vertex_ai",
  mistral: "mistral_ai",
  groq: "groq",
  deepseek: "deepseek",
  cohere: "cohere",
  xai: "x_ai",
  perplexity: "perplexity",
  bedrock: "aws.bedrock",
  azure: "azure.ai.openai"
}

/** Older `gen_ai.system` values (before `gen_ai.provider.name`), still read by many backends. */
const genAiSystemNames: Readonly<Record<string, string>> = { ...genAiProviderNames, google: "gemini", gemini: "gemini" }

type Tracked = <A2, E, R>(self: Effect.Effect<A2, E, R>) => Effect.Effect<A2, E, R>

/**
 * `trackLlmCall`, data-last (`effect.pipe(hub.trackLlmCall(info, options))`; annotate the `usage` parameter) or
 * data-first (`hub.trackLlmCall(effect, info, options)`; the `usage` parameter type is inferred).
 */
export interface TrackLlmCall {
  <A = unknown>(info: LlmCallInfo, options?: TrackLlmOptions<A>): <A2 extends A, E, R>(
    self: Effect.Effect<A2, E, R>
  ) => Effect.Effect<A2, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, info: LlmCallInfo, options?: TrackLlmOptions<A>): Effect.Effect<A, E, R>
}

const defined = (entries: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const k in entries) {
    const v = entries[k]
    if (v !== undefined) out[k] = v
  }
  return out
}

/** The GenAI request attributes of an LLM call span. */
export const llmRequestAttributes = (info: LlmCallInfo): Record<string, unknown> =>
  defined({
    "gen_ai.operation.name": info.operation ?? "chat",
    "gen_ai.provider.name": genAiProviderNames[info.provider] ?? info.provider,
    "gen_ai.system": genAiSystemNames[info.provider] ?? info.provider,
    "gen_ai.request.model": info.model,
    "gen_ai.request.temperature": info.temperature,
    "gen_ai.request.max_tokens": info.maxTokens,
    "gen_ai.request.top_p": info.topP,
    "gen_ai.agent.name": info.agent,
    "server.address": info.serverAddress
  })

/** The GenAI response attributes of an LLM call span. */
export const llmResponseAttributes = (usage: LlmUsage): Record<string, unknown> =>
  defined({
    "gen_ai.response.model": usage.responseModel,
    "gen_ai.response.id": usage.responseId,
    "gen_ai.response.finish_reasons": usage.finishReasons === undefined ? undefined : [...usage.finishReasons],
    "gen_ai.usage.input_tokens": usage.inputTokens,
    "gen_ai.usage.output_tokens": usage.outputTokens,
    "troupe.llm.estimated_input_tokens": usage.estimatedInputTokens
  })

const llmStopInfo = (info: LlmCallInfo, usage: LlmUsage, traced: boolean): SpanStopInfo => {
  const tokens: Record<string, number> = {}
  if (usage.inputTokens !== undefined) tokens.input_tokens = usage.inputTokens
  if (usage.outputTokens !== undefined) tokens.output_tokens = usage.outputTokens
  const hasTokens = usage.inputTokens !== undefined || usage.outputTokens !== undefined
  if (hasTokens) tokens.total_tokens = (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0)
  if (usage.cost !== undefined) tokens.cost = usage.cost
  if (usage.estimatedInputTokens !== undefined) tokens.estimated_input_tokens = usage.estimatedInputTokens
  const metadata: Record<string, unknown> = {}
  if (usage.responseModel !== undefined) metadata.response_model = usage.responseModel
  const finishReason = usage.finishReasons?.[0]
  if (finishReason !== undefined) metadata.finish_reason = finishReason
  const attributes = traced ? llmResponseAttributes(usage) : undefined
  if (!hasTokens && usage.cost === undefined) {
    return attributes === undefined
      ? { measurements: tokens, metadata }
      : { measurements: tokens, metadata, attributes }
  }
  const usageMetadata: Record<string, unknown> = { provider: info.provider, model: info.model }
  if (usage.responseModel !== undefined) usageMetadata.response_model = usage.responseModel
  return {
    measurements: tokens,
    metadata,
    ...(attributes === undefined ? {} : { attributes }),
    events: [{
      name: Events.llmTokenUsage,
      measurements: { input_tokens: 0, output_tokens: 0, total_tokens: 0, ...tokens },
      metadata: usageMetadata
    }]
  }
}

/** The span of `trackLlmCall`, built once per (info, options): apply it to each call's effect. */
const llmCallSpan = <A>(span: SpanFunction, info: LlmCallInfo, options: TrackLlmOptions<A> = {}): Tracked => {
  const operation = info.operation ?? "chat"
  const usage = options.usage
  const component = `llm:${info.provider}:${info.model}`
  // the span keeps the effect's types (Tracked is span's type with the LLM options' A fixed)
  return span<A>(
    SpanPrefixes.llmCall,
    defined({
      provider: info.provider,
      model: info.model,
      operation,
      temperature: info.temperature,
      max_tokens: info.maxTokens,
      top_p: info.topP,
      agent: info.agent,
      component
    }),
    {
      component,
      traceName: `${operation} ${info.model}`,
      traceKind: "client",
      attributes: llmRequestAttributes(info),
      ...(usage === undefined ? {} : {
        onSuccess: (value: A, traced: boolean) => {
          const u = usage(value)
          return u === undefined ? undefined : llmStopInfo(info, u, traced)
        }
      })
    }
  ) as Tracked
}

/** Builds the `track*` helpers over a hub's `span`. */
export const makeTrackers = (span: SpanFunction) => ({
  /**
   * Tracks an LLM call: `troupe.llm.call.*` events, a GenAI client span, token usage, reporter stats.
   *
   * @example
   * ```ts
   * // data-first: `r` is typed from the effect
   * const answer = yield* hub.trackLlmCall(callOpenAi(prompt), { provider: "openai", model: "gpt-4o", temperature: 0.2 }, {
   *   usage: (r) => ({ inputTokens: r.usage.prompt_tokens, outputTokens: r.usage.completion_tokens, responseModel: r.model })
   * })
   * // data-last in a pipe (annotate the usage parameter, or omit usage)
   * const reply = yield* callOpenAi(prompt).pipe(hub.trackLlmCall({ provider: "openai", model: "gpt-4o" }))
   * ```
   */
  trackLlmCall: ((...args: ReadonlyArray<unknown>) =>
    // data-last builds the span (names, metadata, attributes) once and returns it for reuse on every call
    Effect.isEffect(args[0])
      // data-first: (effect, info, options), the overloads of TrackLlmCall
      ? llmCallSpan(span, args[1] as LlmCallInfo, args[2] as TrackLlmOptions<unknown> | undefined)(args[0])
      // data-last: (info, options); the implementation covers both overloads of TrackLlmCall
      : llmCallSpan(span, args[0] as LlmCallInfo, args[1] as TrackLlmOptions<unknown> | undefined)) as TrackLlmCall,
  /** Tracks a tool execution: `troupe.tool.execution.*`, an `execute_tool` span. */
  trackToolExecution: (info: { readonly tool: string; readonly agent?: string }): Tracked =>
    span(SpanPrefixes.toolExecution, defined({ tool: info.tool, agent: info.agent, component: `tool:${info.tool}` }), {
      component: `tool:${info.tool}`,
      traceName: `execute_tool ${info.tool}`,
      attributes: defined({
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": info.tool,
        "gen_ai.agent.name": info.agent
      })
    }),
  /** Tracks an agent action: `troupe.agent.action.*`, an `invoke_agent` span. */
  trackAgentAction: (info: { readonly agent: string; readonly action: string }): Tracked =>
    span(SpanPrefixes.agentAction, { agent: info.agent, action: info.action, component: `agent:${info.agent}` }, {
      component: `agent:${info.agent}`,
      traceName: `invoke_agent ${info.agent}`,
      attributes: {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": info.agent,
        "troupe.agent.action": info.action
      }
    }),
  /** Tracks an algorithm execution (e.g. a search or planning algorithm): `troupe.algorithm.execution.*`. */
  trackAlgorithmExecution: (
    info: { readonly algorithm: string; readonly metadata?: Readonly<Record<string, unknown>> }
  ): Tracked =>
    span(SpanPrefixes.algorithmExecution, {
      ...info.metadata,
      algorithm: info.algorithm,
      component: `algorithm:${info.algorithm}`
    }, {
      component: `algorithm:${info.algorithm}`,
      traceName: `algorithm ${info.algorithm}`,
      attributes: { "troupe.algorithm.name": info.algorithm }
    })
})

/**
 * The tracking helpers of a hub (`trackLlmCall`, `trackToolExecution`, …), each emitting start, stop and exception
 * events and a tracing span.
 */
export type Trackers = ReturnType<typeof makeTrackers>
