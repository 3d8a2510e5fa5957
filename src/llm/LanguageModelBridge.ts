/**
 * The bridge from any `LlmProvider` to effect/ai's `LanguageModel`, built with `LanguageModel.make` — so programs
 * written against effect/ai (`LanguageModel.generateText`, `generateObject`, `streamText`, `Chat`, toolkits) run on
 * troupe's providers, including the offline scripted one. This fills the slot `OpenAiLanguageModel.model(...)` of
 * `@effect/ai-openai` would, had it loaded with effect 4.1.
 *
 * Converts effect/ai's `Prompt` to `LlmMessage`s (tool results become `tool` messages, JSON results stringified),
 * tools to JSON-Schema `ToolDefinition`s (`Tool.getJsonSchema`), tool choice (`oneOf` narrows the tool list),
 * structured output to a JSON `responseFormat`; and back: answers to encoded `Response` parts, stream parts to
 * `text-start/delta/end`, `tool-params-start/delta/end`, `tool-call` and `finish` (every part of one tool call
 * under the id of its `ToolCallStart`), `ProviderError`s to `AiError` reasons (`RateLimitError` keeps `retryAfter`). File parts are not supported by the chat providers and fail with
 * `InvalidUserInputError`.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Layer, Stream } from "effect"
import type { Schema } from "effect"
import { AiError, LanguageModel, Tool } from "effect/ai"
import type { Prompt, Response } from "effect/ai"
import type { ProviderError } from "./LlmError.ts"
import type { LlmCallOptions, LlmProviderShape } from "./LlmProvider.ts"
import { LlmProvider } from "./LlmProvider.ts"
import type { LlmMessage, LlmParams, LlmRequest, ToolChoice, ToolDefinition } from "./LlmRequest.ts"
import type { LlmResponse, LlmStreamPart, Usage } from "./LlmResponse.ts"

/** What the bridged model calls: the provider's model name and default parameters. */
export interface LanguageModelOptions {
  readonly model: string
  readonly params?: LlmParams
  readonly callOptions?: LlmCallOptions
}

const MODULE = "troupe/LlmProvider"

/** Maps a `ProviderError` to effect/ai's `AiError` (keeping retryability and `retryAfter`). */
export const toAiError = (error: ProviderError, method: string): AiError.AiError => {
  const description = error.description
  const reason: AiError.AiErrorReason = (() => {
    switch (error._tag) {
      case "ProviderRateLimited":
        return new AiError.RateLimitError(
          error.retryAfterMillis !== undefined ? { retryAfter: Duration.millis(error.retryAfterMillis) } : {}
        )
      case "QuotaExhausted":
        return new AiError.QuotaExhaustedError({})
      case "AuthenticationFailed":
        return new AiError.AuthenticationError({ kind: error.kind, description })
      case "ContentPolicyViolation":
        return new AiError.ContentPolicyError({ description })
      case "ContextLengthExceeded":
        return new AiError.InvalidRequestError({ description: `context length exceeded: ${description}` })
      case "ProviderRejectedRequest":
        return new AiError.InvalidRequestError({ description })
      case "ProviderOverloaded":
      case "ProviderServerError":
        return new AiError.InternalProviderError({ description })
      case "ProviderTimeout":
      case "ProviderConnectionError":
        return new AiError.NetworkError({ reason: "TransportError", method: "POST", url: error.provider, description })
      case "MalformedResponse":
        return new AiError.InvalidResponseError({ description })
    }
  })()
  return AiError.make({ module: MODULE, method, reason })
}

const stringifyResult = (
  result: unknown
): string => (typeof result === "string" ? result : JSON.stringify(result) ?? "null")

const unsupported = (method: string, description: string): AiError.AiError =>
  AiError.make({ module: MODULE, method, reason: new AiError.InvalidUserInputError({ description }) })

/**
 * Converts an effect/ai `Prompt` to `LlmMessage`s. Fails with `AiError` (reason `InvalidUserInputError`) when a user
 * message has a file part, which the chat providers do not support.
 */
