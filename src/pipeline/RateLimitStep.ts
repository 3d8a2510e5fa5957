/**
 * `RateLimitStep`: troupe's `RateLimiter` in front of each provider model — one request, and optionally the
 * call's estimated input tokens (the `TokenCounter` hook: ~4 characters per token by default, or a real BPE counter) — before the breaker, retries
 * and the provider.
 *
 * Keys are the limiter's canonical scopes, on the call's route (a scripted stand-in is limited as the provider it stands
 * in for): requests on `provider=<p>|model=<m>` (the limiter picks the provider's
 * policy from the key: `providerDefaults` or the config's `providers.<p>.rateLimit`), tokens on
 * `provider=<p>|model=<m>|client=tokens` under the named `tokensPolicy` (default: `llm-tokens` when installed). A call with an API-key override is limited
 * on that key's hash (`apiKey=<sha256 prefix>`), since provider limits are per key. In `acquire` mode (default) the
 * call waits its FIFO turn up to `maxWait` (default 30 s); in `check` mode it never waits. A refusal fails with
 * `RateLimitRefused` and the provider is not contacted. A cache hit never reaches this step.
 *
 * The tokens cost is the `TokenCounter`'s estimate, which a custom counter may get wrong: an estimate of 0 or less
 * reserves nothing (the tokens check is skipped), and one that is not a finite number (`NaN`, ±`Infinity`) is
 * refused as a cost that never fits (`RateLimitRefused`, resource `tokens`, `retryAfterMillis` Infinity, tier `""`)
 * before the request slot is taken — never a defect.
 *
 * The precomputed keys per provider model are an LRU table of `MAX_KEYED_MODELS` (1,024) entries: naming
 * `provider:<anything>` cannot grow it without bound.
 *
 * Mirrors LiteLLM's router RPM/TPM limits and Portkey's rate-limit guardrails; reuses `src/ratelimit`.
 * `RateLimitStep.none` disables it.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Redacted, Schema } from "effect"
import { dual } from "effect/Function"
import { LruMap } from "../internal/LruMap.ts"
import { TokenCounter } from "../llm/Tokenizer.ts"
import type { RateLimitStoreError } from "../ratelimit/index.ts"
import { DEFAULT_TOKENS_POLICY, RateLimiter, RateLimitKey } from "../ratelimit/index.ts"
import type { RateLimited as LimiterRefusal } from "../ratelimit/index.ts"
import type { CheckError } from "../ratelimit/index.ts"
import { invalidOptions, InvalidPipelineOptions, RateLimitRefused } from "./PipelineError.ts"
import type { CallContext, Target } from "./Target.ts"

/** The service interface. */
export interface RateLimitStepShape {
  /**
   * Admits one call to `target` (and its estimated input tokens), then runs `attempt`. Fails with `RateLimitRefused`,
   * without running `attempt`, when the limiter refuses the request or the tokens: in `check` mode when a tier has no
   * room now, in `acquire` mode when the wait would exceed `maxWait` or the cost exceeds a tier's limit (a tokens
   * refusal gives the request slot back), or when the token estimate is not a finite number; with `RateLimitStoreError` when the limiter's Redis store fails under
   * `onStoreError: "failClosed"`. `attempt`'s own failures pass through.
   */
  readonly around: {
    (target: Target, context: CallContext): <A, E, R>(
      attempt: Effect.Effect<A, E, R>
    ) => Effect.Effect<A, E | RateLimitRefused | RateLimitStoreError, R>
    <A, E, R>(
      attempt: Effect.Effect<A, E, R>,
      target: Target,
      context: CallContext
    ): Effect.Effect<A, E | RateLimitRefused | RateLimitStoreError, R>
  }
}

/** Options of `RateLimitStep.layer` (decoded with Schema). */
export const RateLimitStepOptions = Schema.Struct({
  /** `acquire`: wait in FIFO order up to `maxWait` (default); `check`: refuse at once. */
  mode: Schema.optionalKey(Schema.Literals(["acquire", "check"])),
  /** Longest wait in `acquire` mode (ms or a duration string). Default 30 seconds. */
  maxWait: Schema.optionalKey(Schema.Union([Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)), Schema.String])),
  /** Name of the limiter policy for estimated tokens (must be installed). Absent: tokens are not limited. */
  tokensPolicy: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1)))
})
export type RateLimitStepOptions = typeof RateLimitStepOptions.Encoded

