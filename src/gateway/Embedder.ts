/**
 * `Embedder`: the service behind `POST /v1/embeddings`.
 *
 * troupe's `Llm` pipeline has no embedding call yet, so the gateway ships one backend: `Embedder.layerScripted`,
 * deterministic offline vectors (feature hashing of lower-cased word unigrams and character trigrams into
 * `dimensions` buckets, default 256, L2-normalised), so the same text always gets the same vector and similar texts
 * get close vectors — what tests and the embedded defaults need. The model name is resolved through the
 * ConfigStore's aliases (an unknown model is a 404). A user with a real embedding API provides their own
 * `Embedder` layer. Usage counts ~4 characters per token, as the scripted chat model does.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { ConfigStore } from "../config/index.ts"
import type { GatewayHttpError } from "./GatewayError.ts"
import { fromFailure } from "./GatewayError.ts"

export interface EmbeddingResult {
  readonly model: string
  readonly vectors: ReadonlyArray<ReadonlyArray<number>>
  readonly promptTokens: number
}

export interface EmbedderShape {
  /** Embeds `inputs`; fails with a 404 for an unknown model. */
  readonly embed: (
    model: string,
    inputs: ReadonlyArray<string>,
    options?: { readonly dimensions?: number | undefined }
  ) => Effect.Effect<EmbeddingResult, GatewayHttpError>
}

export class Embedder extends Context.Service<Embedder, EmbedderShape>()("troupe/gateway/Embedder") {
  /** Deterministic offline vectors, models resolved through the ConfigStore. */
  static readonly layerScripted: Layer.Layer<Embedder, never, ConfigStore> = Layer.effect(
    Embedder,
    Effect.map(ConfigStore, (store) =>
      Embedder.of({
        embed: (model, inputs, options) =>
          store.getModelConfig(model).pipe(
            Effect.mapError(fromFailure),
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
