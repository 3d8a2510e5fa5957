/**
 * Rate-limit policies as Schemas: a policy is a non-empty list of tiers, each a token bucket, a sliding
 * window or a fixed window, checked atomically (all tiers admit and all consume, or none consume).
 *
 * - `TokenBucket`: `capacity` is the burst; `refillTokens` tokens are added every `refillEvery`. With
 *   `refill: "continuous"` (default) tokens accrue continuously from the Clock (rate = refillTokens /
 *   refillEvery), like rate-limiter-flexible's and Effect's token bucket. With `refill: "interval"` the
 *   tokens arrive in steps at tick boundaries (multiples of `refillEvery` since the epoch), like an OTP
 *   GenServer's `:refill` timer; in memory a supervised ticker fiber performs the ticks.
 * - `SlidingWindow`: at most `limit` cost units in any window of length `window` ending now. Algorithm:
 *   a sliding *log* (memory: a timestamp/cost log per key; Redis: a sorted set scored by time). It is exact:
 *   error bound 0, at the price of O(hits in window) memory per key.
 * - `FixedWindow`: at most `limit` per window; windows are aligned to the epoch (`floor(now / window)`), so
 *   every process and Redis agree on window boundaries. Up to 2 × limit can pass around a boundary (the
 *   classic fixed-window burst); use a sliding window when that matters.
 *
 * Durations are written as milliseconds (`60000`) or Effect duration strings (`"1 minute"`); they encode
 * back to milliseconds, so a `RateLimitPolicy` round-trips through JSON (the config store of issue 4 embeds
 * it in provider config). Decoding failures become `InvalidRateLimitInput` naming the field path.
 *
 * Reuses Effect's `Schema` and `Duration` (`DurationFromMillis`, `DurationFromString`); `compile` (the
 * numeric form the stores run on) is hand-rolled.
 */
import { Duration, Effect, Schema, SchemaIssue } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"
import { InvalidRateLimitInput } from "./RateLimitError.ts"

const PositiveFinite = Schema.Finite.check(Schema.isGreaterThan(0))

/** A strictly positive, finite duration: milliseconds (number) or a duration string such as `"1 minute"`. */
export const PositiveDuration = Schema.Union([Schema.DurationFromMillis, Schema.DurationFromString]).check(
  Schema.makeFilter((d: Duration.Duration) =>
    Duration.isFinite(d) && Duration.toMillis(d) >= 1
      ? undefined
      : "Expected a finite duration of at least 1 millisecond"
  )
)

const TierName = Schema.String.check(
  Schema.isMinLength(1),
  Schema.isMaxLength(64),
  Schema.isPattern(/^[A-Za-z0-9_./:-]+$/)
)

/** Token bucket tier: burst `capacity`, `refillTokens` per `refillEvery`, continuous or interval refill. */
export const TokenBucketTier = Schema.TaggedStruct("TokenBucket", {
  name: Schema.optionalKey(TierName),
  capacity: PositiveFinite,
  refillTokens: PositiveFinite,
  refillEvery: PositiveDuration,
  refill: Schema.optionalKey(Schema.Literals(["continuous", "interval"]))
})
export type TokenBucketTier = typeof TokenBucketTier.Type

/** Sliding window tier (exact sliding log): at most `limit` cost in any `window`. */
export const SlidingWindowTier = Schema.TaggedStruct("SlidingWindow", {
  name: Schema.optionalKey(TierName),
  limit: PositiveFinite,
  window: PositiveDuration
})
export type SlidingWindowTier = typeof SlidingWindowTier.Type

/** Fixed window tier (epoch-aligned windows): at most `limit` cost per window. */
export const FixedWindowTier = Schema.TaggedStruct("FixedWindow", {
  name: Schema.optionalKey(TierName),
  limit: PositiveFinite,
  window: PositiveDuration
})
export type FixedWindowTier = typeof FixedWindowTier.Type

/** One tier of a policy: a token bucket, a sliding window or a fixed window. */
export const RateLimitTier = Schema.Union([TokenBucketTier, SlidingWindowTier, FixedWindowTier])
export type RateLimitTier = typeof RateLimitTier.Type

/**
 * Leased mode (Redis only; opt-in per policy, see `LeaseTable.ts`): a process takes up to `maxTokens` tokens
 * from every tier in one script call and answers checks from them in memory for at most `ttl`.
 * Defaults: `maxTokens` 100, `ttl` the smaller of 1 second and a tenth of the shortest tier period.
 */
export const LeaseOptions = Schema.Struct({
  maxTokens: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000 }))),
  ttl: Schema.optionalKey(PositiveDuration)
})
export type LeaseOptions = typeof LeaseOptions.Type

