/**
 * `ResponseCache`: a cache of LLM responses over a `Cache`, keyed by what determines the answer.
 *
 * The key is a SHA-256 over the canonical JSON of the request (`ResponseKey.ts`): provider, model and model
 * version, system prompt, messages, tools and sampling parameters, with optional whitespace normalisation.
 * `cached(request, call)` answers from the cache or runs `call` once for concurrent identical requests
 * (`getOrCompute` single-flight); `bypass` skips the cache for one request, `refresh` recomputes and stores
 * (unless the key was deleted or cleared meanwhile, as `getOrCompute` does: `Cache.mark` / `put(…, { since })`);
 * `invalidateModel(model)` drops every response of a model (e.g. after a model-version change); `warm` stores
 * known responses and `preload` computes the missing ones. Hits add the response's token count (`tokensOf`) to
 * the cache's `tokensSaved`. The responses live in the cache's namespace `llm` (configurable), so a namespace TTL
 * set on the underlying cache (`namespaces: { llm: { ttl: "1 day" } }`) applies to them.
 *
 * Peers: the semantic of OpenAI/Anthropic prompt caching is server-side and prefix-based; this is the exact-match
 * client-side response cache of LangChain's `InMemoryCache`/`RedisCache` and LiteLLM's cache, with typed
 * inputs and single-flight.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Option } from "effect"
import { Cache } from "./Cache.ts"
import type { CacheKeyTooLarge, CachePutError, InvalidCacheOptions } from "./CacheError.ts"
import { InvalidResponseRequest } from "./CacheError.ts"
import type { CacheShape } from "./CacheShape.ts"
import type { CacheStats } from "./CacheStats.ts"
import type { ResponseKeyInput } from "./ResponseKey.ts"
import { makeResponseKey, modelPrefix } from "./ResponseKey.ts"

/** Options of a response cache. */
export interface ResponseCacheOptions<A> {
  /** Key namespace of the responses in the underlying cache. Default `"llm"`. */
  readonly namespace?: string
  /** Collapse whitespace in prompts before keying. Default `false`. */
  readonly normalizeWhitespace?: boolean
  /** TTL of responses (else the namespace TTL or default TTL of the underlying cache). */
  readonly ttl?: Duration.Input
  /** Tokens a cache hit on `response` saves (e.g. its prompt + completion token usage). */
  readonly tokensOf?: (response: A) => number
}

/** Per-request options of `cached`. */
export interface CachedCallOptions {
  /** Skip the cache entirely for this request (no lookup, no store). */
  readonly bypass?: boolean
  /** Skip the lookup but store the fresh response. */
  readonly refresh?: boolean
  readonly ttl?: Duration.Input
}

/** Errors of keying a request. */
export type ResponseKeyError = InvalidResponseRequest | CacheKeyTooLarge | InvalidCacheOptions

/** The response cache operations, for responses of type `A`. */
export interface ResponseCacheShape<A> {
  /**
   * The cache key of `request` (decoded with `ResponseKeyInput`). Fails with `InvalidResponseRequest` naming the
   * path when the request does not decode, or when it is nested deeper than `MAX_CANONICAL_DEPTH`.
   */
  readonly keyOf: (request: ResponseKeyInput) => Effect.Effect<string, InvalidResponseRequest>
  /**
   * The cached response for `request`, or `call`'s (stored; concurrent identical requests call once). Fails with
   * `InvalidResponseRequest` when the request does not decode (also under `bypass`); with `call`'s `E` when it
   * fails (or its cached failure is within the cache's `failureTtl`); with `CacheKeyTooLarge` when the key
   * (namespace, URI-encoded model and hash) is longer than the cache's `maxKeyBytes`; with `InvalidCacheOptions`
   * when the call's or the response cache's `ttl` is not a positive duration. Under `bypass` no cache error
   * happens; under `refresh` a store failure is logged, not returned.
   */
  readonly cached: <E, R>(
    request: ResponseKeyInput,
    call: Effect.Effect<A, E, R>,
    options?: CachedCallOptions
  ) => Effect.Effect<A, E | ResponseKeyError, R>
  /**
   * The cached response for `request`, if any. Fails with `InvalidResponseRequest` when the request does not
   * decode; with `CacheKeyTooLarge` when its key is longer than the cache's `maxKeyBytes`. `InvalidCacheOptions`
   * (of `ResponseKeyError`) never happens here: the key is always a string.
   */
  readonly lookup: (request: ResponseKeyInput) => Effect.Effect<Option.Option<A>, ResponseKeyError>
  /**
   * Drops every cached response of `model` (all providers, versions and prompts). The declared
   * `InvalidCacheOptions` never happens: the clear is by prefix alone, which the cache always accepts.
   */
  readonly invalidateModel: (model: string) => Effect.Effect<void, InvalidCacheOptions>
  /**
   * Stores known responses (warming); returns how many were stored. Stops at the first failure, the entries
   * before it staying stored: `InvalidResponseRequest` when a request does not decode; `CachePutError` when the
   * cache refuses the entry (`CacheKeyTooLarge` for a key over `maxKeyBytes`, `CacheValueTooLarge` for a
   * response over `maxValueBytes` / `maxBytes`, `CacheValueEncodingError` when the Redis tier cannot encode it,
   * `InvalidCacheOptions` when the entry's or the default `ttl` is not a positive duration or `tokensOf` returns
   * anything but a finite number >= 0).
   */
  readonly warm: (
    entries: Iterable<{ readonly request: ResponseKeyInput; readonly response: A; readonly ttl?: Duration.Input }>
  ) => Effect.Effect<number, InvalidResponseRequest | CachePutError>
  /**
   * Computes and stores the responses of the requests not cached yet; returns how many were computed. Stops at
   * the first failure: `InvalidResponseRequest` when a request does not decode; `CacheKeyTooLarge` when a key is
   * longer than the cache's `maxKeyBytes`; `InvalidCacheOptions` when the response cache's `ttl` is not a
   * positive duration; `call`'s `E` when it fails for a request.
   */
  readonly preload: <E, R>(
    requests: Iterable<ResponseKeyInput>,
    call: (request: ResponseKeyInput) => Effect.Effect<A, E, R>,
    options?: { readonly concurrency?: number }
  ) => Effect.Effect<number, E | ResponseKeyError, R>
  /** The underlying cache's statistics. */
  readonly stats: () => Effect.Effect<CacheStats>
}

