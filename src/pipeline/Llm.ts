/**
 * `Llm`: troupe's LLM call path — `generate(call)` for one answer, `stream(call)` for text and tool-call deltas and a
 * final `Finish` usage part — composed from whichever step services are provided:
 *
 * ```
 * decode (Schema, paths) → ModelResolver (alias → provider:model, from ConfigStore)
 *   → ResponseCacheStep (a hit ends here: no rate limit, no provider)
 *   → FallbackStep (ExecutionPlan over the requested model and its fallbacks), per model:
 *       RateLimitStep (requests + estimated tokens) → BreakerStep (per provider) → RetryStep
 *         → telemetry (trackLlmCall, per attempt) → ProviderRegistry → provider → UsageStep (cost)
 *   → result + meta (provider, model, cached, attempts, fallback index, cost in USD)
 * ```
 *
 * With `ErrorHandlers` (troupe/errors) in the context the pipeline is built in, every failure goes to its handlers
 * (and so to `ErrorAnalytics`) once per error value: each target's failure with its provider and model (a failure a
 * fallback recovered from too), and a call that fails before or outside its targets (an unknown model, the guard, a
 * budget, a stream's limits) without them; the route, tenant and agent come from the fiber's error context
 * (`ErrorScope`, captured when a stream opens), the call's `tenant` and `agent` options filling what it lacks.
 *
 * With a `GuardStep` in the context, the decoded call passes its input guard before the cache key is computed and
 * its answer (or stream) passes the output guard (see `GuardStep.ts`). With a `HedgeStep`, a critical `generate`
 * whose first target is slow also asks the next target of its chain, and the first success wins (see `HedgeStep.ts`).
 *
 * The call is decoded before the alias is resolved (a model name is only looked up once it is known to be a
 * string). Every step is a `Context.Service` with a default layer and a `none` layer, so users replace or drop any
 * of them; `Llm.layer` composes whatever is in the context. Interrupting a call interrupts the provider's HTTP
 * request (for `generate` through the cache's single-flight when it was the last waiter; for `stream` by closing
 * the stream's scope). Peers: LiteLLM's Router / Portkey's gateway (aliases, caching, RPM/TPM limits, cooldowns,
 * retries, fallbacks, cost tracking) — here as Effect services; effect supplies `CircuitBreaker`, `ExecutionPlan`,
 * `Stream`, `Schema`, `Clock` and the supervision comes from `src/runtime`.
 *
 * @since 0.1.0
 */
import type { Array as Arr } from "effect"
import { Clock, Context, Deferred, Duration, Effect, Exit, Layer, Option, Stream } from "effect"
import type { CircuitBreaker } from "effect/persistence"
import type { BudgetExceeded, BudgetStoreError } from "../budget/index.ts"
import type { ModelLookupError } from "../config/index.ts"
import { Costs, Recommendations } from "../costs/index.ts"
import { ErrorHandlers } from "../errors/ErrorHandlers.ts"
import { type ErrorContext, ErrorScope, mergeErrorContext } from "../errors/ErrorScope.ts"
import type { GuardBlocked } from "../guard/GuardError.ts"
import { pullLimits } from "../internal/PullLimits.ts"
import type {
  InvalidLlmRequest,
  InvalidProviderOptions,
  LlmCallOptions as ProviderCallOptions,
  LlmProviderShape,
  LlmResponse,
  LlmStreamPart,
  ProviderError
} from "../llm/index.ts"
import { makeUsage, StreamAccumulator, Tokenizer } from "../llm/index.ts"
import type { QueueFull, Shed } from "../queue/index.ts"
import type { RateLimitStoreError } from "../ratelimit/index.ts"
import { TelemetryHub } from "../telemetry/index.ts"
import { BreakerStep } from "./BreakerStep.ts"
import { BudgetStep } from "./BudgetStep.ts"
import { CallLimits } from "./CallLimits.ts"
import { CoalesceStep } from "./CoalesceStep.ts"
import { DeadLetterStep } from "./DeadLetterStep.ts"
import { type EmbeddingsUnsupported, type EmbedInput, type EmbedResult, makeEmbed } from "./Embed.ts"
import { FallbackStep } from "./FallbackStep.ts"
import { generateObject, type GenerateObjectOptions } from "./GenerateObject.ts"
import { GuardStep } from "./GuardStep.ts"
import type { HedgeLoser } from "./HedgeStep.ts"
import { HedgeStep } from "./HedgeStep.ts"
import { deadlineOf, makeCallDeadline } from "./internal/CallDeadline.ts"
import { costRecordOf, hedgeCostRecordOf } from "./internal/CostRecord.ts"
import { makeGuarded } from "./internal/Guarded.ts"
import { makeTracking } from "./internal/LlmTracking.ts"
import { observeAnswer } from "./internal/Observe.ts"
import type { LlmCall, LlmCallInput } from "./LlmCall.ts"
import { decodeLlmCall, mergeParams, providerRequest } from "./LlmCall.ts"
import type { CallMeta, LlmOutputPart, LlmResult } from "./LlmResult.ts"
import { ModelResolver } from "./ModelResolver.ts"
import type { ProviderNotFound, RateLimitRefused } from "./PipelineError.ts"
import type { CallDeadlineExceeded } from "./PipelineError.ts"
import { StreamLimitExceeded } from "./PipelineError.ts"
import { isStandIn, ProviderRegistry, STAND_IN_PROVIDER } from "./ProviderRegistry.ts"
import { QueueStep } from "./QueueStep.ts"
import { RateLimitStep } from "./RateLimitStep.ts"
import { ResponseCacheStep } from "./ResponseCacheStep.ts"
import { RetryStep } from "./RetryStep.ts"
import { RouterStep } from "./RouterStep.ts"
import { SiblingStep } from "./SiblingStep.ts"
import { openStream } from "./StreamOpen.ts"
import type { CallContext, CallKind, Target } from "./Target.ts"
import { CallState } from "./Target.ts"
import { UsageStep } from "./UsageStep.ts"

