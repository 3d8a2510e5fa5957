/**
 * `Embedder`: the service behind `POST /v1/embeddings`.
 *
 * Two backends:
 * - `Embedder.layer` (the gateway's default): `Llm.embed`, so embeddings go through the same pipeline as chat —
 *   aliases, rate limits, circuit breaker, retries, cost — to the provider's `/embeddings` wire (the scripted
 *   provider's deterministic vectors under the embedded defaults). Its failures map onto HTTP statuses like chat's
 *   (`fromFailure`: an unknown model is a 404, a rate limit a 429, an open breaker a 503); a provider whose wire has
 *   no embeddings (Anthropic) is a 400 `embeddings_unsupported`.
 * - `Embedder.layerScripted`: deterministic offline vectors without the pipeline (feature hashing of lower-cased word
 *   unigrams and character trigrams into `dimensions` buckets, default 256, L2-normalised), so the same text always
 *   gets the same vector and similar texts get close vectors; the model name is resolved through the ConfigStore's
 *   aliases (an unknown model is a 404). Usage counts ~4 characters per token, as the scripted chat model does.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { ConfigStore } from "../config/index.ts"
import { Llm } from "../pipeline/index.ts"
import type { GatewayHttpError } from "./GatewayError.ts"
import { toHttpError } from "./GatewayError.ts"

/** Fails with the failure mapped by `fromFailure` (`toHttpError`: the cause of a 500 is logged). */
const failMapped = (failure: unknown): Effect.Effect<never, GatewayHttpError> =>
  Effect.flatMap(toHttpError(failure), Effect.fail)

/** The vectors of one embeddings request, in input order, with the model that made them and the prompt tokens. */
export interface EmbeddingResult {
  readonly model: string
  readonly vectors: ReadonlyArray<ReadonlyArray<number>>
  readonly promptTokens: number
}

/** What `POST /v1/embeddings` calls. */
export interface EmbedderShape {
  /**
   * Embeds `inputs`; fails with the HTTP error of the failure (a 404 for an unknown model, see the module doc).
   * Fails with `GatewayHttpError`, the pipeline failure mapped by `fromFailure`: 404 `model_not_found` when the
   * model is no alias, spec or configured provider; 400 `embeddings_unsupported` when the provider's wire has no
   * embeddings, 400 `invalid_value` for a request `Llm` rejects; 429 on a rate limit, 402 on an exhausted budget,
   * 503 when the circuit breaker is open or a store is down, 502/504 when the provider fails or times out. The
   * scripted backend fails only with the 404, for a model the ConfigStore does not resolve.
   */
  readonly embed: (
    model: string,
    inputs: ReadonlyArray<string>,
    options?: { readonly dimensions?: number | undefined }
  ) => Effect.Effect<EmbeddingResult, GatewayHttpError>
}

/** The gateway's embeddings backend (default: the pipeline's `Llm.embed`). */
export class Embedder extends Context.Service<Embedder, EmbedderShape>()("troupe/gateway/Embedder") {
  /** `Llm.embed`: the pipeline's embeddings (the gateway's default). */
  static readonly layer: Layer.Layer<Embedder, never, Llm> = Layer.effect(
    Embedder,
    Effect.map(Llm, (llm) =>
      Embedder.of({
        embed: (model, inputs, options) =>
          llm.embed({
            model,
            input: inputs,
            ...(options?.dimensions !== undefined ? { dimensions: options.dimensions } : {})
          }).pipe(
            Effect.catch(failMapped),
            Effect.map((result) => ({
              model: `${result.provider}:${result.model}`,
              vectors: result.embeddings,
              promptTokens: result.usage.inputTokens
            }))
          )
      }))
  )
  /** Deterministic offline vectors, models resolved through the ConfigStore. */
  static readonly layerScripted: Layer.Layer<Embedder, never, ConfigStore> = Layer.effect(
    Embedder,
    Effect.map(ConfigStore, (store) =>
      Embedder.of({
        embed: (model, inputs, options) =>
          store.getModelConfig(model).pipe(
            Effect.catch(failMapped),
            Effect.map((resolved) => ({
              model: `${resolved.provider}:${resolved.model}`,
              vectors: inputs.map((text) => hashEmbedding(text, options?.dimensions ?? 256)),
              promptTokens: inputs.reduce((n, text) => n + Math.ceil(text.length / 4), 0)
            }))
          )
      }))
  )
}

const fnv1a = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The deterministic vector of `text`. */
export const hashEmbedding = (text: string, dimensions: number): ReadonlyArray<number> => {
  const v = new Float64Array(dimensions)
  const lower = text.toLowerCase()
  const add = (feature: string, weight: number) => {
    const h = fnv1a(feature)
    v[h % dimensions]! += (h & 0x80000000) === 0 ? weight : -weight
  }
  for (const word of lower.split(/[^\p{L}\p{N}]+/u)) if (word !== "") add(`w:${word}`, 1)
  for (let i = 0; i + 3 <= lower.length; i++) add(`c:${lower.slice(i, i + 3)}`, 0.5)
  let norm = 0
  for (const x of v) norm += x * x
  norm = Math.sqrt(norm)
  return Array.from(v, (x) => norm === 0 ? 0 : Math.round((x / norm) * 1e6) / 1e6)
}