/**
 * Builds a response cache over `cache`. Fails with `InvalidResponseRequest` (path `namespace`) when
 * `options.namespace` is empty or contains `:`.
 *
 * @example
 * ```ts
 * const responses = yield* ResponseCache.make(yield* Cache, { tokensOf: (r: Reply) => r.usage.totalTokens })
 * const reply = yield* responses.cached({ provider: "openai", model: "gpt-4o", messages }, callModel)
 * ```
 */
export const make = <A>(
  cache: CacheShape<A>,
  options: ResponseCacheOptions<A> = {}
): Effect.Effect<ResponseCacheShape<A>, InvalidResponseRequest> =>
  Effect.gen(function*() {
    const namespace = options.namespace ?? "llm"
    if (!/^[^:]+$/.test(namespace)) {
      return yield* InvalidResponseRequest.at("namespace", "expected a non-empty name without ':'")
    }
    const keyOptions = { namespace, normalize: options.normalizeWhitespace ?? false }
    const keyOf = (request: ResponseKeyInput) => makeResponseKey(request, keyOptions)
    const ttlOf = (ttl: Duration.Input | undefined) => ttl ?? options.ttl
    const tokensOf = options.tokensOf

    const cached = <E, R>(
      request: ResponseKeyInput,
      call: Effect.Effect<A, E, R>,
      callOptions?: CachedCallOptions
    ): Effect.Effect<A, E | ResponseKeyError, R> =>
      Effect.gen(function*() {
        const key = yield* keyOf(request)
        if (callOptions?.bypass === true) return yield* call
        const ttl = ttlOf(callOptions?.ttl)
        const computeOptions = {
          ...(ttl !== undefined ? { ttl } : {}),
          ...(tokensOf !== undefined ? { tokens: tokensOf } : {})
        }
        if (callOptions?.refresh === true) {
          const since = cache.mark() // a response computed across an invalidation of its key is not stored
          const response = yield* call
          const tokens = tokensOf?.(response)
          yield* cache.put(key, response, {
            since,
            ...(ttl !== undefined ? { ttl } : {}),
            ...(tokens !== undefined ? { tokens } : {})
          }).pipe(
            Effect.catch((error) => Effect.logDebug("response cache: refreshed response not cached", error))
          )
          return response
        }
        return yield* cache.getOrCompute(key, call, computeOptions)
      })

    return {
      keyOf,
      cached,
      lookup: (request) => Effect.flatMap(keyOf(request), (key) => cache.get(key)),
      invalidateModel: (model) => cache.clear({ prefix: modelPrefix(model, namespace) }),
      warm: (entries) =>
        Effect.gen(function*() {
          let stored = 0
          for (const { request, response, ttl } of entries) {
            const key = yield* keyOf(request)
            const t = ttlOf(ttl)
            const tokens = tokensOf?.(response)
            yield* cache.put(key, response, {
              ...(t !== undefined ? { ttl: t } : {}),
              ...(tokens !== undefined ? { tokens } : {})
            })
            stored++
          }
          return stored
        }),
      preload: (requests, call, preloadOptions) =>
        Effect.gen(function*() {
          let computed = 0
          yield* Effect.forEach(
            Array.from(requests),
            (request) =>
              Effect.gen(function*() {
                const key = yield* keyOf(request)
                if (yield* cache.has(key)) return
                computed++
                yield* cached(request, call(request))
              }),
            { concurrency: preloadOptions?.concurrency ?? 4, discard: true }
          )
          return computed
        }),
      stats: () => cache.stats()
    }
  })

/** The response cache service (responses typed `unknown`), built over the `Cache` service. */
export class ResponseCache
  extends Context.Service<ResponseCache, ResponseCacheShape<unknown>>()("troupe/ResponseCache")
{
  /**
   * Requires `Cache` (e.g. `Cache.layerMemory(...)` or `Cache.layerTiered(...)`). Building fails with
   * `InvalidResponseRequest` (path `namespace`) when `options.namespace` is empty or contains `:`.
   */
  static readonly layer = (
    options?: ResponseCacheOptions<unknown>
  ): Layer.Layer<ResponseCache, InvalidResponseRequest, Cache> =>
    Layer.effect(ResponseCache, Cache.use((cache) => make(cache, options)))
}