/** Every failure of an `Llm` call. */
export type LlmError =
  | InvalidLlmRequest
  | ModelLookupError
  | ProviderError
  | ProviderNotFound
  | InvalidProviderOptions
  | RateLimitRefused
  | RateLimitStoreError
  | CircuitBreaker.CircuitBreakerError
  | GuardBlocked
  | CallDeadlineExceeded
  | StreamLimitExceeded
  | BudgetExceeded
  | BudgetStoreError
  | QueueFull
  | Shed

/** The service interface. */
export interface LlmShape {
  /**
   * One finished answer (untrusted input: decoded first). Fails with `LlmError`: `InvalidLlmRequest` when the call does
   * not decode (`path` names the field) or, with a `BudgetStep`, `options.tenant` / `options.user` is not a budget
   * scope id; `ModelLookupError` when the model or a fallback names no alias or valid spec, an alias chain loops, or it
   * resolves to an unconfigured provider; `ProviderNotFound` when the `ProviderRegistry` has no provider for the
   * resolved name; `InvalidProviderOptions` when the registry cannot build that provider from its configuration;
   * `RateLimitRefused` when troupe's limiter refuses the request or its estimated tokens (`check` mode, or a wait past
   * `maxWait`); `RateLimitStoreError` when the limiter's Redis store fails under `failClosed`; `CircuitBreakerError`
   * when the provider's circuit is open or half-open; `ProviderError` when the last model tried fails after its retries
   * and the fallback chain is exhausted; `CallDeadlineExceeded` when attempts, retry waits, fallbacks and the wait for
   * a shared identical call pass the call's own `timeout` (else `CallLimits.deadline`); `GuardBlocked` (with a
   * `GuardStep`) when a `block` policy matches the input or the answer; `BudgetExceeded` (with a `BudgetStep`) when a scope cannot hold the estimated
   * maximum cost; `BudgetStoreError` when the `Budgets` store fails; `QueueFull` (with a `QueueStep`) when the
   * provider's queue is full on arrival; `Shed` when the call is taken out of that queue while waiting (evicted, or
   * past its deadline or wait timeout). Never `StreamLimitExceeded`, which only streams end with. A cache hit fails
   * with none of the provider-side errors.
   */
  readonly generate: (call: LlmCallInput | LlmCall) => Effect.Effect<LlmResult, LlmError>
  /**
   * The answer as it arrives; the last part is a `Finish` with usage and `meta`. Fails with `LlmError` as `generate`
   * does (`InvalidLlmRequest`, `ModelLookupError`, `ProviderNotFound`, `InvalidProviderOptions`, `RateLimitRefused`,
   * `RateLimitStoreError`, `CircuitBreakerError`, `ProviderError`, `GuardBlocked`, `BudgetExceeded`,
   * `BudgetStoreError`, `QueueFull`, `Shed`), the provider-side ones only while the stream opens, except a
   * `ProviderError` or `GuardBlocked` mid-stream; and with `StreamLimitExceeded` when the stream passes `CallLimits`'
   * whole-stream deadline (the call's `timeout` if set), its idle limit between two parts, or `maxStreamChars`. Never
   * `CallDeadlineExceeded`: a stream's deadline is `StreamLimitExceeded` with `limit: "deadline"`.
   */
  readonly stream: (call: LlmCallInput | LlmCall) => Stream.Stream<LlmOutputPart, LlmError>
  /**
   * Embeddings through the same steps (aliases, rate limits, breaker, retries, cost): see `Embed`. Fails with
   * `InvalidLlmRequest` when the input does not decode (an empty model, more than 2,048 texts, `dimensions` not an
   * integer from 1 to 8,192); with `ModelLookupError`, `ProviderNotFound`, `InvalidProviderOptions`,
   * `RateLimitRefused`, `RateLimitStoreError`, `CircuitBreakerError` and `ProviderError` in the same cases as
   * `generate` (no fallback chain: the one model's last error); with `EmbeddingsUnsupported` when the provider's wire
   * has no embeddings endpoint (Anthropic). Never with `GuardBlocked`, `BudgetExceeded`, `BudgetStoreError`,
   * `QueueFull`, `Shed`, `CallDeadlineExceeded` or `StreamLimitExceeded`: embeddings skip the guard, budget and queue
   * steps and have no call deadline.
   */
  readonly embed: (input: EmbedInput) => Effect.Effect<EmbedResult, LlmError | EmbeddingsUnsupported>
}

