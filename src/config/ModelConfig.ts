/**
 * Model aliases: the Schema of `models.<alias>` entries and of the resolved result.
 *
 * An alias (`fast`, `capable`, `reasoning`, `embedding`, or any user-defined name) points either at a
 * `provider:model` spec (`"openai:gpt-4o-mini"`, `"ollama:llama3:8b"` — the provider is everything before the
 * first `:`), at another alias (`"fast": "quick"`), or is an object with a `model` target plus default call
 * parameters (temperature, maxTokens, topP, timeout), shared (`params`) and per call kind (`text`, `object`,
 * `stream`). Resolution (see `ModelResolution.ts`) follows alias chains and merges parameters, the alias nearest
 * to the caller winning.
 *
 * Plain `Schema` definitions; nothing hand-rolled.
 */
import { Schema } from "effect"

/** Default parameters for a model call. All optional; absent means "the provider's default". */
export const ModelParams = Schema.Struct({
  temperature: Schema.optionalKey(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 2 }))),
  maxTokens: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000_000 }))),
  topP: Schema.optionalKey(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))),
  /** Per-call timeout in ms (overrides the provider's `timeout`). */
  timeout: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 600_000 })))
})
export type ModelParams = typeof ModelParams.Type

/** The call kinds that can carry their own default parameters. */
export const ModelKinds = ["text", "object", "stream"] as const
/** A call kind that can carry its own default parameters: text, object or stream. */
export type ModelKind = typeof ModelKinds[number]

/** A model target: a `provider:model` spec or another alias name. */
export const ModelTarget = Schema.String.check(Schema.isMinLength(1))

/** The object form of an alias: a target plus default parameters, shared and per kind. */
export const ModelAliasObject = Schema.Struct({
  model: ModelTarget,
  params: Schema.optionalKey(ModelParams),
  text: Schema.optionalKey(ModelParams),
  object: Schema.optionalKey(ModelParams),
  stream: Schema.optionalKey(ModelParams)
})
export type ModelAliasObject = typeof ModelAliasObject.Type

/** One `models.<alias>` entry: a target string or the object form. */
export const ModelAlias = Schema.Union([ModelTarget, ModelAliasObject])
export type ModelAlias = typeof ModelAlias.Type

/** Alias names: no `:` (that would make them ambiguous with `provider:model` specs). */
export const AliasName = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_.-]+$/))

/** What `getModelConfig` returns. */
export interface ResolvedModel {
  /** What was asked for: an alias or a `provider:model` spec. */
  readonly requested: string
  /** The aliases followed, in order (empty for a direct spec). */
  readonly chain: ReadonlyArray<string>
  readonly provider: string
  readonly model: string
  /** Default parameters per call kind, already merged along the chain. */
  readonly params: { readonly [K in ModelKind]: ModelParams }
}
