/**
 * Handlers of the `openai` group: chat completions (JSON or SSE), embeddings, models — over the `Llm` pipeline
 * (aliases, cache, rate limits, breaker, retries, fallbacks, cost), the `Embedder` and the ConfigStore's aliases.
 *
 * The call is made as the authenticated caller (`toLlmCall`: the caller's principal or id is the call's `user`, the
 * scope of guard policies and budgets); the body's `user` is only an `openai.user` annotation of the request's log
 * lines and span. A failure is answered by `toHttpError` (its cause logged when it is a 500), an `InvalidLlmRequest`
 * naming the wire's field (`wirePaths`).
 *
 * Response headers name what answered: `x-troupe-provider`, `x-troupe-model`, `x-troupe-cached`,
 * `x-troupe-cost-usd` (JSON answers; a stream's come in its last chunk's usage only).
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { randomBytes } from "node:crypto"
import { ConfigStore } from "../../config/index.ts"
import { Llm } from "../../pipeline/index.ts"
import { Embedder } from "../Embedder.ts"
import { GatewayApi } from "../GatewayApi.ts"
import { Caller } from "../GatewayAuth.ts"
import type { WirePaths } from "../GatewayError.ts"
import { fromFailure, GatewayHttpError, httpError, toHttpError } from "../GatewayError.ts"
import { ChunkEncoder, completionBody, endUserOf, streamErrorChunk, toLlmCall, wirePaths } from "./ChatCodec.ts"
import type { GatewayState } from "./GatewayState.ts"
import { sseResponse } from "./SseResponse.ts"

const json = (body: unknown, headers?: Record<string, string>) =>
  HttpServerResponse.text(JSON.stringify(body), {
    contentType: "application/json",
    ...(headers !== undefined ? { headers } : {})
  })

// completion ids: 12 random bytes each, cut from a 3 KiB pool refilled when used up (one `randomBytes` call per 256
// ids instead of one per request: the synchronous call per request was ~4% of a profile of `gateway.chat`)
const ID_BYTES = 12
const pool = { bytes: randomBytes(ID_BYTES * 256), at: 0 }
const completionId = () => {
  if (pool.at + ID_BYTES > pool.bytes.length) {
    pool.bytes = randomBytes(ID_BYTES * 256)
    pool.at = 0
  }
  const id = pool.bytes.toString("base64url", pool.at, pool.at + ID_BYTES)
  pool.at += ID_BYTES
  return `chatcmpl-${id}`
}

const asResponse = (paths?: WirePaths) => (e: unknown) =>
  Effect.map(toHttpError(e, paths), (error) => error.toResponse())

/** The wire's `user` as an annotation of the request's log lines and span (metadata only). */
const withEndUser = (user: string | undefined) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  user === undefined
    ? self
    : Effect.annotateLogs(Effect.andThen(Effect.annotateCurrentSpan("openai.user", user), self), "openai.user", user)

export const openAiHandlers = (state: GatewayState) =>
  HttpApiBuilder.group(GatewayApi, "openai", (handlers) =>
    Effect.gen(function*() {
      const llm = yield* Llm
      const store = yield* ConfigStore
      const embedder = yield* Embedder
      return handlers
        .handle("chat", ({ payload }) => {
          const paths = wirePaths(payload)
          return Effect.gen(function*() {
            const caller = yield* Caller
            const call = toLlmCall(payload, caller)
            if (call instanceof GatewayHttpError) return call.toResponse()
            const id = completionId()
            const created = Math.floor(Date.now() / 1000)
            if (payload.stream !== true) {
              const result = yield* llm.generate(call)
              return json(completionBody(id, created, payload.model, result), {
                "x-troupe-provider": result.meta.provider,
                "x-troupe-model": result.meta.model,
                "x-troupe-cached": String(result.meta.cached),
                ...(result.meta.costUsd !== undefined ? { "x-troupe-cost-usd": String(result.meta.costUsd) } : {})
              })
            }
            const encoder = new ChunkEncoder(id, created, payload.model, payload.stream_options?.include_usage === true)
            return yield* sseResponse(llm.stream(call), {
              state,
              prelude: [{ data: encoder.first() }],
              encode: (part) => encoder.encode(part).map((data) => ({ data })),
              epilogue: [{ data: "[DONE]" }],
              onError: (error) => ({ data: streamErrorChunk(fromFailure(error, paths)) }),
              onDrained: () => ({
                data: streamErrorChunk(
                  httpError(503, "server_error", "The server is shutting down.", { code: "shutting_down" })
                )
              })
            })
          }).pipe(Effect.catch(asResponse(paths)), withEndUser(endUserOf(payload)))
        })
        .handle("embeddings", ({ payload }) =>
          Effect.gen(function*() {
            const inputs = typeof payload.input === "string" ? [payload.input] : payload.input
            const result = yield* embedder.embed(payload.model, inputs, { dimensions: payload.dimensions })
            const base64 = payload.encoding_format === "base64"
            return json({
              object: "list",
              data: result.vectors.map((vector, index) => ({
                object: "embedding",
                index,
                embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString("base64") : vector
              })),
              model: payload.model,
              usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens }
            })
          }).pipe(Effect.catch(asResponse())))
        .handle("models", () =>
          Effect.gen(function*() {
            const config = yield* store.get
            const created = Math.floor(state.startedAt / 1000)
            const seen = new Set<string>()
            const data: Array<{ id: string; object: "model"; created: number; owned_by: string }> = []
            const add = (id: string, owner: string) => {
              if (seen.has(id)) return
              seen.add(id)
              data.push({ id, object: "model", created, owned_by: owner })
            }
            for (const alias of Object.keys(config.models)) add(alias, "troupe")
            for (const alias of Object.keys(config.models)) {
              const resolved = yield* Effect.option(store.getModelConfig(alias))
              if (Option.isSome(resolved)) {
                add(`${resolved.value.provider}:${resolved.value.model}`, resolved.value.provider)
              }
            }
            return json({ object: "list", data })
          }))
    }))
