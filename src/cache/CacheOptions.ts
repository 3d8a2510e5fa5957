/**
 * Cache options: their Schema, their defaults, and their decoding into a resolved `CacheConfig`.
 *
 * Options are untrusted input: every data field is decoded with Schema at layer construction, and a bad field
 * fails with `InvalidCacheOptions` naming its dotted path (e.g. `namespaces.llm.ttl`). Durations accept every
 * `Duration.Input` form (`5000`, `"5 minutes"`, `Duration.minutes(5)`, `"Infinity"`). Per-call options (`ttl` of
 * `put`) go through the same duration decoder, with a fast path for plain numbers so the hot path stays cheap.
 *
 * Namespaces ("content types") are key prefixes: a key belongs to namespace `ns` when it starts with `ns:`
 * (the text before the first `:`). A namespace may carry its own TTL, used when a call gives none.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Option, Schema, SchemaIssue } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"
import { InvalidCacheOptions } from "./CacheError.ts"

/** Default `maxKeyBytes`: 1 KiB of UTF-8. */
export const DEFAULT_MAX_KEY_BYTES = 1024
/** Default `maxValueBytes`: 4 MiB (as measured by `sizeOf`, or the encoded JSON for the Redis tier). */
export const DEFAULT_MAX_VALUE_BYTES = 4 * 1024 * 1024
/** Default `maxEntries`: 10,000 live entries (LRU eviction beyond). */
export const DEFAULT_MAX_ENTRIES = 10_000
/** Default `maxBytes`: 64 MiB of entries as measured by `sizeOf` (LRU eviction beyond). */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024
/** Default sweep interval of the TTL sweeper: 1 second. */
export const DEFAULT_SWEEP_INTERVAL_MS = 1000

/** Options shared by every cache layer. */
export interface CacheOptions<A> {
  /** Name of this cache in metrics (`cache` attribute) and logs. Default `"default"`. */
  readonly name?: string
  /** Upper bound on live entries; the least recently used entry is evicted beyond it. Default 10,000. */
  readonly maxEntries?: number
  /** Upper bound on the sum of entry sizes (see `sizeOf`); LRU eviction beyond it. Default 64 MiB. */
  readonly maxBytes?: number
  /**
   * Size of an entry in bytes. Default: a cheap estimate (UTF-16 string length × 2, JSON length for objects).
   * Must return a finite number >= 0 (a fraction counts as the next whole byte); anything else fails the `put` with
   * `InvalidCacheOptions` (path `sizeOf`).
   */
  readonly sizeOf?: (value: A, key: string) => number
  /** TTL of entries whose call and namespace give none. Default: no expiry. */
  readonly defaultTtl?: Duration.Input
  /** Per-namespace settings; a key `ns:rest` belongs to namespace `ns`. */
  readonly namespaces?: Readonly<Record<string, { readonly ttl?: Duration.Input }>>
  /** Default TTL of cached failures in `getOrCompute`. Default: failures are not cached. */
  readonly failureTtl?: Duration.Input
  /** Largest accepted key, in UTF-8 bytes. Default 1024. */
  readonly maxKeyBytes?: number
  /** Largest accepted value, in bytes as measured by `sizeOf`. Default 4 MiB. */
  readonly maxValueBytes?: number
  /** How often the supervised sweeper removes expired entries (each sweep is O(entries)). Default 1 second. */
  readonly sweepInterval?: Duration.Input
  /** Called after every sweep with the number of expired entries removed (observability hook). */
  readonly onSweep?: (removed: number) => void
}

/** The resolved, validated configuration (durations in milliseconds; `Infinity` = no expiry). */
export interface CacheConfig<A> {
  readonly name: string
  readonly maxEntries: number
  readonly maxBytes: number
  readonly sizeOf: ((value: A, key: string) => number) | undefined
  readonly defaultTtlMs: number
  readonly namespaceTtlMs: ReadonlyMap<string, number>
  readonly failureTtlMs: number | undefined
  readonly maxKeyBytes: number
  readonly maxValueBytes: number
  readonly sweepIntervalMs: number
  readonly onSweep: ((removed: number) => void) | undefined
}

const durationMessage = "expected a positive duration (e.g. 5000, \"5 minutes\", Duration.minutes(5), \"Infinity\")"

/** Decodes a `Duration.Input` to milliseconds (> 0, `Infinity` allowed); `undefined` when invalid. */
export const durationToMillis = (input: unknown): number | undefined => {
  if (typeof input === "number") return input > 0 && !Number.isNaN(input) ? input : undefined
  // fromInput validates any input and returns undefined for a bad one
  const decoded = Duration.fromInput(input as Duration.Input)
  if (Option.isNone(decoded)) return undefined
  const ms = Duration.toMillis(decoded.value)
  return ms > 0 ? ms : undefined
}

