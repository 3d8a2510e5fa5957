/**
 * The `scripted` provider: deterministic, offline, free. The default when no API key is configured, and the model
 * of `Troupe.layerTest` and the demo.
 *
 * Rules are tried in order against the request: `{ lastUser }` matches the last user message (substring or RegExp)
 * when the conversation does not end with tool results; `{ toolResult }` matches when it does (by tool name and/or
 * result content); `"always"` matches anything. A rule's reply (a value or a function of the request) gives text
 * and/or tool calls — or a `ProviderError`, to script outages. No match falls back to `fallback` (default: a short
 * echo). Tool-call ids are deterministic (`call_<turn>_<n>`). Usage is estimated at ~4 characters per token.
 *
 * `embed` returns deterministic unit vectors (`scriptedEmbedding`: the same text, the same vector).
 *
 * Latency is simulated with `Effect.sleep`, i.e. on Effect's `Clock`, so `TestClock.adjust` drives it in tests;
 * `latency` is paid before the answer (time to first token) and `chunkLatency` between streamed chunks. With zero
 * latency, `generate` is a single `Effect.suspend` over pure code — the cheap baseline of `llm.provider-direct`.
 * Mirrors LangChain's `FakeListChatModel` / effect/ai test models, with rules instead of a fixed list.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Layer, Schema, Stream } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"
import { type EmbedRequest, type EmbedResponse, SCRIPTED_DIMENSIONS, scriptedEmbedding } from "./Embeddings.ts"
import type { ProviderError } from "./LlmError.ts"
import { InvalidProviderOptions } from "./LlmError.ts"
import type { LlmCallOptions, LlmProviderShape } from "./LlmProvider.ts"
import { LlmProvider } from "./LlmProvider.ts"
import type { LlmRequest, ToolCall, ToolMessage } from "./LlmRequest.ts"
import { invalidRequestFromIssue, lastUserText } from "./LlmRequest.ts"
import type { FinishReason, LlmResponse, LlmStreamPart } from "./LlmResponse.ts"
import { makeUsage } from "./LlmResponse.ts"
import { positiveMillis } from "./ProviderOptions.ts"
import { CHARS_PER_TOKEN, estimateRequestTokens } from "./TokenEstimate.ts"

/** A tool call the scripted model makes (`id` defaults to `call_<turn>_<n>`). */
export interface ScriptedToolCall {
  readonly name: string
  readonly arguments: Schema.Json
  readonly id?: string
}

/** What a rule answers. */
export interface ScriptReply {
  readonly text?: string
  readonly toolCalls?: ReadonlyArray<ScriptedToolCall>
  readonly finishReason?: FinishReason
  /** Fail the call with this error instead of answering (scripted outages, rate limits). */
  readonly error?: ProviderError
}

/** What a rule matches. */
export type ScriptMatcher =
  | "always"
  | { readonly lastUser: string | RegExp }
  | { readonly toolResult: string | RegExp; readonly tool?: string }
  | { readonly tool: string }

/** One rule: when `when` matches, answer `reply` (after `latency`, if set, instead of the provider's). */
export interface ScriptRule {
  readonly when: ScriptMatcher
  readonly reply: ScriptReply | ((request: LlmRequest) => ScriptReply)
  readonly latency?: Duration.Input
}

/** Options of the scripted provider. */
export interface ScriptedOptions {
  /** Provider name. Default `scripted`. */
  readonly name?: string
  readonly rules?: ReadonlyArray<ScriptRule>
  /** Reply when no rule matches. Default: `I am a scripted model. You said: "<last user message>"`. */
  readonly fallback?: ScriptReply | ((request: LlmRequest) => ScriptReply)
  /** Delay before the answer (or first chunk). Default 0. */
  readonly latency?: Duration.Input
  /** Delay between streamed chunks. Default 0. */
  readonly chunkLatency?: Duration.Input
  /** Approximate characters per streamed text chunk. Default 16. */
  readonly chunkSize?: number
}

