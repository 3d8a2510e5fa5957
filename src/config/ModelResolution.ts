/**
 * Resolving model aliases to `provider:model` plus merged default parameters, and the precomputed alias table.
 *
 * `resolveModel` follows an alias chain (`fast -> quick -> groq:llama-3.1-8b-instant`), detects cycles (the error
 * carries the whole path, e.g. `a -> b -> a`), rejects unknown aliases with the list of known ones and specs whose
 * provider is not configured. Parameters merge from the innermost alias outwards, so the alias the caller named
 * wins; within one alias, per-kind parameters (`text`, `object`, `stream`) override the shared `params`.
 *
 * `buildModelTable` resolves every alias once, when the configuration changes, into a `Map` of ready-made `Exit`
 * values, so the hot path (`getModelConfig("fast")`) is one `Map.get` and no allocation. Hand-rolled (Effect has no
 * alias-resolution facility); results are Effect `Exit`s so they can be yielded directly.
 */
import { Exit, Result } from "effect"
import { sanitize } from "../llm/internal/SecretScrub.ts"
import type { ModelLookupError } from "./ConfigError.ts"
import { InvalidModelSpec, ModelAliasCycle, UnknownModelAlias, UnknownProvider } from "./ConfigError.ts"
import type { ModelAlias, ModelKind, ModelParams, ResolvedModel } from "./ModelConfig.ts"
import { ModelKinds } from "./ModelConfig.ts"

/** Aliases by name. */
export type ModelAliases = { readonly [alias: string]: ModelAlias }

/** Every alias resolved in advance. */
export type ModelTable = ReadonlyMap<string, Exit.Exit<ResolvedModel, ModelLookupError>>

const targetOf = (entry: ModelAlias): string => typeof entry === "string" ? entry : entry.model

/** Splits `provider:model` at the first `:` (model ids may contain `:`, e.g. `ollama:llama3:8b`). */
export const parseModelSpec = (
  spec: string,
  providers: ReadonlySet<string>
): Result.Result<{ readonly provider: string; readonly model: string }, InvalidModelSpec | UnknownProvider> => {
  const colon = spec.indexOf(":")
  const provider = spec.slice(0, colon)
  const model = spec.slice(colon + 1)
  if (colon < 0 || provider === "" || model === "") {
    return Result.fail(InvalidModelSpec.of(sanitize(spec), `expected "provider:model"`))
  }
  if (!providers.has(provider)) {
    return Result.fail(new UnknownProvider({ provider: sanitize(provider), known: [...providers].sort() }))
  }
  return Result.succeed({ provider, model })
}

const mergeParams = (chainEntries: ReadonlyArray<ModelAlias>): { [K in ModelKind]: ModelParams } => {
  const out: { [K in ModelKind]: ModelParams } = { text: {}, object: {}, stream: {} }
  // innermost alias first, so the alias nearest to the caller overrides
  for (let i = chainEntries.length - 1; i >= 0; i--) {
    const entry = chainEntries[i]
    if (entry === undefined || typeof entry === "string") continue
    for (const kind of ModelKinds) out[kind] = { ...out[kind], ...entry.params, ...entry[kind] }
  }
  return out
}

/**
 * Resolves an alias or a `provider:model` spec against `aliases`, checking that the provider is one of `providers`.
 *
 * @example
 * ```ts
 * resolveModel({ fast: "quick", quick: "groq:llama-3.1-8b-instant" }, new Set(["groq"]), "fast")
 * // Success: { chain: ["fast", "quick"], provider: "groq", model: "llama-3.1-8b-instant", ... }
 * ```
 */
export const resolveModel = (
  aliases: ModelAliases,
  providers: ReadonlySet<string>,
  requested: string
): Result.Result<ResolvedModel, ModelLookupError> => {
  const chain: Array<string> = []
  const entries: Array<ModelAlias> = []
  let target = requested
  while (Object.hasOwn(aliases, target)) {
    if (chain.includes(target)) return Result.fail(new ModelAliasCycle({ cycle: [...chain, target] }))
    const entry = aliases[target] as ModelAlias // hasOwn above guarantees presence
    chain.push(target)
    entries.push(entry)
    target = targetOf(entry)
  }
  if (!target.includes(":")) {
    return Result.fail(new UnknownModelAlias({ alias: sanitize(target), known: Object.keys(aliases).sort() }))
  }
  const parsed = parseModelSpec(target, providers)
  if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
  return Result.succeed({
    requested,
    chain,
    provider: parsed.success.provider,
    model: parsed.success.model,
    params: mergeParams(entries)
  })
}

/** Resolves every alias once (called whenever the configuration changes). */
export const buildModelTable = (aliases: ModelAliases, providers: ReadonlySet<string>): ModelTable => {
  const table = new Map<string, Exit.Exit<ResolvedModel, ModelLookupError>>()
  for (const alias of Object.keys(aliases)) {
    const result = resolveModel(aliases, providers, alias)
    table.set(alias, Result.isSuccess(result) ? Exit.succeed(result.success) : Exit.fail(result.failure))
  }
  return table
}

/** Validation messages for every alias that does not resolve (paths relative to the config root). */
export const modelAliasIssues = (
  aliases: ModelAliases,
  providers: ReadonlySet<string>
): Array<{ readonly path: string; readonly message: string }> => {
  const issues: Array<{ readonly path: string; readonly message: string }> = []
  for (const alias of Object.keys(aliases).sort()) {
    const result = resolveModel(aliases, providers, alias)
    if (Result.isFailure(result)) {
      const entry = aliases[alias]
      const field = entry !== undefined && typeof entry !== "string" ? ".model" : ""
      issues.push({ path: `models.${alias}${field}`, message: result.failure.message })
    }
  }
  return issues
}