/** A policy: one or more tiers, all checked atomically. Tier names (given or derived) must be unique. */
export const RateLimitPolicy = Schema.Struct({
  tiers: Schema.NonEmptyArray(RateLimitTier).check(Schema.isMaxLength(16)),
  lease: Schema.optionalKey(LeaseOptions)
})
export type RateLimitPolicy = typeof RateLimitPolicy.Type
/** The JSON form of a policy (durations as milliseconds or strings). */
export type RateLimitPolicyInput = typeof RateLimitPolicy.Encoded

/** A map of named policies (e.g. per provider), as the config store holds them. */
export const RateLimitPolicies = Schema.Record(Schema.String, RateLimitPolicy)
export type RateLimitPolicies = typeof RateLimitPolicies.Type

// ---------------------------------------------------------------------------------------------------------
// compiled form
// ---------------------------------------------------------------------------------------------------------

/** Numeric tier kinds used by the stores (memory and the Redis Lua script share these codes). */
export const TierKind = { BucketContinuous: 0, BucketInterval: 1, FixedWindow: 2, SlidingWindow: 3 } as const
export type TierKind = (typeof TierKind)[keyof typeof TierKind]

/** A tier in the numeric form the stores run on. */
export interface CompiledTier {
  readonly kind: TierKind
  readonly name: string
  /** capacity (bucket) or limit (window) */
  readonly limit: number
  /** refillEvery (bucket) or window length (window), in ms */
  readonly periodMs: number
  /** tokens per period (bucket); equals `limit` for windows */
  readonly refillTokens: number
}

/** A validated policy with resolved tier names, ready for the stores. */
export interface CompiledPolicy {
  readonly name: string
  readonly source: RateLimitPolicy
  readonly tiers: ReadonlyArray<CompiledTier>
  readonly tierNames: ReadonlyArray<string>
  /** true when a tier uses interval refill (the memory store's ticker must run) */
  readonly hasIntervalTier: boolean
  /** leased mode (Redis backend only); undefined when the policy checks every request against Redis */
  readonly lease: CompiledLease | undefined
}

/** A policy's leased-mode settings, resolved. */
export interface CompiledLease {
  /** the largest batch one lease takes */
  readonly maxTokens: number
  /** how long (caller clock, ms) a lease's tokens may be served after it was taken */
  readonly ttlMs: number
  /** false when a tier is a sliding window: unused tokens are then never given back (see `LeaseTable.ts`) */
  readonly returnable: boolean
}

/** Short human label for a duration in ms: 60000 → "1m", 3600000 → "1h", 1500 → "1500ms". */
export const formatPeriod = (ms: number): string => {
  const units: ReadonlyArray<readonly [number, string]> = [[86_400_000, "d"], [3_600_000, "h"], [60_000, "m"], [
    1_000,
    "s"
  ]]
  for (const [size, label] of units) if (ms % size === 0) return `${ms / size}${label}`
  return `${ms}ms`
}

const defaultTierName = (tier: RateLimitTier): string => {
  switch (tier._tag) {
    case "TokenBucket":
      return `bucket:${tier.capacity}/${tier.refillTokens}per${formatPeriod(Duration.toMillis(tier.refillEvery))}`
    case "SlidingWindow":
      return `sliding:${tier.limit}/${formatPeriod(Duration.toMillis(tier.window))}`
    case "FixedWindow":
      return `fixed:${tier.limit}/${formatPeriod(Duration.toMillis(tier.window))}`
  }
}

const compileTier = (tier: RateLimitTier): CompiledTier => {
  const name = tier.name ?? defaultTierName(tier)
  switch (tier._tag) {
    case "TokenBucket":
      return {
        kind: tier.refill === "interval" ? TierKind.BucketInterval : TierKind.BucketContinuous,
        name,
        limit: tier.capacity,
        periodMs: Duration.toMillis(tier.refillEvery),
        refillTokens: tier.refillTokens
      }
    case "SlidingWindow":
      return {
        kind: TierKind.SlidingWindow,
        name,
        limit: tier.limit,
        periodMs: Duration.toMillis(tier.window),
        refillTokens: tier.limit
      }
    case "FixedWindow":
      return {
        kind: TierKind.FixedWindow,
        name,
        limit: tier.limit,
        periodMs: Duration.toMillis(tier.window),
        refillTokens: tier.limit
      }
  }
}

/** Maps a `SchemaError` to `InvalidRateLimitInput`, under `prefix` (e.g. `["policies", "openai"]`). */
export const toInvalidInput =
  (prefix: ReadonlyArray<string | number>) => (error: Schema.SchemaError): InvalidRateLimitInput =>
    Invalid.fromSchemaError(
      error,
      "rate limiter input",
      (f) => new InvalidRateLimitInput(f),
      Invalid.formatPath(prefix)
    )

/**
 * Validates a decoded policy beyond its schema (unique tier names) and compiles it. Fails with
 * `InvalidRateLimitInput` at `tiers[i].name` when two tiers have the same name, given or derived (two unnamed tiers
 * of the same kind, limit and period).
 */