/** How many provider models keep precomputed limiter keys (least recently used evicted past it). */
export const MAX_KEYED_MODELS = 1024

interface Keys {
  readonly requests: string
  readonly tokens: string
  /** Gives the request slot back (after a tokens refusal: the call does not happen). */
  readonly giveBack: Effect.Effect<void>
}

const refusal = (resource: "requests" | "tokens") => (e: LimiterRefusal): RateLimitRefused =>
  new RateLimitRefused({
    key: e.key,
    policy: e.policy,
    tier: e.tier,
    resource,
    cost: e.cost,
    retryAfterMillis: e.retryAfterMillis
  })

/** The refusal of a token estimate that is not a finite number: it can never fit (no tier was checked). */
const unfit = (key: string, policy: string, cost: number): RateLimitRefused =>
  new RateLimitRefused({
    key,
    policy,
    tier: "",
    resource: "tokens",
    cost,
    retryAfterMillis: Number.POSITIVE_INFINITY
  })

const make = (input: RateLimitStepOptions) =>
  Effect.gen(function*() {
    const options = yield* Schema.decodeUnknownEffect(RateLimitStepOptions)(input, { errors: "all" }).pipe(
      Effect.mapError((e) => invalidOptions("RateLimitStep", e.issue))
    )
    const limiter = yield* RateLimiter
    // the token counter hook (a Reference: ~4 characters per token unless a counter such as `Tokenizer.bpe` is provided)
    const counter = yield* TokenCounter
    // fromInput validates any input and returns undefined for a bad one
    const parsed = options.maxWait === undefined ? undefined : Duration.fromInput(options.maxWait as Duration.Input)
    if (parsed !== undefined && parsed._tag === "None") {
      return yield* InvalidPipelineOptions.at(
        "RateLimitStep",
        "maxWait",
        `Expected a duration, got ${String(options.maxWait)}`
      )
    }
    const wait = parsed === undefined ? Duration.seconds(30) : parsed.value
    const installed = yield* limiter.policies
    // estimated tokens are limited under the named policy, or by default under `llm-tokens` when the limiter has it
    // (troupe's provider defaults do: 200,000 tokens per minute per provider model)
    const tokensPolicy = options.tokensPolicy ??
      (installed.has(DEFAULT_TOKENS_POLICY) ? DEFAULT_TOKENS_POLICY : undefined)
    if (tokensPolicy !== undefined && !installed.has(tokensPolicy)) {
      return yield* InvalidPipelineOptions.at(
        "RateLimitStep",
        "tokensPolicy",
        `no limiter policy named "${tokensPolicy}" is installed`
      )
    }
    const acquire = options.mode !== "check"
    const requestOptions = { cost: 1 }
    const checkOptions = (cost: number, policy: string | undefined) =>
      policy === undefined ? (cost === 1 ? requestOptions : { cost }) : { cost, policy }
    // keys are built by RateLimitKey and the tokens policy was checked above: invalid input is a defect here.
    // A refusal of the limiter becomes `RateLimitRefused` (after `onRefused`, e.g. giving a slot back).
    const settle = (
      error: CheckError,
      resource: "requests" | "tokens",
      onRefused: Effect.Effect<void> | undefined
    ): Effect.Effect<never, RateLimitRefused | RateLimitStoreError> => {
      switch (error._tag) {
        case "InvalidRateLimitInput":
          return Effect.die(error)
        case "RateLimited":
          return onRefused === undefined
            ? Effect.fail(refusal(resource)(error))
            : Effect.andThen(onRefused, Effect.fail(refusal(resource)(error)))
        default:
          return Effect.fail(error)
      }
    }
    // `acquire` mode tries a `check` first (a synchronous decision on the memory backend; it never overtakes
    // queued waiters) and only queues when that is refused. One `catch` frame per admission on the success path.
    const admit = (
      key: string,
      cost: number,
      policy: string | undefined,
      resource: "requests" | "tokens",
      onRefused: Effect.Effect<void> | undefined
    ): Effect.Effect<unknown, RateLimitRefused | RateLimitStoreError> =>
      Effect.catch(limiter.check(key, checkOptions(cost, policy)), (error) =>
        acquire && error._tag === "RateLimited"
          ? Effect.catch(
            limiter.acquire(key, policy === undefined ? { cost, timeout: wait } : { cost, timeout: wait, policy }),
            (error) => settle(error, resource, onRefused)
          )
          : settle(error, resource, onRefused))

    // bounded: any `provider:<model>` a caller names adds an entry (least recently used evicted past the bound)
    const keysByRoute = new LruMap<string, Keys>(MAX_KEYED_MODELS)
    const makeKeys = (requests: string, tokens: string): Keys => ({
      requests,
      tokens,
      giveBack: Effect.ignore(limiter.reward(requests, 1))
    })
    const keysOf = (target: Target, context: CallContext): Keys => {
      const apiKey = context.call.options?.apiKey
      if (apiKey !== undefined) {
        const raw = Redacted.value(apiKey) // hashed by RateLimitKey.make, never stored
        return makeKeys(
          RateLimitKey.make({ provider: target.route, model: target.model, apiKey: raw }),
          RateLimitKey.make({ provider: target.route, model: target.model, client: "tokens", apiKey: raw })
        )
      }
      const routeKey = target.route === target.provider ? target.spec : `${target.route}:${target.model}`
      let keys = keysByRoute.get(routeKey)
      if (keys === undefined) {
        keys = makeKeys(
          RateLimitKey.model(target.route, target.model),
          RateLimitKey.make({ provider: target.route, model: target.model, client: "tokens" })
        )
        keysByRoute.set(routeKey, keys)
      }
      return keys
    }

    return RateLimitStep.of({
      around: dual(3, <A, E, R>(attempt: Effect.Effect<A, E, R>, target: Target, context: CallContext) => {
        const keys = keysOf(target, context)
        const requests = admit(keys.requests, 1, undefined, "requests", undefined)
        if (tokensPolicy === undefined) return Effect.andThen(requests, attempt)
        // one estimate per call: the budget step may have counted it already
        const estimate = context.state.estimateInput(counter, context.call, target.model)
        // a custom counter's answer is untrusted (see the module doc): 0 or less reserves nothing, a non-finite
        // one never fits (refused before the request slot is taken)
        if (!Number.isFinite(estimate)) return Effect.fail(unfit(keys.tokens, tokensPolicy, estimate))
        if (estimate <= 0) return Effect.andThen(requests, attempt)
        // a tokens refusal gives the request slot back: the call does not happen
        const tokens = admit(keys.tokens, estimate, tokensPolicy, "tokens", keys.giveBack)
        return Effect.andThen(requests, Effect.andThen(tokens, attempt))
      })
    })
  })

/**
 * The rate-limit step.
 *
 * @example
 * ```ts
 * const step = RateLimitStep.layer({ maxWait: "10 seconds", tokensPolicy: "llm-tokens" })
 *   .pipe(Layer.provide(RateLimiter.layerMemory({ policies: { ...providerDefaults, "llm-tokens": tokenPolicy } })))
 * ```
 */
export class RateLimitStep
  extends Context.Service<RateLimitStep, RateLimitStepShape>()("troupe/pipeline/RateLimitStep")
{
  /** Limits calls with the `RateLimiter` service. */
  static readonly layer = (
    options: RateLimitStepOptions = {}
  ): Layer.Layer<RateLimitStep, InvalidPipelineOptions, RateLimiter> => Layer.effect(RateLimitStep, make(options))

  /** No rate limiting. */
  static readonly none: Layer.Layer<RateLimitStep> = Layer.succeed(RateLimitStep, {
    around: dual(3, <A, E, R>(attempt: Effect.Effect<A, E, R>, _target: Target, _context: CallContext) => attempt)
  })
}