const Matcher = Schema.Union([
  Schema.Literal("always"),
  Schema.Struct({ lastUser: Schema.Union([Schema.String, Schema.instanceOf(RegExp)]) }),
  Schema.Struct({
    toolResult: Schema.Union([Schema.String, Schema.instanceOf(RegExp)]),
    tool: Schema.optionalKey(Schema.String)
  }),
  Schema.Struct({ tool: Schema.String })
])
const Duration_ = Schema.Any.check(
  Schema.makeFilter((u: unknown) => u === 0 || positiveMillis(u) !== undefined || "expected a duration")
)
const ReplyOrFn = Schema.Any.check(
  Schema.makeFilter((u: unknown) =>
    typeof u === "function" || (typeof u === "object" && u !== null) || "expected a reply object or a function"
  )
)
const OptionsSchema = Schema.Struct({
  name: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1))),
  rules: Schema.optionalKey(Schema.Array(Schema.Struct({
    when: Matcher,
    reply: ReplyOrFn,
    latency: Schema.optionalKey(Duration_)
  }))),
  fallback: Schema.optionalKey(ReplyOrFn),
  latency: Schema.optionalKey(Duration_),
  chunkLatency: Schema.optionalKey(Duration_),
  chunkSize: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000 })))
})

const millisOf = (d: Duration.Input | undefined): number => (d === undefined || d === 0 ? 0 : positiveMillis(d) ?? 0)

const test = (pattern: string | RegExp, text: string): boolean =>
  typeof pattern === "string" ? text.includes(pattern) : pattern.test(text)

/** The trailing tool messages of the conversation (the results the model is answering), oldest first. */
const NO_RESULTS: ReadonlyArray<ToolMessage> = []

const trailingToolResults = (request: LlmRequest): ReadonlyArray<ToolMessage> => {
  if (request.messages[request.messages.length - 1]?.role !== "tool") return NO_RESULTS
  const out: Array<ToolMessage> = []
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i]
    if (m === undefined || m.role !== "tool") break
    out.unshift(m)
  }
  return out
}

const toolNameOf = (request: LlmRequest, result: ToolMessage): string | undefined => {
  if (result.name !== undefined) return result.name
  for (const m of request.messages) {
    if (m.role === "assistant") { for (const c of m.toolCalls ?? []) if (c.id === result.toolCallId) return c.name }
  }
  return undefined
}

const matches = (matcher: ScriptMatcher, request: LlmRequest, results: ReadonlyArray<ToolMessage>): boolean => {
  if (matcher === "always") return true
  if ("lastUser" in matcher) return results.length === 0 && test(matcher.lastUser, lastUserText(request.messages))
  if ("toolResult" in matcher) {
    return results.some((r) =>
      (matcher.tool === undefined || toolNameOf(request, r) === matcher.tool) && test(matcher.toolResult, r.content)
    )
  }
  return results.some((r) => toolNameOf(request, r) === matcher.tool)
}

const defaultFallback = (request: LlmRequest): ScriptReply => ({
  text: `I am a scripted model. You said: "${lastUserText(request.messages)}"`
})

const chunkText = (text: string, size: number): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out
}

/**
 * The scripted provider. Fails with `InvalidProviderOptions` (naming the field) when `name` is empty, a rule's `when`
 * is not `"always"`, `{ lastUser }`, `{ toolResult, tool? }` or `{ tool }` (string or RegExp patterns), a `reply` or
 * the `fallback` is neither an object nor a function, a latency is neither 0 nor a positive duration, or `chunkSize` is
 * not an integer from 1 to 1,000,000.
 *
 * @example
 * ```ts
 * const model = yield* ScriptedProvider.make({
 *   rules: [
 *     { when: { lastUser: /weather in (\w+)/i }, reply: (req) => ({ toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }] }) },
 *     { when: { tool: "get_weather" }, reply: { text: "It is cold in Oslo." } }
 *   ],
 *   latency: "200 millis"
 * })
 * ```
 */
export const make = (options: ScriptedOptions = {}): Effect.Effect<LlmProviderShape, InvalidProviderOptions> =>
  Schema.decodeUnknownEffect(OptionsSchema)(options).pipe(
    Effect.mapError((e) => {
      const provider = options.name ?? "scripted"
      return Invalid.fromSchemaError(
        e,
        `options of provider ${provider}`,
        (f) => new InvalidProviderOptions({ provider, ...f })
      )
    }),
    Effect.map(() => makeUnsafe(options))
  )

