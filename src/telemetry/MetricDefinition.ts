/**
 * Metric definitions as data, in the style of Elixir's `Telemetry.Metrics`.
 *
 * A definition names a metric kind (`counter`, `sum`, `distribution` — a histogram with explicit buckets —,
 * `last_value`, `summary`), the event it listens to, the measurement it reads, the metadata keys that become tags,
 * a description and a unit. `Telemetry.Metrics` leaves storage to reporters; here the hub's own handlers write the
 * values into Effect `Metric`s (see `MetricRecorder.ts`), so Prometheus and OpenTelemetry export them unchanged.
 *
 * Names are Prometheus names (`[a-zA-Z_:][a-zA-Z0-9_:]*`); counters and sums must end in `_total` and nothing else
 * may, so the exposition passes `promtool check metrics` lint. `scale` converts units like `Telemetry.Metrics`'
 * `unit: {:native, :second}` (durations are emitted in nanoseconds; duration metrics use `scale: 1e-9`).
 * A definition is skipped for an event that lacks its measurement (as `Telemetry.Metrics` reporters do).
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { fromSchemaError, type InvalidTelemetryInput } from "./TelemetryError.ts"
import type { EventName } from "./TelemetryEvent.ts"
import { EventNameSchema } from "./TelemetryEvent.ts"

interface DefinitionBase {
  /** Prometheus metric name, e.g. `troupe_llm_calls_total`. */
  readonly name: string
  /** The exact event the metric is bound to. */
  readonly event: EventName
  /** The measurement read from the event (ignored by `counter`, which counts events). */
  readonly measurement: string
  /** Metadata keys turned into metric attributes (Prometheus labels); a missing key becomes `"unknown"`. */
  readonly tags: ReadonlyArray<string>
  readonly description: string
  /** The unit after scaling, for dashboards (`seconds`, `tokens`, `usd`, `1`). */
  readonly unit: string
  /** Multiplier applied to the measurement before recording (`1e-9`: nanoseconds to seconds). */
  readonly scale: number
}

/** Counts events (`Telemetry.Metrics.counter`). */
export interface CounterDefinition extends DefinitionBase {
  readonly kind: "counter"
}
/** Adds up a measurement (`Telemetry.Metrics.sum`). */
export interface SumDefinition extends DefinitionBase {
  readonly kind: "sum"
}
/** Histogram of a measurement over explicit bucket bounds (`Telemetry.Metrics.distribution`). */
export interface DistributionDefinition extends DefinitionBase {
  readonly kind: "distribution"
  readonly buckets: ReadonlyArray<number>
}
/** The most recent value of a measurement (`Telemetry.Metrics.last_value`). */
export interface LastValueDefinition extends DefinitionBase {
  readonly kind: "last_value"
}
/** Quantiles over a sliding time window (`Telemetry.Metrics.summary`). */
export interface SummaryDefinition extends DefinitionBase {
  readonly kind: "summary"
  readonly quantiles: ReadonlyArray<number>
  readonly maxAgeMillis: number
  readonly maxSize: number
}

/**
 * A metric derived from telemetry events (Telemetry.Metrics' definitions): counter, sum, distribution, last value or
 * summary, with its event, measurement, tags and unit.
 */
export type MetricDefinition =
  | CounterDefinition
  | SumDefinition
  | DistributionDefinition
  | LastValueDefinition
  | SummaryDefinition

/** The kind of a metric definition. */
export type MetricKind = MetricDefinition["kind"]

/** Common constructor input: `measurement`, `tags`, `unit`, `scale` have defaults. */
export interface DefinitionInput {
  readonly name: string
  readonly event: EventName
  readonly description: string
  readonly measurement?: string
  readonly tags?: ReadonlyArray<string>
  readonly unit?: string
  readonly scale?: number
}

const base = (input: DefinitionInput, defaultMeasurement: string) => ({
  name: input.name,
  event: input.event,
  description: input.description,
  measurement: input.measurement ?? defaultMeasurement,
  tags: input.tags ?? [],
  unit: input.unit ?? "1",
  scale: input.scale ?? 1
})

/**
 * @example
 * ```ts
 * counter({ name: "troupe_llm_calls_total", event: Events.llmCallStop, tags: ["provider", "model"], description: "LLM calls" })
 * ```
 */