export const promptToMessages = (
  prompt: Prompt.Prompt,
  method: string
): Effect.Effect<Array<LlmMessage>, AiError.AiError> => {
  const out: Array<LlmMessage> = []
  for (const message of prompt.content) {
    switch (message.role) {
      case "system":
        out.push({ role: "system", content: message.content })
        break
      case "user": {
        let text = ""
        for (const part of message.content) {
          if (part.type === "file") {
            return Effect.fail(unsupported(method, "file parts are not supported by this provider"))
          }
          text += part.text
        }
        out.push({ role: "user", content: text })
        break
      }
      case "assistant": {
        let text = ""
        const toolCalls: Array<{ id: string; name: string; arguments: Schema.Json }> = []
        for (const part of message.content) {
          if (part.type === "text") text += part.text
          else if (part.type === "tool-call" && !part.providerExecuted) {
            // a tool call's params were decoded from JSON by effect/ai
            toolCalls.push({ id: part.id, name: part.name, arguments: (part.params ?? {}) as Schema.Json })
          }
        }
        out.push({ role: "assistant", content: text, ...(toolCalls.length > 0 ? { toolCalls } : {}) })
        break
      }
      case "tool":
        for (const part of message.content) {
          if (part.type !== "tool-result") continue
          const content = part.modelOutput !== undefined
            ? part.modelOutput.map((p) => (p.type === "text" ? p.text : "")).join("\n")
            : stringifyResult(part.result)
          out.push({
            role: "tool",
            toolCallId: part.id,
            name: part.name,
            content,
            ...(part.isFailure ? { isError: true } : {})
          })
        }
        break
    }
  }
  return Effect.succeed(out)
}

const toolDefinitions = (tools: ReadonlyArray<Tool.Any>): Array<ToolDefinition> =>
  tools.filter((t) => !Tool.isProviderDefined(t)).map((t) => {
    const description = Tool.getDescription(t)
    return {
      name: t.name,
      ...(description !== undefined ? { description } : {}),
      // a tool's JSON Schema is a JSON object
      parameters: Tool.getJsonSchema(t) as unknown as Record<string, Schema.Json>
    }
  })

/**
 * The `LlmRequest` of one effect/ai provider call. Fails with `AiError` (reason `InvalidUserInputError`) when a user
 * message has a file part (see `promptToMessages`) or the prompt converts to no message at all.
 */
export const toLlmRequest = (
  options: LanguageModel.ProviderOptions,
  model: LanguageModelOptions,
  method: string
): Effect.Effect<LlmRequest, AiError.AiError> =>
  Effect.flatMap(promptToMessages(options.prompt, method), (messages) => {
    if (messages.length === 0) return Effect.fail(unsupported(method, "the prompt is empty"))
    let tools = toolDefinitions(options.tools)
    let toolChoice: ToolChoice | undefined
    // effect/ai's tool choice for a toolkit of any names (the names are checked by the provider)
    const choice = options.toolChoice as LanguageModel.ToolChoice<string>
    if (typeof choice === "string") toolChoice = choice
    else if ("tool" in choice) toolChoice = { tool: choice.tool }
    else {
      const allowed = new Set<string>(choice.oneOf)
      tools = tools.filter((t) => allowed.has(t.name))
      toolChoice = choice.mode === "required" ? "required" : "auto"
    }
    const format = options.responseFormat
    const request: LlmRequest = {
      model: model.model,
      messages: messages as unknown as LlmRequest["messages"], // non-empty: checked above
      ...(tools.length > 0 ? { tools, toolChoice } : {}),
      ...(model.params !== undefined ? { params: model.params } : {}),
      ...(format.type === "json"
        ? {
          responseFormat: {
            type: "json" as const,
            name: format.objectName.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64) || "output",
            // the format's schema is the codec effect/ai built; its JSON Schema is a JSON object
            schema: LanguageModel.defaultCodecTransformer(format.schema as never).jsonSchema as unknown as Record<
              string,
              Schema.Json
            >
          }
        }
        : {})
    }
    return Effect.succeed(request)
  })

const usageEncoded = (usage: Usage): typeof Response.Usage.Encoded => {
  const cacheRead = usage.cachedInputTokens ?? 0
  const cacheWrite = usage.cacheWriteInputTokens ?? 0
  return {
    inputTokens: {
      total: usage.inputTokens,
      ...(usage.cachedInputTokens !== undefined || usage.cacheWriteInputTokens !== undefined
        ? { uncached: Math.max(0, usage.inputTokens - cacheRead - cacheWrite) }
        : {}),
      ...(usage.cachedInputTokens !== undefined ? { cacheRead } : {}),
      ...(usage.cacheWriteInputTokens !== undefined ? { cacheWrite } : {})
    },
    outputTokens: {
      total: usage.outputTokens,
      ...(usage.reasoningTokens !== undefined
        ? { reasoning: usage.reasoningTokens, text: Math.max(0, usage.outputTokens - usage.reasoningTokens) }
        : {})
    }
  }
}

