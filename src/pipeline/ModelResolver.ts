/**
 * `ModelResolver`, the pipeline's first step: turns the alias or `provider:model` spec a call names into a `Target`
 * (provider, model, default parameters for the call's kind).
 *
 * - `ModelResolver.layer` resolves through the `ConfigStore` (`getModelConfig`: alias chains, cycle detection,
 *   parameters merged along the chain, unknown providers rejected), so a config change re-routes the next call.
 * - `ModelResolver.layerSpecs` needs no configuration: only `provider:model` specs, no default parameters (the
 *   `ProviderRegistry` then decides whether the provider exists).
 *
 * Targets are cached: for an alias by the identity of the `ResolvedModel` the store precomputes per configuration
 * version (so a change yields new targets), for a spec by the spec (it determines the target) in an LRU table of
 * `MAX_CACHED_SPECS` (1,024) entries — any `provider:<anything>` of a configured provider resolves (troupe bounds
 * these tables rather than rejecting models it has no list of), so a caller naming endless models cannot grow it. Mirrors LiteLLM's
 * `model_list` / router aliases and Portkey's virtual models; the resolution itself is `src/config`'s.
 *
 * @since 0.1.0
 */
import { Context, Effect, Exit, Layer } from "effect"
import type { ModelLookupError, ModelParams, ResolvedModel } from "../config/index.ts"
import { ConfigStore, InvalidModelSpec } from "../config/index.ts"
import { LruMap } from "../internal/LruMap.ts"
import type { CallKind, Target } from "./Target.ts"

/** The service interface. */
export interface ModelResolverShape {
  /**
   * The target of an alias or `provider:model` spec, for a call of `kind`. Fails with `ModelLookupError`:
   * `UnknownModelAlias` when the name is neither a configured alias nor a spec, `ModelAliasCycle` when its alias chain
   * loops, `UnknownProvider` when it resolves to a provider that is not configured, `InvalidModelSpec` when a spec has
   * an empty provider or model part (with `layerSpecs`, any name without `provider:` is one).
   */
  readonly resolve: (aliasOrSpec: string, kind: CallKind) => Effect.Effect<Target, ModelLookupError>
}

const noDefaults: ModelParams = {}

/** How many direct `provider:model` specs keep a cached target (least recently used evicted past it). */
export const MAX_CACHED_SPECS = 1024

const targetOf = (requested: string, provider: string, model: string, defaults: ModelParams): Target => ({
  provider,
  route: provider,
  model,
  spec: `${provider}:${model}`,
  requested,
  defaults
})

const fromStore = Effect.gen(function*() {
  const store = yield* ConfigStore
  const byResolved = new WeakMap<ResolvedModel, { readonly text: Target; readonly stream: Target }>()
  // bounded: any `provider:<model>` of a configured provider resolves, so direct specs are an LRU table
  const bySpec = new LruMap<string, Target>(MAX_CACHED_SPECS)
  const compile = (resolved: ResolvedModel, kind: CallKind): Target => {
    if (resolved.chain.length === 0) {
      // a direct spec: the string determines the target (the store checked the provider exists)
      let target = bySpec.get(resolved.requested)
      if (target === undefined) {
        target = targetOf(resolved.requested, resolved.provider, resolved.model, noDefaults)
        bySpec.set(resolved.requested, target)
      }
      return target
    }
    let pair = byResolved.get(resolved)
    if (pair === undefined) {
      pair = {
        text: targetOf(resolved.requested, resolved.provider, resolved.model, resolved.params.text),
        stream: targetOf(resolved.requested, resolved.provider, resolved.model, resolved.params.stream)
      }
      byResolved.set(resolved, pair)
    }
    return kind === "text" ? pair.text : pair.stream
  }
  return ModelResolver.of({
    resolve: (aliasOrSpec, kind) => Effect.map(store.getModelConfig(aliasOrSpec), (resolved) => compile(resolved, kind))
  })
})

const specsOnly = (): ModelResolverShape => {
  const cache = new LruMap<string, Exit.Exit<Target, ModelLookupError>>(MAX_CACHED_SPECS)
  return {
    resolve: (spec) => {
      const hit = cache.get(spec)
      if (hit !== undefined) return hit
      const colon = spec.indexOf(":")
      const exit: Exit.Exit<Target, ModelLookupError> = colon <= 0 || colon === spec.length - 1
        ? Exit.fail(InvalidModelSpec.of(spec, `expected "provider:model" (no ConfigStore resolves aliases here)`))
        : Exit.succeed(targetOf(spec, spec.slice(0, colon), spec.slice(colon + 1), noDefaults))
      cache.set(spec, exit)
      return exit
    }
  }
}

/**
 * Resolves the model a call names.
 *
 * @example
 * ```ts
 * const target = yield* ModelResolver.use((r) => r.resolve("fast", "text")) // { provider: "openai", model: "gpt-4o-mini", ... }
 * ```
 */
export class ModelResolver
  extends Context.Service<ModelResolver, ModelResolverShape>()("troupe/pipeline/ModelResolver")
{
  /** Resolution through the `ConfigStore` (aliases, chains, default parameters). */
  static readonly layer: Layer.Layer<ModelResolver, never, ConfigStore> = Layer.effect(ModelResolver, fromStore)
  /** `provider:model` specs only, no configuration. */
  static readonly layerSpecs: Layer.Layer<ModelResolver> = Layer.sync(ModelResolver, specsOnly)
}