/** The scripted provider without validating `options` (they are trusted code). */
export const makeUnsafe = (options: ScriptedOptions = {}): LlmProviderShape => {
  const name = options.name ?? "scripted"
  const rules = options.rules ?? []
  const fallback = options.fallback ?? defaultFallback
  const baseLatency = millisOf(options.latency)
  const chunkLatency = millisOf(options.chunkLatency)
  const chunkSize = options.chunkSize ?? 16

  const answer = (request: LlmRequest): { readonly reply: ScriptReply; readonly latency: number } => {
    const results = trailingToolResults(request)
    for (const rule of rules) {
      if (matches(rule.when, request, results)) {
        const reply = typeof rule.reply === "function" ? rule.reply(request) : rule.reply
        return { reply, latency: rule.latency === undefined ? baseLatency : millisOf(rule.latency) }
      }
    }
    return { reply: typeof fallback === "function" ? fallback(request) : fallback, latency: baseLatency }
  }

  const respond = (request: LlmRequest, reply: ScriptReply): LlmResponse => {
    let toolCalls: Array<ToolCall> = []
    if (reply.toolCalls !== undefined && reply.toolCalls.length > 0) {
      const turn = request.messages.reduce((n, m) => (m.role === "assistant" ? n + 1 : n), 0)
      toolCalls = reply.toolCalls.map((c, i) => ({
        id: c.id ?? `call_${turn}_${i}`,
        name: c.name,
        arguments: c.arguments
      }))
    }
    const text = reply.text ?? ""
    let outputChars = text.length
    for (const c of toolCalls) outputChars += c.name.length + JSON.stringify(c.arguments).length
    return {
      provider: name,
      model: request.model,
      text,
      toolCalls,
      finishReason: reply.finishReason ?? (toolCalls.length > 0 ? "tool-calls" : "stop"),
      usage: makeUsage(estimateRequestTokens(request), Math.ceil(outputChars / CHARS_PER_TOKEN))
    }
  }

  const generate = (request: LlmRequest, _options?: LlmCallOptions): Effect.Effect<LlmResponse, ProviderError> =>
    Effect.suspend(() => {
      const { reply, latency } = answer(request)
      const result: Effect.Effect<LlmResponse, ProviderError> = reply.error !== undefined
        ? Effect.fail(reply.error)
        : Effect.succeed(respond(request, reply))
      return latency > 0 ? Effect.andThen(Effect.sleep(Duration.millis(latency)), result) : result
    })

  const stream = (request: LlmRequest, _options?: LlmCallOptions): Stream.Stream<LlmStreamPart, ProviderError> =>
    Stream.unwrap(Effect.sync(() => {
      const { reply, latency } = answer(request)
      const wait = latency > 0 ? Stream.fromEffectDrain(Effect.sleep(Duration.millis(latency))) : Stream.empty
      if (reply.error !== undefined) return Stream.concat(wait, Stream.fail(reply.error))
      const response = respond(request, reply)
      const parts: Array<LlmStreamPart> = chunkText(response.text, chunkSize).map((delta) => ({
        _tag: "TextDelta",
        delta
      }))
      response.toolCalls.forEach((toolCall, index) => {
        parts.push({ _tag: "ToolCallStart", index, id: toolCall.id, name: toolCall.name })
        parts.push({
          _tag: "ToolCallDelta",
          index,
          id: toolCall.id,
          argumentsDelta: JSON.stringify(toolCall.arguments)
        })
        parts.push({ _tag: "ToolCall", index, toolCall })
      })
      parts.push({
        _tag: "Finish",
        provider: name,
        model: response.model,
        finishReason: response.finishReason,
        usage: response.usage
      })
      const body = chunkLatency > 0
        ? Stream.fromIterable(parts).pipe(
          Stream.mapEffect((part, i) =>
            i === 0 ? Effect.succeed(part) : Effect.as(Effect.sleep(Duration.millis(chunkLatency)), part)
          )
        )
        : Stream.fromIterable(parts)
      return Stream.concat(wait, body)
    }))

  const embed = (request: EmbedRequest): Effect.Effect<EmbedResponse, ProviderError> =>
    Effect.suspend(() => {
      const response: EmbedResponse = {
        provider: name,
        model: request.model,
        embeddings: request.input.map((text) => scriptedEmbedding(text, request.dimensions ?? SCRIPTED_DIMENSIONS)),
        usage: makeUsage(request.input.reduce((n, text) => n + Math.ceil(text.length / CHARS_PER_TOKEN), 0), 0)
      }
      return baseLatency === 0 ? Effect.succeed(response) : Effect.as(Effect.sleep(baseLatency), response)
    })

  return { name, api: "scripted", generate, stream, embed }
}

/**
 * A layer providing `LlmProvider` as the scripted provider. Fails to build with `InvalidProviderOptions` when `options`
 * fail `make`'s checks (a bad name, rule matcher, reply, latency or chunk size).
 */
export const layer = (options: ScriptedOptions = {}): Layer.Layer<LlmProvider, InvalidProviderOptions> =>
  Layer.effect(LlmProvider, make(options))
