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
 *
 * Resolving all aliases is linear in their number (plus the length of the chains it returns): each walk keeps the
 * aliases it visited in a `Set`, and stops at the first alias already resolved, whose result it extends. It runs
 * under the store's writer lock on every commit, so validation also bounds the input: at most
 * {@link MAX_MODEL_ALIASES} (1,000) aliases (an issue at `models`) and chains of at most {@link MAX_ALIAS_CHAIN}
 * (32) aliases (an issue at `models.<alias>` for each alias whose chain is longer).
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

/** How many model aliases a configuration may define (validation reports more as an issue at `models`). */
export const MAX_MODEL_ALIASES = 1_000

/** How many aliases one chain may pass through, the requested one included (longer: an issue at the alias). */
export const MAX_ALIAS_CHAIN = 32

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

type Params = { readonly [K in ModelKind]: ModelParams }

// shared by every result without parameters (results are read-only; frozen so a stray write cannot leak across)
const NO_PARAMS: Params = Object.freeze({
  text: Object.freeze({}),
  object: Object.freeze({}),
  stream: Object.freeze({})
})

/** `inner` (the parameters of the rest of the chain) with `entry`'s own laid over them: the nearer alias wins. */
const withEntry = (inner: Params, entry: ModelAlias): Params => {
  if (typeof entry === "string") return inner
  const out: { [K in ModelKind]: ModelParams } = { text: {}, object: {}, stream: {} }
  for (const kind of ModelKinds) out[kind] = { ...inner[kind], ...entry.params, ...entry[kind] }
  return out
}

const mergeParams = (chainEntries: ReadonlyArray<ModelAlias>): Params =>
  // innermost alias first, so the alias nearest to the caller overrides
  chainEntries.reduceRight(withEntry, NO_PARAMS)

type Resolution = Result.Result<ResolvedModel, ModelLookupError>

/** The end of a chain: the spec it names, resolved (or why it does not resolve). */
const resolveSpec = (
  target: string,
  providers: ReadonlySet<string>,
  known: () => ReadonlyArray<string>
): Result.Result<{ readonly provider: string; readonly model: string }, ModelLookupError> =>
  target.includes(":")
    ? parseModelSpec(target, providers)
    : Result.fail(new UnknownModelAlias({ alias: sanitize(target), known: known() }))

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
  const visited = new Set<string>()
  const entries: Array<ModelAlias> = []
  let target = requested
  while (Object.hasOwn(aliases, target)) {
    if (visited.has(target)) return Result.fail(new ModelAliasCycle({ cycle: [...chain, target] }))
    const entry = aliases[target] as ModelAlias // hasOwn above guarantees presence
    chain.push(target)
    visited.add(target)
    entries.push(entry)
    target = targetOf(entry)
  }
  const parsed = resolveSpec(target, providers, () => Object.keys(aliases).sort())
  if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
  return Result.succeed({
    requested,
    chain,
    provider: parsed.success.provider,
    model: parsed.success.model,
    params: mergeParams(entries)
  })
}

/**
 * Resolves every alias of `aliases`, each exactly as `resolveModel` would, in one pass: a walk stops at an alias
 * already resolved and extends its result, so every alias is walked once.
 */
const resolveAll = (aliases: ModelAliases, providers: ReadonlySet<string>): Map<string, Resolution> => {
  const done = new Map<string, Resolution>()
  let sortedNames: ReadonlyArray<string> | undefined
  const known = () => (sortedNames ??= Object.keys(aliases).sort())
  /** `alias`'s result, given the result of the alias (or spec) it points to. */
  const extend = (alias: string, inner: Resolution): Resolution => {
    if (Result.isSuccess(inner)) {
      const entry = aliases[alias] as ModelAlias // `alias` is a key of `aliases`
      const { chain, model, params, provider } = inner.success
      return Result.succeed({
        requested: alias,
        chain: [alias, ...chain],
        provider,
        model,
        params: withEntry(params, entry)
      })
    }
    const error = inner.failure
    return error._tag === "ModelAliasCycle"
      ? Result.fail(new ModelAliasCycle({ cycle: [alias, ...error.cycle] }))
      : inner
  }
  for (const start of Object.keys(aliases)) {
    if (done.has(start)) continue
    const path: Array<string> = []
    const onPath = new Map<string, number>() // alias -> its index in `path`
    let target = start
    while (Object.hasOwn(aliases, target) && !done.has(target) && !onPath.has(target)) {
      onPath.set(target, path.length)
      path.push(target)
      target = targetOf(aliases[target] as ModelAlias) // hasOwn above
    }
    let rest = path.length // path[0 .. rest) still need a result
    let inner: Resolution | undefined = done.get(target)
    const cycleStart = onPath.get(target)
    if (cycleStart !== undefined) {
      // every alias on the cycle sees the cycle from itself: b in a -> b -> a reports b -> a -> b
      const loop = path.slice(cycleStart)
      loop.forEach((alias, i) => {
        done.set(alias, Result.fail(new ModelAliasCycle({ cycle: [...loop.slice(i), ...loop.slice(0, i), alias] })))
      })
      rest = cycleStart
      inner = done.get(target)
    }
    if (inner === undefined) {
      const spec = resolveSpec(target, providers, known)
      inner = Result.isFailure(spec)
        ? Result.fail(spec.failure)
        : Result.succeed({ requested: target, chain: [], ...spec.success, params: NO_PARAMS })
    }
    for (let i = rest - 1; i >= 0; i--) {
      const alias = path[i] as string // i < path.length
      inner = extend(alias, inner)
      done.set(alias, inner)
    }
  }
  return done
}

/** Resolves every alias once (called whenever the configuration changes); linear in the number of aliases. */
export const buildModelTable = (aliases: ModelAliases, providers: ReadonlySet<string>): ModelTable => {
  const table = new Map<string, Exit.Exit<ResolvedModel, ModelLookupError>>()
  const resolved = resolveAll(aliases, providers)
  for (const alias of Object.keys(aliases)) {
    const result = resolved.get(alias) as Resolution // resolveAll resolves every alias
    table.set(alias, Result.isSuccess(result) ? Exit.succeed(result.success) : Exit.fail(result.failure))
  }
  return table
}

/**
 * Validation messages (paths relative to the config root): one at `models` when there are more than
 * `MAX_MODEL_ALIASES` aliases (nothing is resolved then); otherwise one for every alias that does not resolve or
 * whose chain passes through more than `MAX_ALIAS_CHAIN` aliases.
 */
export const modelAliasIssues = (
  aliases: ModelAliases,
  providers: ReadonlySet<string>
): Array<{ readonly path: string; readonly message: string }> => {
  const names = Object.keys(aliases)
  if (names.length > MAX_MODEL_ALIASES) {
    return [{ path: "models", message: `at most ${MAX_MODEL_ALIASES} model aliases are allowed, got ${names.length}` }]
  }
  const resolved = resolveAll(aliases, providers)
  const issues: Array<{ readonly path: string; readonly message: string }> = []
  for (const alias of names.sort()) {
    const result = resolved.get(alias) as Resolution // resolveAll resolves every alias
    const entry = aliases[alias]
    const field = entry !== undefined && typeof entry !== "string" ? ".model" : ""
    if (Result.isFailure(result)) {
      issues.push({ path: `models.${alias}${field}`, message: result.failure.message })
    } else if (result.success.chain.length > MAX_ALIAS_CHAIN) {
      issues.push({
        path: `models.${alias}${field}`,
        message: `alias chain longer than ${MAX_ALIAS_CHAIN} aliases (${result.success.chain.length})`
      })
    }
  }
  return issues
}