/** A Schema for a positive `Duration.Input`. */
export const PositiveDuration = Schema.Any.pipe(
  Schema.check(Schema.makeFilter((u: unknown) => durationToMillis(u) !== undefined || durationMessage))
)

const PositiveInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))
const Callback = Schema.Any.pipe(
  Schema.check(Schema.makeFilter((u: unknown) => typeof u === "function" || "expected a function"))
)

/** Schema of the data fields of `CacheOptions` (functions are checked to be functions). */
export const CacheOptionsSchema = Schema.Struct({
  name: Schema.optionalKey(Schema.String.pipe(Schema.check(Schema.isMinLength(1)))),
  maxEntries: Schema.optionalKey(PositiveInt),
  maxBytes: Schema.optionalKey(PositiveInt),
  sizeOf: Schema.optionalKey(Callback),
  defaultTtl: Schema.optionalKey(PositiveDuration),
  namespaces: Schema.optionalKey(
    Schema.Record(
      Schema.String.pipe(Schema.check(Schema.isPattern(/^[^:]+$/))),
      Schema.Struct({ ttl: Schema.optionalKey(PositiveDuration) })
    )
  ),
  failureTtl: Schema.optionalKey(PositiveDuration),
  maxKeyBytes: Schema.optionalKey(PositiveInt),
  maxValueBytes: Schema.optionalKey(PositiveInt),
  sweepInterval: Schema.optionalKey(PositiveDuration),
  onSweep: Schema.optionalKey(Callback)
})

/** Turns a Schema issue into `InvalidCacheOptions` naming the first bad field's path (prefixed by `root`). */
export const issueToError = (issue: SchemaIssue.Issue, root: string): InvalidCacheOptions =>
  new InvalidCacheOptions({ subject: "cache options", ...Invalid.describeIssue(issue, root) })

/** Decodes `input` with `schema` (unknown keys are ignored), failing with `InvalidCacheOptions`. */
export const decodeWith = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  input: unknown,
  root = ""
): Effect.Effect<S["Type"], InvalidCacheOptions> =>
  Schema.decodeUnknownEffect(schema)(input).pipe(
    Effect.mapError((e) => issueToError(e.issue, root))
  )

/**
 * Decodes and resolves `CacheOptions` into a `CacheConfig`. Fails with `InvalidCacheOptions` naming the first bad
 * field's path when `options` does not match `CacheOptionsSchema` (a bound not an integer >= 1, a TTL not a
 * positive duration, a namespace name containing `:`, a callback not a function).
 */
export const resolveCacheOptions = <A>(
  options: CacheOptions<A> | undefined
): Effect.Effect<CacheConfig<A>, InvalidCacheOptions> =>
  Effect.gen(function*() {
    const o = yield* decodeWith(CacheOptionsSchema, options ?? {})
    const ms = (d: unknown, fallback: number): number => d === undefined ? fallback : durationToMillis(d) ?? fallback
    const namespaceTtlMs = new Map<string, number>()
    for (const [ns, settings] of Object.entries(o.namespaces ?? {})) {
      if (settings.ttl !== undefined) namespaceTtlMs.set(ns, ms(settings.ttl, Infinity))
    }
    return {
      name: o.name ?? "default",
      maxEntries: o.maxEntries ?? DEFAULT_MAX_ENTRIES,
      maxBytes: o.maxBytes ?? DEFAULT_MAX_BYTES,
      sizeOf: options?.sizeOf,
      defaultTtlMs: ms(o.defaultTtl, Infinity),
      namespaceTtlMs,
      failureTtlMs: o.failureTtl === undefined ? undefined : ms(o.failureTtl, Infinity),
      maxKeyBytes: o.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES,
      maxValueBytes: o.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES,
      sweepIntervalMs: ms(o.sweepInterval, DEFAULT_SWEEP_INTERVAL_MS),
      onSweep: options?.onSweep
    }
  })

/** The namespace of a key: the text before its first `:`, or `undefined` when it has none. */
export const namespaceOf = (key: string): string | undefined => {
  const i = key.indexOf(":")
  return i > 0 ? key.slice(0, i) : undefined
}

/**
 * Decodes a per-call TTL (`path` names the field in errors). Plain positive numbers take a fast path; anything
 * else goes through `Duration.fromInput`.
 */
export const decodeCallTtl = (input: unknown, path: string): number | InvalidCacheOptions => {
  const ms = durationToMillis(input)
  return ms === undefined ? InvalidCacheOptions.at(path, durationMessage) : ms
}
