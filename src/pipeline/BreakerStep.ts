/**
 * `BreakerStep`: one circuit breaker per provider (effect's persistence `CircuitBreaker`, key `llm:<provider>`),
 * around the retries of one provider model, so the breaker sees one outcome per call.
 *
 * Outcomes: a success closes / keeps closed; a retryable provider failure (429, 5xx, overload, timeout, connection
 * reset) or a defect counts as a failure — with the provider's `Retry-After` as the opening hint; anything else
 * (auth, validation, content policy, context length, our own rate-limit refusal, interruption) is ignored: it says
 * nothing about the provider's health. Default policy: open after 5 consecutive failures for 30 s. An open breaker
 * rejects at once with `CircuitBreakerError`, which the `FallbackStep` treats as "try the next model".
 *
 * Telemetry: the breaker's `transitions` are consumed by a supervised task (`Supervisor.start` + `ChildSpec.task`
 * from `src/runtime`, restarted if it crashes) and become `troupe.breaker.opened` / `half_opened` / `closed`
 * events (metadata `breaker`, `provider`, `from`); each rejected call emits `troupe.breaker.rejected`. The gauge
 * `troupe_breaker_open` (attribute `provider`) is 1 while this process sees the provider's circuit open, else 0; its
 * series exists from a provider's first call. A circuit and its series exist only for a route the registry has: the
 * `Llm` pipeline (`generate`, `stream`, `embed`) looks the route up before the breaker, so a call naming an unknown
 * provider fails with `ProviderNotFound` and builds none. Without a
 * `TelemetryHub` the transitions are logged. The state store is effect's (`layerStoreMemory`, or
 * `layerStoreRedis` to share circuits between processes: `Troupe.layer({ redis })` uses it, so gateway processes on
 * one Redis see the same open circuits). A store that fails (Redis unreachable) fails open — effect's breaker runs
 * the call unrecorded and logs the store error; a call is never run twice and keeps its own outcome. Mirrors
 * LiteLLM's deployment cooldowns and Portkey's circuit breaker. `BreakerStep.none` disables it.
 *
 * @since 0.1.0
 */
import { Cause, Context, Duration, Effect, Exit, Layer, Metric, Option, Schema, Stream } from "effect"
import { dual } from "effect/Function"
import { CircuitBreaker } from "effect/persistence"
import { isProviderError } from "../llm/index.ts"
import { ChildSpec, Supervisor } from "../runtime/index.ts"
import { Events, TelemetryHub } from "../telemetry/index.ts"
import { invalidOptions, InvalidPipelineOptions } from "./PipelineError.ts"
import type { Target } from "./Target.ts"

/** The service interface. */
export interface BreakerStepShape {
  /**
   * Runs `attempt` through the circuit of `target`'s provider. Fails with `CircuitBreakerError`, without running
   * `attempt`, when that circuit is open (reason `CircuitOpen`, with `retryAfter`) or half-open with its trial call in
   * flight (`CircuitHalfOpen`); a store that cannot admit the call lets it through. `attempt`'s own failures pass
   * through unchanged (retryable provider errors and defects count toward tripping).
   */
  readonly around: {
    (
      target: Target
    ): <A, E, R>(attempt: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitBreaker.CircuitBreakerError, R>
    <A, E, R>(
      attempt: Effect.Effect<A, E, R>,
      target: Target
    ): Effect.Effect<A, E | CircuitBreaker.CircuitBreakerError, R>
  }
  /**
   * The state of a provider's circuit. Fails with `CircuitBreakerError` (reason `CircuitBreakerStoreError`) when the
   * circuit store cannot be read, e.g. a Redis store that is unreachable.
   */
  readonly state: (provider: string) => Effect.Effect<CircuitBreaker.State, CircuitBreaker.CircuitBreakerError>
}

const DurationInput = Schema.Union([
  Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  Schema.String.check(Schema.isMinLength(1))
])

/** Options of `BreakerStep.layer` (decoded with Schema). */
export const BreakerStepOptions = Schema.Struct({
  /** Consecutive failures that open a provider's circuit. Default 5. */
  failures: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 }))),
  /** Open when the failure fraction of the last `size` calls reaches `threshold` (replaces `failures`). */
  rate: Schema.optionalKey(Schema.Struct({
    threshold: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })),
    size: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000 })),
    minimumCalls: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)))
  })),
  /** How long a circuit stays open (ms or a duration string). Default 30 seconds. */
  openDuration: Schema.optionalKey(DurationInput),
  /** Cap of a `Retry-After` hint lengthening an opening. Default 5 minutes. */
  maxOpenDuration: Schema.optionalKey(DurationInput),
  /** Breaker key prefix (one circuit per provider under it). Default `"llm:"`. */
  keyPrefix: Schema.optionalKey(Schema.String)
})
export type BreakerStepOptions = typeof BreakerStepOptions.Encoded

