/**
 * `ResponseCacheStep`: answers repeated calls from troupe's `Cache` without touching the rate limiter or the provider.
 *
 * The key is the response cache's (`src/cache/ResponseKey.ts`): `<namespace>:<model>:<sha256>` over the canonical
 * JSON of the resolved provider and model (of the first target, so re-pointing an alias misses), the messages,
 * tools, tool choice, the merged sampling parameters and the response format; a call with a tenant or its own
 * `apiKey` is scoped: the tenant and the credential's identity (a SHA-256 of the key, never the key) are hashed
 * with that request hash as a separate component (`internal/KeyScope.ts`), which no request content can forge.
 * Tenants never share an entry, and a caller with another key — or a wrong one — never gets an answer cached under
 * the server's key or anyone else's. A call whose params carry the names the scope was once keyed under
 * (`troupe.tenant`, `troupe.credential`) is not cached. An unscoped call's key is exactly `ResponseCache`'s for the
 * same fields (a call without params is keyed without params, as `ResponseCache` keys a request without them), and
 * `ResponseCache.invalidateModel(model)` over the same `Cache` drops every entry of this step (the model prefix is
 * the same) — also an answer still being computed: one whose key was deleted or cleared while it was computed (or
 * streamed) is returned but not stored (`Cache.mark` / `put(…, { since })`, as `getOrCompute` does). A scripted
 * stand-in answers under the provider name `scripted` (see `ProviderRegistry`), so its answers never share a key
 * with the real provider's.
 *
 * **Cached answers are erasable per subject**: with a `SubjectIndex` in the layer's context, each entry stored or
 * served for a call made for a subject (`options.tenant` and `options.subject`; the gateway sets both for an issued
 * key's principal) is linked to that subject first, so `Privacy.erase` deletes it. An entry shared by two subjects
 * (the same request from both) is linked to each and erased by either. When the link cannot be made (the index is
 * full of conversation links) the answer is not stored, and an entry just served is deleted: no entry outlives the
 * erasure of a subject it was stored or served for. A full index gives up its oldest cache link and deletes that
 * entry (`SubjectIndex.linkCacheKey`). Calls without a subject (embedded use, an agent's own model calls) are not
 * linked and cannot be attributed.
 *
 * Never cached: a refusal (finish reason `content-filter`, or a `refusal` part) on either path — it is the answer
 * to this call, not the answer to the prompt —, an answer that finished with an error (finish reason `error`, e.g.
 * OpenRouter's `finish_reason: "error"` mid-generation) and a call whose content is nested too deeply to key.
 *
 * **A hit is decoded as an `LlmResponse` before it is served**: the `Cache` holds whatever its writers put there
 * and its L2 Schema lets through (`Troupe.layer` gives `Schema.Json`), e.g. an answer of an older format. An
 * undecodable hit is a miss plus a counter (metric `troupe_response_cache_decode_failures_total`, attribute
 * `namespace`), never a crash, and its entry is deleted. Each cached object is decoded once (a `WeakMap` from the
 * cached object to its decoded answer, which holds nothing the cache dropped); what this step stored is known.
 *
 * `generate` is single-flight: concurrent identical calls reach the provider once. The first caller computes in its
 * own fiber (interrupting it interrupts its HTTP request at once; a waiting caller then takes over), so a miss costs
 * a lookup and a store and no fiber fork (`Cache.getOrCompute` forks one per miss, ~30 µs here). Rules of the
 * shared call (`internal/SharedCall.ts`, as `CoalesceStep`'s):
 * - **Each caller of a shared call is bounded by its own deadline: a waiter whose deadline passes fails with its own
 *   CallDeadlineExceeded and only leaves the shared call**; the leader and the other waiters go on.
 * - **A leader's own deadline is not handed to waiters: a waiter with time left still gets the answer**, and **a
 *   leader's own refusal is not handed to waiters: a waiter with time left runs the call itself** — a failure of the
 *   leader's own options (`CallDeadlineExceeded`, `BudgetExceeded`, `RateLimitRefused`, `QueueFull`, `Shed`, an
 *   `InvalidLlmRequest` of its budget scopes) makes a waiter compute itself, within what is left of its deadline.
 * - **An interrupted leader does not fail its waiters: a waiter runs the call itself.**
 * - **An answer or a provider error of the shared call is every waiter's**, as the leader's retries and fallbacks
 *   left it.
 * Streams read the cache first (a hit is replayed as a short stream by the `Llm` service) and a streamed miss is
 * stored once complete. Per call, `cache: "bypass"` skips the step and `cache: "refresh"` skips only the lookup.
 *
 * Hot path: the key is `hashRequestFields` (the same canonical JSON and SHA-256 as `hashRequest`, written without
 * building the record), the lookup is one `matchEffect` over the cache's `get`, and a hit of a known object one
 * `WeakMap` read.
 *
 * Mirrors LiteLLM's / Portkey's simple (exact-match) cache with per-request `no-cache` / `force refresh`; reuses
 * `src/cache` (`Cache`, `hashRequest`, `normalizeRequest`). `ResponseCacheStep.none` turns caching off.
 *
 * @since 0.1.0
 */