/** The step services `Llm.layer` composes. */
export type LlmSteps =
  | ModelResolver
  | ProviderRegistry
  | ResponseCacheStep
  | RateLimitStep
  | BreakerStep
  | RetryStep
  | FallbackStep
  | UsageStep

// An already-successful `Exit` (a decoded call, a cached target) is continued at once instead of through a `flatMap`
// step of the fiber: the same result, one step fewer on the hot path. Only inside a `suspend` (or another per-run
// callback): `f` runs when the effect is built, so it must not be where per-run state or side effects live.
const isSuccess = <A, E, R>(self: Effect.Effect<A, E, R>): self is Exit.Success<A, E> & Effect.Effect<A, E, R> =>
  Exit.isExit(self) && self._tag === "Success"

const flatMapNow = <A, E, R, B, E2, R2>(
  self: Effect.Effect<A, E, R>,
  f: (a: A) => Effect.Effect<B, E2, R2>
): Effect.Effect<B, E | E2, R | R2> => isSuccess(self) ? f(self.value) : Effect.flatMap(self, f)

const mapNow = <A, E, R, B>(self: Effect.Effect<A, E, R>, f: (a: A) => B): Effect.Effect<B, E, R> =>
  isSuccess(self) ? Exit.succeed(f(self.value)) : Effect.map(self, f)

/** A string option (`tenant`, `agent`) of a call as given (untrusted: anything else, or a throwing getter, is none). */
const callOption = (input: unknown, field: "tenant" | "agent"): string | undefined => {
  try {
    if (typeof input !== "object" || input === null || !("options" in input)) return undefined
    const options: unknown = input.options
    if (typeof options !== "object" || options === null || !(field in options)) return undefined
    // `field in options` was checked just above
    const value: unknown = (options as Record<string, unknown>)[field]
    return typeof value === "string" && value !== "" ? value.slice(0, 256) : undefined
  } catch {
    return undefined
  }
}