const outcomeOf = (exit: Exit.Exit<unknown, unknown>): CircuitBreaker.Outcome => {
  if (Exit.isSuccess(exit)) return CircuitBreaker.success
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isNone(error)) return CircuitBreaker.failure() // a defect
  const e = error.value
  if (!isProviderError(e) || !e.retryable) return CircuitBreaker.ignored
  const hint = "retryAfterMillis" in e ? e.retryAfterMillis : undefined
  return CircuitBreaker.failure(hint === undefined ? undefined : { retryAfter: Duration.millis(hint) })
}

const isRejection = (u: unknown): u is CircuitBreaker.CircuitBreakerError =>
  u instanceof CircuitBreaker.CircuitBreakerError && u.reason._tag !== "CircuitBreakerStoreError"

const duration = (
  input: number | string | undefined,
  fallback: Duration.Duration,
  path: string
): Effect.Effect<Duration.Duration, InvalidPipelineOptions> => {
  if (input === undefined) return Exit.succeed(fallback)
  // fromInput validates any input and returns undefined for a bad one
  const d = Duration.fromInput(input as Duration.Input)
  return d._tag === "Some"
    ? Exit.succeed(d.value)
    : Exit.fail(
      InvalidPipelineOptions.at(
        "BreakerStep",
        path,
        `Expected a duration such as "30 seconds", got ${JSON.stringify(input)}`
      )
    )
}

const openGauge = Metric.gauge("troupe_breaker_open", {
  description: "1 while a provider's circuit is open (calls rejected at once), else 0"
})