import { Cause, Context, Deferred, type Duration, Effect, Exit, Layer, Metric, Option, Schema } from "effect"
import type { CacheMark, ResponseKeyInput } from "../cache/index.ts"
import {
  Cache,
  CanonicalJsonTooDeep,
  hashRequest,
  hashRequestFields,
  InvalidCacheOptions,
  normalizeRequest
} from "../cache/index.ts"
import { linkCacheKey, SubjectIndex } from "../identity/SubjectIndex.ts"
import type { LlmRequest } from "../llm/index.ts"
import { LlmResponse } from "../llm/index.ts"
import { hasLegacyScopeParam, scopedHash } from "./internal/KeyScope.ts"
import { type CallerDeadline, isLeadersOwn } from "./internal/SharedCall.ts"
import type { CallDeadlineExceeded } from "./PipelineError.ts"
import type { CallContext, Target } from "./Target.ts"

/** The service interface. */
export interface ResponseCacheStepShape {
  /** The cache key of a call to `primary` with `params`, or `undefined` when this call is not cached. */
  readonly keyOf: (context: CallContext, primary: Target, params: LlmRequest["params"]) => string | undefined
  /**
   * The cached answer for `key`, or `compute`'s (stored; concurrent identical calls compute once). A caller that
   * waits for another's computation waits `within` its own deadline (failing with its `CallDeadlineExceeded`); the
   * leader's interruption or own failure (see the module doc) is not handed to it: it computes itself.
   */
  readonly generate: <E, R>(
    key: string,
    context: CallContext,
    compute: Effect.Effect<LlmResponse, E, R>,
    within?: CallerDeadline
  ) => Effect.Effect<LlmResponse, E | CallDeadlineExceeded, R>
  /** The cached answer for `key` (none in `refresh` mode). */
  readonly lookup: (key: string, context: CallContext) => Effect.Effect<Option.Option<LlmResponse>>
  /** Stores a complete answer (e.g. a finished stream), linked to the call's subject when it has one. */
  readonly store: (key: string, response: LlmResponse, context?: CallContext) => Effect.Effect<void>
}

/** Options of `ResponseCacheStep.layer`. */
export interface ResponseCacheStepOptions {
  /** Key namespace in the cache. Default `"llm"` (the `ResponseCache`'s). */
  readonly namespace?: string
  /** TTL of cached answers (else the cache's namespace or default TTL). */
  readonly ttl?: Duration.Input
  /** Collapse whitespace in prompts before keying. Default `false`. */
  readonly normalizeWhitespace?: boolean
  /** Asked per call: `false` skips the cache (no lookup, no store), as `cache: "bypass"`. Default: always on. */
  readonly enabled?: () => boolean
}

const tokensOf = (response: LlmResponse): number => {
  const total = response.usage.totalTokens
  return Number.isSafeInteger(total) && total >= 0 ? total : 0
}

/** Whether an answer may be cached: not a refusal, not an answer that finished with an error. */
export const isCacheable = (response: LlmResponse): boolean =>
  response.finishReason !== "content-filter" && response.finishReason !== "error" && response.refusal === undefined

const decodeResponse = Schema.decodeUnknownExit(LlmResponse)
const decodeFailures = Metric.counter("troupe_response_cache_decode_failures_total", {
  description: "Response-cache hits that did not decode as an LlmResponse (served as misses, deleted)",
  incremental: true
})

