/**
 * Turns metric definitions (data) into the hub's own handlers, which write Effect `Metric`s.
 *
 * The role `TelemetryMetricsPrometheus.Core` / `TelemetryMetricsStatsd` play for `Telemetry.Metrics` (a reporter that
 * attaches one handler per event and updates its storage), except that the storage is Effect's: counters and sums
 * are incremental `Metric.counter`s, distributions `Metric.histogram`s, last values `Metric.gauge`s and summaries
 * `Metric.summary`s. So `PrometheusMetrics`, `Metric.snapshot` and `@effect/opentelemetry`'s metric producer all see
 * them with no extra code.
 *
 * Hot-path choices: each tag combination (series) gets its own `Metric` instance carrying its attributes, cached in
 * nested `Map`s keyed by the tag values (one level per tag, no key string built per event); `updateUnsafe` with the hub's captured context then costs one registry lookup
 * (Effect's series key is computed once per instance). `Metric.withAttributes` would allocate a wrapper and a
 * context per update. Updates are synchronous because handlers run in the emitter's fiber.
 *
 * Bounded: a definition records at most `maxSeries` series (default 1,000, `other` included). Once it holds
 * `maxSeries - 1` tag combinations, every new combination is recorded under one series whose tags are all `other`
 * (as LLM tracking and the observer feed bound theirs); the series it already has keep counting.
 *
 * @since 0.1.0
 */
import { type Context, Metric } from "effect"
import type { MetricDefinition } from "../MetricDefinition.ts"
import type { EventName, TelemetryEvent } from "../TelemetryEvent.ts"
import { eventKey } from "../TelemetryEvent.ts"
import { renderUnknown } from "./Render.ts"

/** The tag value used when an event's metadata lacks a tag key. */
export const missingTagValue = "unknown"

/** The value of every tag of the series that takes new tag combinations once a definition holds `maxSeries`. */
export const overflowTagValue = "other"

/** Series per definition by default (`other` included). */
export const defaultMaxSeries = 1_000

type NumericMetric = Metric.Metric<number, unknown>

const makeSeries = (definition: MetricDefinition, attributes: Record<string, string>): NumericMetric => {
  const common = { description: definition.description, attributes }
  switch (definition.kind) {
    case "counter":
    case "sum":
      return Metric.counter(definition.name, { ...common, incremental: true })
    case "distribution":
      return Metric.histogram(definition.name, { ...common, boundaries: definition.buckets })
    case "last_value":
      return Metric.gauge(definition.name, common)
    case "summary":
      return Metric.summary(definition.name, {
        ...common,
        maxAge: definition.maxAgeMillis,
        maxSize: definition.maxSize,
        quantiles: definition.quantiles
      })
  }
}

const tagValue = (value: unknown): string =>
  value === undefined || value === null ? missingTagValue : typeof value === "string" ? value : renderUnknown(value)

/** A synchronous recorder for one definition: reads the measurement and tags of an event and updates its series. */
export const makeRecorder = (
  definition: MetricDefinition,
  context: Context.Context<never>,
  maxSeries: number = defaultMaxSeries
): (event: TelemetryEvent) => void => {
  // series by tag values: one nested Map level per tag (no key string is built per event; tag values are usually
  // the same string objects every time, whose hashes V8 caches)
  const root = new Map<string, unknown>()
  const { tags, scale, measurement } = definition
  const last = tags.length - 1
  let untagged: NumericMetric | undefined
  let seriesCount = 0
  let overflow: NumericMetric | undefined
  const overflowSeries = (): NumericMetric => {
    if (overflow === undefined) {
      const attributes: Record<string, string> = {}
      for (const tag of tags) attributes[tag] = overflowTagValue
      overflow = makeSeries(definition, attributes)
    }
    return overflow
  }
  const counts = definition.kind === "counter"
  // `ns / 1e9` is exact where `ns * 1e-9` leaves float noise (0.015422136000000001): divide by whole inverses
  const inverse = 1 / scale
  const divisor = scale < 1 && Math.abs(inverse - Math.round(inverse)) < 1e-9 ? Math.round(inverse) : undefined
  const create = (metadata: TelemetryEvent["metadata"]): NumericMetric => {
    const attributes: Record<string, string> = {}
    for (const tag of tags) attributes[tag] = tagValue(metadata[tag])
    return makeSeries(definition, attributes)
  }
  return (event) => {
    let value = 1
    if (!counts) {
      const raw = event.measurements[measurement]
      if (typeof raw !== "number" || !Number.isFinite(raw)) return
      value = divisor === undefined ? raw * scale : raw / divisor
    }
    const metadata = event.metadata
    let metric: NumericMetric | undefined
    if (last < 0) {
      metric = untagged ??= create(metadata)
    } else {
      // a new combination past the bound goes to the overflow series, and no level of the tree grows
      const full = seriesCount >= maxSeries - 1
      let node: Map<string, unknown> | undefined = root
      for (let i = 0; i < last && node !== undefined; i++) {
        const v = tagValue(metadata[tags[i] as string]) // i < tags.length
        let next = node.get(v) as Map<string, unknown> | undefined
        if (next === undefined && !full) {
          next = new Map()
          node.set(v, next)
        }
        node = next
      }
      if (node === undefined) {
        metric = overflowSeries()
      } else {
        // last < tags.length
        const v = tagValue(metadata[tags[last] as string])
        // the last level of the tree holds metrics; the inner levels hold maps
        metric = node.get(v) as NumericMetric | undefined
        if (metric === undefined) {
          if (full) {
            metric = overflowSeries()
          } else {
            metric = create(metadata)
            node.set(v, metric)
            seriesCount++
          }
        }
      }
    }
    metric.updateUnsafe(value, context)
  }
}

/** One handler to attach per distinct event: the recorders bound to exactly that event. */
export interface RecorderGroup {
  readonly event: EventName
  readonly handle: (event: TelemetryEvent) => void
}

/** Groups definitions by event and builds one exact-match handler per event. */
export const makeRecorderGroups = (
  definitions: ReadonlyArray<MetricDefinition>,
  context: Context.Context<never>
): ReadonlyArray<RecorderGroup> => {
  const groups = new Map<string, { event: EventName; recorders: Array<(event: TelemetryEvent) => void> }>()
  for (const definition of definitions) {
    const key = eventKey(definition.event)
    const group = groups.get(key) ?? { event: definition.event, recorders: [] }
    group.recorders.push(makeRecorder(definition, context))
    groups.set(key, group)
  }
  return [...groups.values()].map(({ event, recorders }) => ({
    event,
    handle: (received) => {
      // attached under the event as a prefix: ignore longer names below it
      if (received.name.length !== event.length) return
      for (let i = 0; i < recorders.length; i++) recorders[i]?.(received)
    }
  }))
}