export const compile = (
  name: string,
  policy: RateLimitPolicy,
  prefix: ReadonlyArray<string | number> = []
): Effect.Effect<CompiledPolicy, InvalidRateLimitInput> =>
  Effect.suspend(() => {
    const tiers = policy.tiers.map(compileTier)
    const seen = new Set<string>()
    for (let i = 0; i < tiers.length; i++) {
      // i < tiers.length
      const tierName = (tiers[i] as CompiledTier).name
      if (seen.has(tierName)) {
        return Effect.fail(
          InvalidRateLimitInput.at([...prefix, "tiers", i, "name"], `duplicate tier name "${tierName}"`)
        )
      }
      seen.add(tierName)
    }
    return Effect.succeed({
      name,
      source: policy,
      tiers,
      tierNames: tiers.map((t) => t.name),
      hasIntervalTier: tiers.some((t) => t.kind === TierKind.BucketInterval),
      lease: policy.lease === undefined ? undefined : {
        maxTokens: policy.lease.maxTokens ?? 100,
        ttlMs: policy.lease.ttl === undefined
          ? Math.max(1, Math.min(1_000, Math.min(...tiers.map((t) => t.periodMs)) / 10))
          : Duration.toMillis(policy.lease.ttl),
        returnable: !tiers.some((t) => t.kind === TierKind.SlidingWindow)
      }
    })
  })

/**
 * Decodes untrusted input (JSON or an already-typed policy) into a compiled policy. Fails with
 * `InvalidRateLimitInput` (naming the field under `prefix`) when the input does not match `RateLimitPolicy` (no
 * tiers or more than 16, an unknown tier `_tag`, a limit, capacity or refill that is not a finite number above 0, a
 * duration that is not finite or under 1 ms, a tier name outside `[A-Za-z0-9_./:-]{1,64}`, a lease `maxTokens`
 * outside 1–1,000,000) or when two tiers have the same name (see `compile`).
 *
 * @example
 * ```ts
 * const policy = yield* decodePolicy("openai", { tiers: [{ _tag: "FixedWindow", limit: 60, window: "1 minute" }] })
 * ```
 */
export const decodePolicy = (
  name: string,
  input: unknown,
  prefix: ReadonlyArray<string | number> = []
): Effect.Effect<CompiledPolicy, InvalidRateLimitInput> =>
  (isDecoded(input) ? Schema.encodeUnknownEffect(RateLimitPolicy)(input) : Effect.succeed(input)).pipe(
    Effect.flatMap(Schema.decodeUnknownEffect(RateLimitPolicy)),
    Effect.mapError(toInvalidInput(prefix)),
    Effect.flatMap((policy) => compile(name, policy, prefix))
  )

// A typed policy (Duration values) is re-encoded first so that decoding validates it the same way as JSON.
const isDecoded = (input: unknown): input is RateLimitPolicy =>
  // reading an optional field of a non-null object
  typeof input === "object" && input !== null && Array.isArray((input as { tiers?: unknown }).tiers) &&
  // its tiers field is an array (checked on the line above)
  (input as { tiers: ReadonlyArray<unknown> }).tiers.some((t) =>
    typeof t === "object" && t !== null &&
    Object.values(t).some((v) => Duration.isDuration(v))
  )

// ---------------------------------------------------------------------------------------------------------
// constructors (typed shorthand; still validated when handed to a limiter)
// ---------------------------------------------------------------------------------------------------------

/** A token bucket tier. */
export const tokenBucket = (options: {
  readonly capacity: number
  readonly refillTokens: number
  readonly refillEvery: Duration.Input
  readonly refill?: "continuous" | "interval"
  readonly name?: string
}): TokenBucketTier => ({
  _tag: "TokenBucket",
  capacity: options.capacity,
  refillTokens: options.refillTokens,
  refillEvery: Duration.fromInputUnsafe(options.refillEvery),
  ...(options.refill !== undefined ? { refill: options.refill } : {}),
  ...(options.name !== undefined ? { name: options.name } : {})
})

/** A sliding window tier (exact sliding log). */
export const slidingWindow = (
  options: { readonly limit: number; readonly window: Duration.Input; readonly name?: string }
): SlidingWindowTier => ({
  _tag: "SlidingWindow",
  limit: options.limit,
  window: Duration.fromInputUnsafe(options.window),
  ...(options.name !== undefined ? { name: options.name } : {})
})

/** A fixed window tier (epoch-aligned). */
export const fixedWindow = (
  options: { readonly limit: number; readonly window: Duration.Input; readonly name?: string }
): FixedWindowTier => ({
  _tag: "FixedWindow",
  limit: options.limit,
  window: Duration.fromInputUnsafe(options.window),
  ...(options.name !== undefined ? { name: options.name } : {})
})

/** A policy from tiers: `policy(tokenBucket({...}), fixedWindow({...}))`. */
export const policy = (first: RateLimitTier, ...rest: ReadonlyArray<RateLimitTier>): RateLimitPolicy => ({
  tiers: [first, ...rest]
})