const make = (options: ResponseCacheStepOptions) =>
  Effect.gen(function*() {
    const cache = yield* Cache
    const namespace = options.namespace ?? "llm"
    if (!/^[^:]+$/.test(namespace)) {
      return yield* InvalidCacheOptions.at("namespace", "expected a non-empty name without ':'")
    }
    const normalize = options.normalizeWhitespace === true
    const enabled = options.enabled
    const putOptions = (response: LlmResponse) =>
      options.ttl === undefined ? { tokens: tokensOf(response) } : { tokens: tokensOf(response), ttl: options.ttl }
    const prefixes = new Map<string, string>()
    const prefixOf = (model: string): string => {
      let prefix = prefixes.get(model)
      if (prefix === undefined) {
        prefix = `${namespace}:${encodeURIComponent(model)}:`
        if (prefixes.size < 10_000) {
          prefixes.set(model, prefix)
        }
      }
      return prefix
    }

    const index = Option.getOrUndefined(yield* Effect.serviceOption(SubjectIndex))
    const notCached = (error: unknown) => Effect.logDebug("LLM response not cached", error)
    // cached objects -> their decoded answer (weak: an entry lives as long as the cache holds the object)
    const known = new WeakMap<object, LlmResponse>()
    // the cache's mark when a stream's lookup ran, for its store (weak: one per call context in flight)
    const streamMarks = new WeakMap<CallContext, CacheMark>()
    const put = (key: string, response: LlmResponse, since: CacheMark | undefined): Effect.Effect<void> => {
      known.set(response, response)
      const options = putOptions(response)
      return Effect.catch(cache.put(key, response, since === undefined ? options : { ...options, since }), notCached)
    }
    const deleteQuiet = (key: string) => Effect.ignore(cache.delete(key))
    // the subject a call is made for, when the index can link it (both tenant and subject set)
    const ownerOf = (context: CallContext | undefined) => {
      const o = context?.call.options
      return index === undefined || o?.subject === undefined || o.tenant === undefined
        ? undefined
        : { index, tenant: o.tenant, subject: o.subject }
    }
    const link = (owner: NonNullable<ReturnType<typeof ownerOf>>, key: string) =>
      linkCacheKey(owner.index, owner.tenant, owner.subject, key, deleteQuiet)
    const storeSince = (
      key: string,
      response: LlmResponse,
      context: CallContext | undefined,
      since: CacheMark | undefined
    ): Effect.Effect<void> => {
      if (!isCacheable(response)) return Effect.void
      const owner = ownerOf(context)
      if (owner === undefined) return put(key, response, since)
      // linked first: an entry stored for a subject is always erasable; not linked, not stored
      return Effect.matchEffect(link(owner, key), { onFailure: notCached, onSuccess: () => put(key, response, since) })
    }
    // a stream's answer, stored unless its key was invalidated since the stream's lookup
    const store = (key: string, response: LlmResponse, context?: CallContext): Effect.Effect<void> =>
      storeSince(key, response, context, context === undefined ? undefined : streamMarks.get(context))
    // a hit served to a subject: linked to it too, or deleted when it cannot be
    const linkHit = (key: string, context: CallContext): Effect.Effect<void> => {
      const owner = ownerOf(context)
      return owner === undefined ? Effect.void : Effect.catch(link(owner, key), () => deleteQuiet(key))
    }

    // A hit decoded as an LlmResponse: the cache may hold anything under this step's keys (see the module doc)
    const decodeHit = (key: string, value: unknown): Effect.Effect<Option.Option<LlmResponse>> => {
      const object = typeof value === "object" && value !== null ? value : undefined
      const seen = object === undefined ? undefined : known.get(object)
      if (seen !== undefined) return Effect.succeed(Option.some(seen))
      const decoded = decodeResponse(value)
      if (Exit.isSuccess(decoded)) {
        if (object !== undefined) known.set(object, decoded.value)
        return Effect.succeed(Option.some(decoded.value))
      }
      return Effect.logDebug(`response cache: undecodable cached answer under ${key}; treated as a miss`).pipe(
        Effect.andThen(Metric.update(Metric.withAttributes(decodeFailures, { namespace }), 1)),
        Effect.andThen(deleteQuiet(key)),
        Effect.as(Option.none())
      )
    }
    const lookupQuiet = (key: string): Effect.Effect<Option.Option<LlmResponse>> =>
      Effect.matchEffect(cache.get(key), {
        onFailure: () => Effect.succeedNone,
        onSuccess: (hit) => Option.isNone(hit) ? Effect.succeedNone : decodeHit(key, hit.value)
      })

    // In-fiber single-flight: the first caller computes in its own fiber (so interrupting it interrupts the HTTP
    // request at once); concurrent identical calls wait for its result; if it is interrupted, a waiter takes over.
    const inflight = new Map<string, Deferred.Deferred<LlmResponse, unknown>>()
    const generate = <E, R>(
      key: string,
      context: CallContext,
      compute: Effect.Effect<LlmResponse, E, R>,
      within?: CallerDeadline
    ): Effect.Effect<LlmResponse, E | CallDeadlineExceeded, R> => {
      if (context.call.options?.cache === "refresh") {
        const mark = cache.mark() // before the computation: an invalidation from here on voids the store
        return Effect.tap(compute, (response) => storeSince(key, response, context, mark))
      }
      return Effect.flatMap(lookupQuiet(key), (hit): Effect.Effect<LlmResponse, E | CallDeadlineExceeded, R> => {
        if (Option.isSome(hit)) {
          return ownerOf(context) === undefined
            ? Effect.succeed(hit.value)
            : Effect.as(linkHit(key, context), hit.value)
        }
        // the in-flight table holds this step's deferreds, which fail with the step's E
        const leader = inflight.get(key) as Deferred.Deferred<LlmResponse, E> | undefined
        if (leader !== undefined) {
          // a waiter waits within its own deadline; the leader's interruption or own failure is not its (SharedCall)
          const waited = Effect.exit(Deferred.await(leader))
          return Effect.flatMap(
            within === undefined ? waited : within(waited),
            (exit) =>
              Exit.isFailure(exit) && (Cause.hasInterruptsOnly(exit.cause) || isLeadersOwn(exit.cause))
                ? generate(key, context, compute, within)
                : exit
          )
        }
        // after the lookup (which may have deleted an undecodable entry), before the computation
        const mark = cache.mark()
        const deferred = Deferred.makeUnsafe<LlmResponse, E>()
        // stored with its error erased; read back as E (above)
        inflight.set(key, deferred as Deferred.Deferred<LlmResponse, unknown>)
        return Effect.onExit(compute, (exit) => {
          if (inflight.get(key) === deferred) inflight.delete(key)
          Deferred.doneUnsafe(deferred, exit)
          return Exit.isSuccess(exit) ? storeSince(key, exit.value, context, mark) : Effect.void
        })
      })
    }

    return ResponseCacheStep.of({
      keyOf: (context, primary, params) => {
        try {
          return keyOf(context, primary, params)
        } catch (error) {
          if (error instanceof CanonicalJsonTooDeep) return undefined // too deep to key: not cached
          throw error
        }
      },
      generate,
      lookup: (key, context) => {
        const looked = context.call.options?.cache === "refresh"
          ? Effect.succeedNone
          : ownerOf(context) === undefined
          ? lookupQuiet(key)
          : Effect.tap(lookupQuiet(key), (hit) => Option.isSome(hit) ? linkHit(key, context) : Effect.void)
        // the mark for the store of this call's streamed answer: after the lookup, before the stream
        return Effect.tap(looked, () => Effect.sync(() => streamMarks.set(context, cache.mark())))
      },
      store
    })

    function keyOf({ call }: CallContext, primary: Target, params: LlmRequest["params"]): string | undefined {
      const callOptions = call.options
      if (callOptions?.cache === "bypass" || (enabled !== undefined && !enabled())) return undefined
      if (hasLegacyScopeParam(params)) return undefined // could match a scoped key of an older version: not cached
      const keyParams: Record<string, unknown> | undefined = call.responseFormat === undefined
        ? params // canonical JSON reads the same members from `params` as from a copy of it
        : { ...params, responseFormat: call.responseFormat }
      if (!normalize) {
        return prefixOf(primary.model) +
          scopedHash(
            hashRequestFields(
              primary.provider,
              primary.model,
              call.messages,
              keyParams, // absent when the call has none, as in ResponseCache's key of the same fields
              call.tools,
              call.toolChoice
            ),
            callOptions
          )
      }
      const input = {
        provider: primary.provider,
        model: primary.model,
        messages: call.messages,
        ...(call.tools !== undefined ? { tools: call.tools } : {}),
        ...(call.toolChoice !== undefined ? { toolChoice: call.toolChoice } : {}),
        ...(keyParams !== undefined ? { params: keyParams } : {})
      } as ResponseKeyInput // the canonical JSON reads every field; the shapes are JSON by construction
      return prefixOf(primary.model) + scopedHash(hashRequest(normalizeRequest(input)), callOptions)
    }
  })

/**
 * The response-cache step.
 *
 * @example
 * ```ts
 * const step = ResponseCacheStep.layer({ ttl: "1 hour" }).pipe(Layer.provide(Cache.layerMemory({ maxEntries: 10_000 })))
 * ```
 */
export class ResponseCacheStep
  extends Context.Service<ResponseCacheStep, ResponseCacheStepShape>()("troupe/pipeline/ResponseCacheStep")
{
  /** Caches answers in the `Cache` service. */
  static readonly layer = (
    options: ResponseCacheStepOptions = {}
  ): Layer.Layer<ResponseCacheStep, InvalidCacheOptions, Cache> => Layer.effect(ResponseCacheStep, make(options))

  /** No response cache. */
  static readonly none: Layer.Layer<ResponseCacheStep> = Layer.succeed(ResponseCacheStep, {
    keyOf: () => undefined,
    generate: (_key, _context, compute) => compute,
    lookup: () => Effect.succeedNone,
    store: () => Effect.void
  })
}
