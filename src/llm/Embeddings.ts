/**
 * Embeddings: the request and answer of an embedding call, the OpenAI-compatible `/embeddings` wire (the one wire
 * format of the two that has them; Anthropic has no embeddings endpoint), and the scripted provider's deterministic
 * vectors.
 *
 * Wire: `POST {baseUrl}/embeddings` with `{ model, input: string[], encoding_format: "float", dimensions? }`,
 * answered `{ data: [{ index, embedding }], model, usage: { prompt_tokens, total_tokens } }`; vectors are put back
 * in input order by `index`; usage counts are non-negative safe integers or the answer is a `MalformedResponse` (the
 * chat wires' rule), and a missing `prompt_tokens` is estimated and the usage marked `estimated`. Scripted vectors are a function of the text only (a seeded xorshift over an FNV-1a
 * hash, L2-normalised), so the same text always embeds to the same vector, offline. Hand-rolled: effect/ai's
 * `EmbeddingModel` is provider-side and not wired to troupe's pipeline.
 */
import { Effect, Exit, Schema } from "effect"
import { MalformedResponse, type ProviderError } from "./LlmError.ts"
import { TokenCount, type Usage, usageFrom } from "./LlmResponse.ts"
import { malformedFrom } from "./ProviderErrorMapping.ts"
import { estimateTokens } from "./TokenEstimate.ts"

/** One embedding call: `model` is the provider's model name. */
export const EmbedRequest = Schema.Struct({
  model: Schema.String.check(Schema.isMinLength(1)),
  input: Schema.NonEmptyArray(Schema.String.check(Schema.isMaxLength(1_000_000))).check(Schema.isMaxLength(2048)),
  dimensions: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 8192 })))
})
export type EmbedRequest = typeof EmbedRequest.Type

/** The vectors, in input order. */
export interface EmbedResponse {
  readonly provider: string
  readonly model: string
  readonly embeddings: ReadonlyArray<ReadonlyArray<number>>
  /** `outputTokens` is 0 */
  readonly usage: Usage
}

/** The `/embeddings` request body. */
export const encodeEmbeddingsBody = (request: EmbedRequest): Record<string, unknown> => ({
  model: request.model,
  input: request.input,
  encoding_format: "float",
  ...(request.dimensions !== undefined ? { dimensions: request.dimensions } : {})
})

const EmbeddingsWire = Schema.Struct({
  data: Schema.Array(Schema.Struct({ index: Schema.Int, embedding: Schema.Array(Schema.Finite) })),
  model: Schema.optional(Schema.NullOr(Schema.String)),
  // a hostile count fails the decode (typed), never a cost: the chat wires' rule
  usage: Schema.optional(Schema.NullOr(Schema.Struct({
    prompt_tokens: Schema.optional(Schema.NullOr(TokenCount)),
    total_tokens: Schema.optional(Schema.NullOr(TokenCount))
  })))
})
const decodeWire = Schema.decodeUnknownExit(EmbeddingsWire)

/**
 * Decodes an `/embeddings` answer; a missing or duplicated index is a `MalformedResponse`. Fails with `ProviderError`,
 * always as `MalformedResponse`: when `json` is not `{ data: [{ index, embedding }] }` with integer indexes and finite
 * numbers, when a usage count is not a non-negative safe integer, or when some input has no vector (an index missing,
 * out of range or only duplicated). Usage: `prompt_tokens` as the input and `total_tokens` as the total; without
 * `prompt_tokens` the input is estimated and the usage marked `estimated`, as on the chat wires.
 */
export const decodeEmbeddingsResponse = (
  provider: string,
  request: EmbedRequest,
  json: unknown
): Effect.Effect<EmbedResponse, ProviderError> => {
  const exit = decodeWire(json)
  if (Exit.isFailure(exit)) return Effect.fail(malformedFrom(provider, "unexpected embeddings answer", exit))
  const wire = exit.value
  const vectors: Array<ReadonlyArray<number> | undefined> = Array.from({ length: request.input.length })
  for (const item of wire.data) {
    if (item.index >= 0 && item.index < vectors.length && vectors[item.index] === undefined) {
      vectors[item.index] = item.embedding
    }
  }
  if (vectors.some((v) => v === undefined)) {
    return Effect.fail(
      new MalformedResponse({
        provider,
        description: "embeddings answer without one vector per input",
        retryable: false
      })
    )
  }
  const input = wire.usage?.prompt_tokens ?? undefined
  return Effect.succeed({
    provider,
    model: wire.model ?? request.model,
    // no entry is undefined (checked above)
    embeddings: vectors as ReadonlyArray<ReadonlyArray<number>>,
    usage: usageFrom({
      inputTokens: input ?? request.input.reduce((n, s) => n + estimateTokens(s), 0),
      outputTokens: 0,
      totalTokens: input !== undefined ? wire.usage?.total_tokens ?? undefined : undefined,
      estimated: input === undefined
    })
  })
}

/** Default dimensions of scripted vectors. */
export const SCRIPTED_DIMENSIONS = 64

/** A deterministic unit vector for `text` (the scripted provider's embedding). */
export const scriptedEmbedding = (text: string, dimensions = SCRIPTED_DIMENSIONS): ReadonlyArray<number> => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  let x = h === 0 ? 0x9e3779b9 : h
  const out: Array<number> = []
  let norm = 0
  for (let i = 0; i < dimensions; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    const v = x / 0xffffffff - 0.5
    out.push(v)
    norm += v * v
  }
  const scale = norm === 0 ? 1 : 1 / Math.sqrt(norm)
  return out.map((v) => v * scale)
}