const make = (input: BreakerStepOptions) =>
  Effect.gen(function*() {
    const options = yield* Schema.decodeUnknownEffect(BreakerStepOptions)(input, { errors: "all" }).pipe(
      Effect.mapError((e) => invalidOptions("BreakerStep", e.issue))
    )
    const openDuration = yield* duration(options.openDuration, Duration.seconds(30), "openDuration")
    const maxOpenDuration = yield* duration(options.maxOpenDuration, Duration.minutes(5), "maxOpenDuration")
    const tripPolicy = options.rate !== undefined
      ? CircuitBreaker.rate({
        threshold: options.rate.threshold,
        size: options.rate.size,
        minimumCalls: Math.min(options.rate.minimumCalls ?? options.rate.size, options.rate.size)
      })
      : CircuitBreaker.consecutive(options.failures ?? 5)
    const breaker = yield* CircuitBreaker.make({ tripPolicy, openDuration, maxOpenDuration })
    const prefix = options.keyPrefix ?? "llm:"
    const hub = Option.getOrUndefined(yield* Effect.serviceOption(TelemetryHub))

    const providerOf = (key: string): string => key.startsWith(prefix) ? key.slice(prefix.length) : key
    const report = (transition: CircuitBreaker.Transition): Effect.Effect<void> => {
      const provider = providerOf(transition.key)
      const metadata = { breaker: transition.key, provider, from: transition.from }
      Effect.runSync(Metric.update(Metric.withAttributes(openGauge, { provider }), transition.to === "Open" ? 1 : 0))
      if (hub === undefined) {
        return Effect.logInfo(`circuit breaker ${transition.key}: ${transition.from} -> ${transition.to}`)
      }
      switch (transition.to) {
        case "Open":
          return hub.emit(Events.breakerOpened, {
            count: 1,
            retry_after: Duration.toMillis(transition.retryAfter),
            consecutive_openings: transition.consecutiveOpenings
          }, metadata)
        case "HalfOpen":
          return hub.emit(Events.breakerHalfOpened, { count: 1 }, metadata)
        case "Closed":
          return hub.emit(Events.breakerClosed, { count: 1 }, metadata)
      }
    }
    yield* Supervisor.start({
      name: "llm-breaker",
      strategy: "oneForOne",
      maxRestarts: 3,
      maxSeconds: 5,
      children: [ChildSpec.task({ id: "transitions", run: Stream.runForEach(breaker.transitions, report) })]
    }).pipe(Effect.orDie)

    const rejected = (key: string, error: CircuitBreaker.CircuitBreakerError): void => {
      if (hub === undefined) return
      const reason = error.reason
      hub.emitUnsafe(Events.breakerRejected, {
        count: 1,
        ...(reason._tag === "CircuitOpen" ? { retry_after: Duration.toMillis(reason.retryAfter) } : {})
      }, { breaker: key, provider: providerOf(key), reason: reason._tag })
    }

    interface Entry {
      readonly key: string
      readonly options: { readonly key: string; readonly classify: typeof outcomeOf }
      readonly onError: (error: unknown) => Effect.Effect<void>
    }
    // per provider, built once: the execute options (key and the shared classifier) and the rejection reporter
    const keys = new Map<string, Entry>()
    const entryOf = (provider: string): Entry => {
      let entry = keys.get(provider)
      if (entry === undefined) {
        const key = prefix + provider
        Effect.runSync(Metric.update(Metric.withAttributes(openGauge, { provider }), 0)) // the series exists from the first call
        entry = {
          key,
          options: { key, classify: outcomeOf },
          onError: (error) => {
            if (isRejection(error)) rejected(key, error)
            return Effect.void
          }
        }
        keys.set(provider, entry)
      }
      return entry
    }

    return BreakerStep.of({
      around: dual(2, <A, E, R>(attempt: Effect.Effect<A, E, R>, target: Target) => {
        const entry = entryOf(target.route) // the route's circuit: a scripted stand-in keeps its route's breaker
        return Effect.tapError(breaker.execute(attempt, entry.options), entry.onError)
      }),
      state: (provider) => breaker.state(entryOf(provider).key)
    })
  })

/**
 * The circuit-breaker step.
 *
 * @example
 * ```ts
 * const step = BreakerStep.layerMemory({ failures: 3, openDuration: "1 minute" })
 * ```
 */
export class BreakerStep extends Context.Service<BreakerStep, BreakerStepShape>()("troupe/pipeline/BreakerStep") {
  /**
   * Breakers over a `CircuitBreakerStore` of your choice (e.g. `CircuitBreaker.layerStoreRedis()`). Fails to build with
   * `InvalidPipelineOptions` (naming the field) when `failures` is not an integer from 1 to 1,000, `rate.threshold` is
   * outside 0–1, `rate.size` is not an integer from 1 to 10,000, `rate.minimumCalls` is below 1, or `openDuration` /
   * `maxOpenDuration` is neither a non-negative number of ms nor a duration string.
   */
  static readonly layer = (
    options: BreakerStepOptions = {}
  ): Layer.Layer<BreakerStep, InvalidPipelineOptions, CircuitBreaker.CircuitBreakerStore> =>
    Layer.effect(BreakerStep, make(options))

  /**
   * Breakers with process-local state. Fails to build with `InvalidPipelineOptions` (naming the field) when `failures`
   * is not an integer from 1 to 1,000, `rate.threshold` is outside 0–1, `rate.size` is not an integer from 1 to 10,000,
   * `rate.minimumCalls` is below 1, or `openDuration` / `maxOpenDuration` is neither a non-negative number of ms nor a
   * duration string.
   */
  static readonly layerMemory = (options: BreakerStepOptions = {}): Layer.Layer<BreakerStep, InvalidPipelineOptions> =>
    BreakerStep.layer(options).pipe(Layer.provide(CircuitBreaker.layerStoreMemory()))

  /** No circuit breaker. */
  static readonly none: Layer.Layer<BreakerStep> = Layer.succeed(BreakerStep, {
    around: dual(2, <A, E, R>(attempt: Effect.Effect<A, E, R>, _target: Target) => attempt),
    state: (provider) => Effect.succeed({ _tag: "Closed", key: provider })
  })
}