const make = Effect.gen(function*() {
  const resolver = yield* ModelResolver
  const registry = yield* ProviderRegistry
  const cacheStep = yield* ResponseCacheStep
  const rateLimit = yield* RateLimitStep
  const breaker = yield* BreakerStep
  const retry = yield* RetryStep
  const fallback = yield* FallbackStep
  const usage = yield* UsageStep
  const tracking = makeTracking(Option.getOrUndefined(yield* Effect.serviceOption(TelemetryHub)), usage)
  // optional: without a GuardStep in the context the pipeline is unchanged (see GuardStep.ts)
  const guard = Option.getOrUndefined(yield* Effect.serviceOption(GuardStep))
  // optional: without a BudgetStep in the context no budget is reserved (see BudgetStep.ts)
  const budget = Option.getOrUndefined(yield* Effect.serviceOption(BudgetStep))
  // optional: without a QueueStep in the context no call waits in a queue (see QueueStep.ts)
  const queue = Option.getOrUndefined(yield* Effect.serviceOption(QueueStep))
  // optional: with `ErrorHandlers` (troupe/errors) in the context every failure goes to its handlers
  const errorHandlers = Option.getOrUndefined(yield* Effect.serviceOption(ErrorHandlers))
  // the error values already handled: a target's failure that ends the call is not counted again for the call
  const handledErrors = new WeakSet<object>()
  /**
   * Passes `error` to the handlers once: with `target`'s provider and model, over `scope` (the error context captured
   * when a stream opened; else the fiber's), the call's tenant and agent filling what the scope lacks.
   */
  const noteFailure = (
    error: unknown,
    call: unknown,
    target: Target | undefined,
    scope?: ErrorContext
  ): Effect.Effect<void> => {
    if (errorHandlers === undefined) return Effect.void
    if (typeof error === "object" && error !== null) {
      if (handledErrors.has(error)) return Effect.void
      handledErrors.add(error)
    }
    return Effect.withFiber((fiber) => {
      const current = scope === undefined
        ? fiber.getRef(ErrorScope)
        : mergeErrorContext(fiber.getRef(ErrorScope), scope)
      const context: ErrorContext = {
        ...current,
        tenant: current.tenant ?? callOption(call, "tenant"),
        agent: current.agent ?? callOption(call, "agent"),
        ...(target !== undefined ? { provider: target.provider, model: target.model } : {})
      }
      return errorHandlers.handle(error, context)
    })
  }
  // optional: without a CoalesceStep in the context identical calls are not shared (see CoalesceStep.ts)
  const coalesce = Option.getOrUndefined(yield* Effect.serviceOption(CoalesceStep))
  // optional: without a DeadLetterStep in the context permanent failures are not recorded (see DeadLetterStep.ts)
  const deadLetters = Option.getOrUndefined(yield* Effect.serviceOption(DeadLetterStep))
  // optional: with a Costs ledger in the context every answered call records its cost (see troupe/costs)
  const costs = Option.getOrUndefined(yield* Effect.serviceOption(Costs))
  // optional: without a HedgeStep in the context no call is hedged (see HedgeStep.ts)
  const hedge = Option.getOrUndefined(yield* Effect.serviceOption(HedgeStep))
  // optional: without a RouterStep in the context no call is rerouted (see RouterStep.ts)
  const router = Option.getOrUndefined(yield* Effect.serviceOption(RouterStep))
  // optional: with Recommendations in the context every answered call is observed (see troupe/costs)
  const recommendations = Option.getOrUndefined(yield* Effect.serviceOption(Recommendations))
  // optional: without a SiblingStep in the context no call is shadowed on a cheaper sibling (see SiblingStep.ts)
  const sibling = Option.getOrUndefined(yield* Effect.serviceOption(SiblingStep))
  /** The context of a decoded `call`: sent to the router's cheaper model when the router policy says so. */
  const contextOf = (call: LlmCall, kind: CallKind): CallContext => {
    const state = new CallState()
    const to = router === undefined ? undefined : router.route(call)
    if (to === undefined) return { call, kind, state }
    state.routedFrom = call.model
    return { call: { ...call, model: to }, kind, state }
  }

  const limits = yield* CallLimits
  // the token counter hook (a Reference: ~4 characters per token unless e.g. `Tokenizer.layerBpe` is provided)
  const counter = yield* Tokenizer.TokenCounter
  /** The call's estimated input tokens, counted once (the rate-limit or budget step may have counted them). */
  const noteEstimate = (context: CallContext, target: Target): void => {
    context.state.estimateInput(counter, context.call, target.model)
  }

  const callDeadline = makeCallDeadline(deadLetters)

  // A target whose route the registry answers with a scripted stand-in is labelled `scripted` (see
  // ProviderRegistry): relabelled once per (target, provider) pair, so the steps' per-target caches stay warm.
  const labelled = new WeakMap<Target, { readonly provider: LlmProviderShape; readonly target: Target }>()
  const labelWith = (target: Target, provider: LlmProviderShape): Target => {
    if (!isStandIn(provider)) return target
    const hit = labelled.get(target)
    if (hit !== undefined && hit.provider === provider) return hit.target
    const relabelled: Target = { ...target, provider: STAND_IN_PROVIDER, spec: `${STAND_IN_PROVIDER}:${target.model}` }
    labelled.set(target, { provider, target: relabelled })
    return relabelled
  }
  // a registry failure leaves the target as it is: the attempt then fails (and may fall back) as before
  const label = (target: Target): Effect.Effect<Target> => {
    const provider = registry.get(target.route)
    // the registry's table holds provider shapes
    if (Exit.isExit(provider)) {
      return Exit.succeed(Exit.isSuccess(provider) ? labelWith(target, provider.value as LlmProviderShape) : target)
    }
    return Effect.match(provider, { onFailure: () => target, onSuccess: (p) => labelWith(target, p) })
  }
  const resolveOne = (model: string, kind: CallKind): Effect.Effect<Target, ModelLookupError> =>
    flatMapNow(resolver.resolve(model, kind), label)

  /** Resolves the targets of `context` and continues with them (one step fewer than a `map` then a `flatMap`). */
  const withTargets = <A, E>(
    context: CallContext,
    f: (targets: Arr.NonEmptyReadonlyArray<Target>) => Effect.Effect<A, E>
  ): Effect.Effect<A, E | ModelLookupError> => {
    const chain = fallback.chainFor(context)
    if (chain.length === 0) return flatMapNow(resolveOne(context.call.model, context.kind), (target) => f([target]))
    return flatMapNow(resolveTargets(context), f)
  }

  const resolveTargets = (context: CallContext): Effect.Effect<Arr.NonEmptyReadonlyArray<Target>, ModelLookupError> => {
    const chain = fallback.chainFor(context)
    const primary = resolveOne(context.call.model, context.kind)
    if (chain.length === 0) return mapNow(primary, (target) => [target] as const)
    return Effect.map(
      Effect.forEach([context.call.model, ...chain], (model) => resolveOne(model, context.kind)),
      (targets) => targets as unknown as Arr.NonEmptyReadonlyArray<Target> // at least the requested model
    )
  }

  const callOptionsOf = (call: LlmCall, target: Target): ProviderCallOptions | undefined => {
    const timeout = call.options?.timeout ?? target.defaults.timeout
    const apiKey = call.options?.apiKey
    if (timeout === undefined && apiKey === undefined) return undefined
    return {
      ...(timeout !== undefined ? { timeout: timeout as Duration.Input } : {}), // validated by decodeLlmCall (ms or a duration string)
      ...(apiKey !== undefined ? { apiKey } : {})
    }
  }

  // queue → rate limit → breaker → retry around an attempt, for a route the registry has (internal/Guarded.ts)
  const { embedBreaker, guarded } = makeGuarded({ registry, retry, breaker, rateLimit, queue })

  const generateAttempt = (context: CallContext) => (target: Target) => {
    const call = context.call
    const request = providerRequest(call, target.model, mergeParams(target.defaults, call.params))
    const options = callOptionsOf(call, target)
    // a real `flatMap`: retries re-run `attempt`, and each run counts one attempt
    const attempt = Effect.flatMap(registry.get(target.route), (provider) => {
      context.state.attempts++
      noteEstimate(context, target)
      // models are tried one after another and the first success ends the call, so on success the target of the
      // last attempt is the one that answered (no `map` step after the guarded attempt)
      context.state.answeredBy = target
      return tracking.track(target, context, provider.generate(request, options))
    })
    const answered = guarded(context, target, attempt)
    return errorHandlers === undefined ? answered : Effect.tapError(answered, (e) => noteFailure(e, call, target))
  }

  /**
   * Records the cost of a hedged call's losing leg on the same path as every call's (the `Costs` ledger, tagged
   * `hedge`; the budget step adds `hedgeCostUsd` when it settles): its answer's tokens, else its estimated input.
   */
  const recordLoser = (context: CallContext) => (loser: HedgeLoser): Effect.Effect<void> => {
    const state = context.state
    const spent = loser.response !== undefined
      ? usage.costOf(loser.target, loser.response.usage)
      : usage.costOf(loser.target, makeUsage(state.estimatedInputTokens ?? 0, 0))
    if (spent === undefined) return Effect.void
    state.hedgeCostUsd += spent
    // a computed cost is finite and ≥ 0 (UsageStep), so `record` cannot fail here; ignore it defensively
    return costs === undefined
      ? Effect.void
      : Effect.ignore(costs.record(hedgeCostRecordOf(context.call, loser.target, spent)))
  }

  const metaOf = (
    context: CallContext,
    targets: Arr.NonEmptyReadonlyArray<Target>,
    response: LlmResponse
  ): CallMeta => {
    const state = context.state
    const by = state.answeredBy ?? targets[0]
    const cached = !state.computed
    return {
      requested: state.routedFrom ?? context.call.model,
      ...(state.routedFrom !== undefined ? { routedTo: context.call.model } : {}),
      provider: by.provider,
      model: by.model,
      ...(by.provider !== by.route ? { standInFor: by.route } : {}),
      cached,
      attempts: cached ? 0 : state.attempts,
      fallbackIndex: cached ? 0 : Math.max(0, targets.indexOf(by)),
      costUsd: cached ? 0 : usage.costOf(by, response.usage),
      ...(state.hedge !== undefined && !cached ? { hedge: state.hedge, hedgeCostUsd: state.hedgeCostUsd } : {}),
      ...(state.estimatedInputTokens !== undefined ? { estimatedInputTokens: state.estimatedInputTokens } : {})
    }
  }

  /**
   * What an answered call saved: a cache hit what its answer would have cost from the model of its key; a routed
   * call what the requested model would have cost for the same usage minus what it cost (see `RouterStep`).
   */
  const savedOf = (
    context: CallContext,
    targets: Arr.NonEmptyReadonlyArray<Target>,
    result: LlmResult
  ): Effect.Effect<number | undefined> => {
    if (result.meta.cached) return Exit.succeed(usage.costOf(targets[0], result.usage))
    const from = context.state.routedFrom
    const paid = result.meta.costUsd
    if (from === undefined || paid === undefined) return Exit.succeed(undefined)
    return Effect.match(resolveOne(from, context.kind), {
      onFailure: () => undefined,
      onSuccess: (requested) => {
        const would = usage.costOf(requested, result.usage)
        return would === undefined ? undefined : Math.max(0, would - paid)
      }
    })
  }
  /**
   * Reports an answered call to `Recommendations` and records it on the `Costs` ledger (each when there is one); a
   * store failure is ignored.
   */
  const recordCost = (
    context: CallContext,
    targets: Arr.NonEmptyReadonlyArray<Target>,
    result: LlmResult
  ): Effect.Effect<void> => {
    if (recommendations !== undefined) observeAnswer(recommendations, context.call, result.meta)
    return costs === undefined ? Effect.void : flatMapNow(savedOf(context, targets, result), (saved) => {
      const entry = costRecordOf(context.call, result.meta, saved)
      // a computed cost is finite and ≥ 0 (UsageStep); `record` fails only when its store (Redis, PostgreSQL)
      // does, and the answer is returned anyway
      return entry === undefined ? Effect.void : Effect.ignore(costs.record(entry))
    })
  }

  // One `suspend` per run: the per-call state is created afresh each time the returned effect runs (it may be
  // retried or repeated), and within the run already-decoded inputs continue without extra steps.
  const generateUnguarded = (input: LlmCallInput | LlmCall): Effect.Effect<LlmResult, LlmError> =>
    Effect.suspend(() =>
      flatMapNow(decodeLlmCall(input), (requested) => {
        const context = contextOf(requested, "text")
        const call = context.call
        return withTargets(context, (targets) => {
          const compute = Effect.suspend(() => {
            context.state.computed = true
            const attempt = hedge === undefined
              ? generateAttempt(context)
              : hedge.attempts(context, targets, generateAttempt(context), recordLoser(context))
            const run = fallback.run(context, targets, attempt)
            return deadLetters === undefined ? run : deadLetters.around(run, context)
          })
          const paid = budget === undefined ? compute : budget.around(compute, context, targets)
          // each caller is bounded by its own deadline, also while it waits for a shared call (internal/SharedCall.ts)
          const within = callDeadline(context, deadlineOf(call, limits.deadlineMillis))
          const primary = targets[0]
          const params = mergeParams(primary.defaults, call.params)
          const sharedKey = coalesce?.keyOf(context, primary, params)
          const shared = coalesce === undefined || sharedKey === undefined
            ? within(paid)
            : coalesce.around(paid, sharedKey, within)
          const key = cacheStep.keyOf(context, primary, params)
          const answered = key === undefined ? shared : cacheStep.generate(key, context, shared, within)
          const result = Effect.map(
            answered,
            (response): LlmResult => ({ ...response, meta: metaOf(context, targets, response) })
          )
          const recorded = costs === undefined && recommendations === undefined
            ? result
            : Effect.tap(result, (r) => recordCost(context, targets, r))
          return sibling === undefined ? recorded : Effect.tap(recorded, (r) => sibling.consider(context.call, r))
        })
      })
    )

  // --- streams ---------------------------------------------------------------------------------------------------

  const streamAttempt = (context: CallContext) => (target: Target) => {
    const call = context.call
    const request = providerRequest(call, target.model, mergeParams(target.defaults, call.params))
    const options = callOptionsOf(call, target)
    const attempt = Effect.gen(function*() {
      const provider = yield* registry.get(target.route)
      context.state.attempts++
      noteEstimate(context, target)
      const done = yield* Deferred.make<LlmResponse, ProviderError>()
      yield* tracking.trackStream(target, context, done)
      const accumulator = new StreamAccumulator()
      const opened = yield* openStream(provider.stream(request, options)).pipe(
        Effect.tapError((error) => Deferred.fail(done, error))
      )
      return opened.pipe(
        Stream.tap((part) => {
          accumulator.add(part)
          const response = part._tag === "Finish" ? accumulator.response() : undefined
          return response === undefined ? Effect.void : Deferred.succeed(done, response)
        }),
        Stream.tapError((error) => Deferred.fail(done, error))
      )
    })
    const opened = Effect.map(guarded(context, target, attempt), (stream) => {
      context.state.answeredBy = target
      return stream
    })
    return errorHandlers === undefined ? opened : Effect.tapError(opened, (e) => noteFailure(e, call, target))
  }

  const replay = (response: LlmResponse, meta: CallMeta): Stream.Stream<LlmOutputPart> => {
    const parts: Array<LlmOutputPart> = []
    if (response.text !== "") parts.push({ _tag: "TextDelta", delta: response.text })
    response.toolCalls.forEach((toolCall, index) => parts.push({ _tag: "ToolCall", index, toolCall }))
    parts.push({
      _tag: "Finish",
      ...(response.id !== undefined ? { id: response.id } : {}),
      provider: response.provider,
      model: response.model,
      finishReason: response.finishReason,
      usage: response.usage,
      meta
    })
    return Stream.fromArray(parts)
  }

  const streamUnguarded = (input: LlmCallInput | LlmCall): Stream.Stream<LlmOutputPart, LlmError> =>
    Stream.unwrap(Effect.map(decodeLlmCall(input), (call) => {
      const deadline = deadlineOf(call, limits.streamDeadlineMillis)
      const idle = Math.min(limits.streamIdleMillis, deadlineOf(call, Number.POSITIVE_INFINITY))
      // one race per pull for both limits (PullLimits: 4–5× less overhead than Stream.timeoutOrElse + interruptWhen)
      return pullLimits(streamCall(call, deadline), {
        idleMillis: idle,
        onIdle: () => new StreamLimitExceeded({ limit: "idle", value: idle }),
        deadlineMillis: deadline,
        onDeadline: () => new StreamLimitExceeded({ limit: "deadline", value: deadline })
      })
    }))

  const streamCall = (requested: LlmCall, deadline: number): Stream.Stream<LlmOutputPart, LlmError> =>
    Stream.unwrap(Effect.gen(function*() {
      const context = contextOf(requested, "stream")
      const call = context.call
      // the stream is read after the request's handler returned: keep its error context for the later failures
      const scope = errorHandlers === undefined ? undefined : yield* ErrorScope
      context.state.deadlineAt = (yield* Clock.currentTimeMillis) + deadline
      const targets = yield* resolveTargets(context)
      const primary = targets[0]
      const key = cacheStep.keyOf(context, primary, mergeParams(primary.defaults, call.params))
      if (key !== undefined) {
        const hit = yield* cacheStep.lookup(key, context)
        if (Option.isSome(hit)) {
          const meta = metaOf(context, targets, hit.value)
          yield* recordCost(context, targets, { ...hit.value, meta })
          return replay(hit.value, meta)
        }
      }
      context.state.computed = true
      // reserved in the stream's scope, its release installed with it: a stream that ends without its Finish
      // (failed, dropped, interrupted, also while the reservation is on its way) gives its hold back
      const hold = budget === undefined ? undefined : yield* budget.reserveStream(context, targets)
      const opened = yield* fallback.run(context, targets, streamAttempt(context))
      const accumulator = new StreamAccumulator()
      const body = scope === undefined
        ? opened
        : Stream.tapError(opened, (e) => noteFailure(e, call, context.state.answeredBy, scope))
      let chars = 0
      const paid = (response: LlmResponse | undefined): Effect.Effect<void> =>
        hold === undefined || response === undefined ? Effect.void : hold.settle(response)
      const priced = body.pipe(
        Stream.mapEffect((part: LlmStreamPart): Effect.Effect<LlmOutputPart, StreamLimitExceeded> => {
          chars += part._tag === "TextDelta" || part._tag === "RefusalDelta"
            ? part.delta.length
            : part._tag === "ToolCallDelta"
            ? part.argumentsDelta.length
            : 0
          if (chars > limits.maxStreamChars) {
            return Effect.fail(new StreamLimitExceeded({ limit: "size", value: limits.maxStreamChars }))
          }
          accumulator.add(part)
          if (part._tag !== "Finish") return Effect.succeed(part)
          const response = accumulator.response()
          const finish = { ...part, meta: metaOf(context, targets, response ?? { ...part, text: "", toolCalls: [] }) }
          const stored = key === undefined || response === undefined
            ? Effect.succeed(finish)
            : Effect.as(cacheStep.store(key, response, context), finish)
          const recorded = response === undefined
            ? stored
            : Effect.andThen(recordCost(context, targets, { ...response, meta: finish.meta }), stored)
          return hold === undefined ? recorded : Effect.andThen(paid(response), recorded)
        })
      )
      return priced
    }))

  // the guard runs on the decoded call, before the cache key (its redactions are what gets cached), and on the output
  const generateAny = guard === undefined
    ? generateUnguarded
    : (input: LlmCallInput | LlmCall): Effect.Effect<LlmResult, LlmError> =>
      Effect.flatMap(decodeLlmCall(input), (call) => guard.generate(call, generateUnguarded))
  const streamAny = guard === undefined
    ? streamUnguarded
    : (input: LlmCallInput | LlmCall): Stream.Stream<LlmOutputPart, LlmError> =>
      Stream.unwrap(Effect.map(decodeLlmCall(input), (call) => guard.stream(call, streamUnguarded)))
  // a call's failure that no target's handling saw (decoding, lookup, guard, budget, deadline, stream limits)
  const generate = errorHandlers === undefined
    ? generateAny
    : (input: LlmCallInput | LlmCall): Effect.Effect<LlmResult, LlmError> =>
      Effect.tapError(generateAny(input), (e) => noteFailure(e, input, undefined))
  const stream = errorHandlers === undefined
    ? streamAny
    : (input: LlmCallInput | LlmCall): Stream.Stream<LlmOutputPart, LlmError> =>
      Stream.unwrap(Effect.withFiber((fiber) => {
        const scope = fiber.getRef(ErrorScope)
        return Effect.succeed(Stream.tapError(streamAny(input), (e) => noteFailure(e, input, undefined, scope)))
      }))

  deadLetters?.bind(generate)
  sibling?.bind(generate)
  const embed = makeEmbed({ resolver, registry, rateLimit, breaker: embedBreaker, retry, usage })
  return Llm.of({ generate, stream, embed })
})

/**
 * The LLM pipeline.
 *
 * @example
 * ```ts
 * const answer = yield* Llm.use((llm) => llm.generate({ model: "fast", messages: [{ role: "user", content: "Hi" }] }))
 * answer.text       // the model's answer
 * answer.meta       // { provider, model, cached, attempts, fallbackIndex, costUsd, ... }
 * ```
 */
export class Llm extends Context.Service<Llm, LlmShape>()("troupe/Llm") {
  /** The pipeline over whichever steps are provided (each step has a default layer and a `none` layer). */
  static readonly layer: Layer.Layer<Llm, never, LlmSteps> = Layer.effect(Llm, make)
  /** Structured output through the pipeline: see `GenerateObject` (native modes, repair, `InvalidObjectOutput`). */
  static readonly generateObject = <A, I>(options: GenerateObjectOptions<A, I>) =>
    Llm.use((llm) => generateObject(llm, options))
  /** Embeddings through the pipeline (`Embed`). */
  static readonly embed = (input: EmbedInput) => Llm.use((llm) => llm.embed(input))
}