export const counter = (input: DefinitionInput): CounterDefinition => ({ kind: "counter", ...base(input, "count") })
/** A metric that sums a measurement of an event. */
export const sum = (input: DefinitionInput & { readonly measurement: string }): SumDefinition => ({
  kind: "sum",
  ...base(input, input.measurement)
})
/** A histogram of a measurement, with explicit bucket bounds. */
export const distribution = (
  input: DefinitionInput & { readonly measurement: string; readonly buckets: ReadonlyArray<number> }
): DistributionDefinition => ({ kind: "distribution", ...base(input, input.measurement), buckets: input.buckets })
/** A gauge holding the last value of a measurement. */
export const lastValue = (input: DefinitionInput & { readonly measurement: string }): LastValueDefinition => ({
  kind: "last_value",
  ...base(input, input.measurement)
})
/** Quantiles of a measurement over a sliding window. */
export const summary = (
  input: DefinitionInput & {
    readonly measurement: string
    readonly quantiles?: ReadonlyArray<number>
    readonly maxAgeMillis?: number
    readonly maxSize?: number
  }
): SummaryDefinition => ({
  kind: "summary",
  ...base(input, input.measurement),
  quantiles: input.quantiles ?? [0.5, 0.9, 0.99],
  maxAgeMillis: input.maxAgeMillis ?? 60_000,
  maxSize: input.maxSize ?? 1_000
})

const metricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const reservedLabels = new Set(["le", "quantile"])

const Fields = {
  name: Schema.String.check(Schema.isPattern(metricNamePattern)),
  event: EventNameSchema,
  measurement: Schema.NonEmptyString,
  tags: Schema.Array(
    Schema.String.check(
      Schema.isPattern(labelNamePattern),
      Schema.makeFilter((tag: string) => reservedLabels.has(tag) ? `"${tag}" is reserved by Prometheus` : undefined)
    )
  ),
  description: Schema.NonEmptyString,
  unit: Schema.NonEmptyString,
  scale: Schema.Finite.check(Schema.isGreaterThan(0))
}

const totalSuffix = (mustHave: boolean) =>
  Schema.makeFilter((d: { readonly name: string }) =>
    d.name.endsWith("_total") === mustHave
      ? undefined
      : {
        path: ["name"],
        issue: mustHave ? "counter and sum names must end in _total" : "only counters and sums may end in _total"
      }
  )

const Probability = Schema.Finite.check(Schema.isGreaterThan(0), Schema.isLessThan(1))

/** Schema of one definition (decoded when the hub is built from user-supplied definitions). */
export const MetricDefinitionSchema = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("counter"), ...Fields }).check(totalSuffix(true)),
  Schema.Struct({ kind: Schema.Literal("sum"), ...Fields }).check(totalSuffix(true)),
  Schema.Struct({
    kind: Schema.Literal("distribution"),
    ...Fields,
    buckets: Schema.NonEmptyArray(Schema.Finite).check(
      Schema.makeFilter((bs: ReadonlyArray<number>) =>
        bs.every((b, i) => i === 0 || b > (bs[i - 1] ?? Number.NEGATIVE_INFINITY))
          ? undefined
          : "buckets must be strictly increasing"
      )
    )
  }).check(totalSuffix(false)),
  Schema.Struct({ kind: Schema.Literal("last_value"), ...Fields }).check(totalSuffix(false)),
  Schema.Struct({
    kind: Schema.Literal("summary"),
    ...Fields,
    quantiles: Schema.NonEmptyArray(Probability),
    maxAgeMillis: Schema.Int.check(Schema.isGreaterThan(0)),
    maxSize: Schema.Int.check(Schema.isGreaterThan(0))
  }).check(totalSuffix(false))
])

/**
 * Decodes untrusted definitions; fails with every issue and its path, and rejects duplicate names. Fails with
 * `InvalidTelemetryInput` when `input` is not an array of definitions (an unknown `kind`, a name or tag that is not a
 * Prometheus name, a reserved tag `le`/`quantile`, a `_total` suffix on the wrong kind, buckets not strictly
 * increasing, a quantile outside (0, 1), a non-positive scale, size or age) or when two definitions share a name.
 */
export const decodeDefinitions = (
  input: unknown
): Effect.Effect<ReadonlyArray<MetricDefinition>, InvalidTelemetryInput> =>
  Schema.decodeUnknownEffect(
    Schema.Array(MetricDefinitionSchema).check(
      Schema.makeFilter((defs: ReadonlyArray<{ readonly name: string }>) => {
        const seen = new Set<string>()
        const issues: Array<Schema.FilterIssue> = []
        defs.forEach((d, i) => {
          if (seen.has(d.name)) issues.push({ path: [i, "name"], issue: `duplicate metric name ${d.name}` })
          seen.add(d.name)
        })
        return issues
      })
    )
  )(input, { errors: "all" }).pipe(
    Effect.mapError((e) => fromSchemaError("metric definitions", e))
  )