/** The encoded effect/ai response parts of an answer. */
export const responseToParts = (response: LlmResponse): Array<Response.PartEncoded> => {
  const parts: Array<Response.PartEncoded> = [{
    type: "response-metadata",
    ...(response.id !== undefined ? { id: response.id } : {}),
    modelId: response.model
  }]
  if (response.text !== "") parts.push({ type: "text", text: response.text })
  for (const call of response.toolCalls) {
    parts.push({ type: "tool-call", id: call.id, name: call.name, params: call.arguments })
  }
  parts.push({ type: "finish", reason: response.finishReason, usage: usageEncoded(response.usage) })
  return parts
}

/**
 * A stateful mapper from stream parts to encoded effect/ai stream parts (one per stream). Every `tool-params-*`
 * part and the `tool-call` of one call carry one id, that of its `ToolCallStart` (matched by `index`): a provider id
 * arriving after the call started (the OpenAI wire's late id, which its `ToolCallDelta`s and `ToolCall` carry) comes
 * after `tool-params-start` went out under the placeholder, so effect/ai keeps the placeholder. A call is forgotten
 * once complete, so the table holds the calls still open.
 */
export const makeStreamPartMapper = (): (part: LlmStreamPart) => Array<Response.StreamPartEncoded> => {
  const textId = "text_0"
  let textOpen = false
  const started = new Map<number, string>()
  const closeText = (out: Array<Response.StreamPartEncoded>) => {
    if (textOpen) out.push({ type: "text-end", id: textId })
    textOpen = false
  }
  return (part) => {
    const out: Array<Response.StreamPartEncoded> = []
    switch (part._tag) {
      case "TextDelta":
        if (!textOpen) out.push({ type: "text-start", id: textId })
        textOpen = true
        out.push({ type: "text-delta", id: textId, delta: part.delta })
        break
      case "ToolCallStart": {
        closeText(out)
        const id = started.get(part.index) ?? part.id
        started.set(part.index, id)
        out.push({ type: "tool-params-start", id, name: part.name })
        break
      }
      case "ToolCallDelta":
        out.push({ type: "tool-params-delta", id: started.get(part.index) ?? part.id, delta: part.argumentsDelta })
        break
      case "ToolCall": {
        const id = started.get(part.index) ?? part.toolCall.id
        started.delete(part.index)
        out.push({ type: "tool-params-end", id })
        out.push({ type: "tool-call", id, name: part.toolCall.name, params: part.toolCall.arguments })
        break
      }
      case "Finish":
        closeText(out)
        out.push({ type: "finish", reason: part.finishReason, usage: usageEncoded(part.usage) })
        break
    }
    return out
  }
}

/**
 * An effect/ai `LanguageModel` over `provider`.
 *
 * @example
 * ```ts
 * const model = yield* makeLanguageModel(ScriptedProvider.makeUnsafe(), { model: "scripted-1" })
 * const res = yield* model.generateText({ prompt: "hello" })
 * ```
 */
export const makeLanguageModel = (
  provider: LlmProviderShape,
  options: LanguageModelOptions
): Effect.Effect<LanguageModel.LanguageModel> =>
  LanguageModel.make({
    generateText: (providerOptions) =>
      toLlmRequest(providerOptions, options, "generateText").pipe(
        Effect.flatMap((request) =>
          provider.generate(request, options.callOptions).pipe(Effect.mapError((e) => toAiError(e, "generateText")))
        ),
        Effect.map(responseToParts)
      ),
    streamText: (providerOptions) =>
      Stream.unwrap(
        toLlmRequest(providerOptions, options, "streamText").pipe(Effect.map((request) => {
          const map = makeStreamPartMapper()
          return provider.stream(request, options.callOptions).pipe(
            Stream.mapError((e) => toAiError(e, "streamText")),
            Stream.flatMap((part) => Stream.fromIterable(map(part)))
          )
        }))
      )
  })

/** A layer providing effect/ai's `LanguageModel` over the current `LlmProvider`. */
export const layerLanguageModel = (
  options: LanguageModelOptions
): Layer.Layer<LanguageModel.LanguageModel, never, LlmProvider> =>
  Layer.effect(LanguageModel.LanguageModel, Effect.flatMap(LlmProvider, (p) => makeLanguageModel(p, options)))
