/**
 * The shape of a telemetry event and of a handler, modelled on Erlang's `:telemetry`.
 *
 * An event is a name path (`["troupe", "llm", "call", "stop"]`, `:telemetry`'s list of atoms), a record of numeric
 * measurements (`%{duration: ...}`) and a record of metadata (`%{model: ...}`). A handler is a function of the event,
 * like the 4-arity function given to `:telemetry.attach_many/4` (the handler config is whatever the closure captures).
 * Unlike `:telemetry`, a handler may return an `Effect`; the hub runs it in the emitter's fiber and isolates its
 * failures (see `HandlerTable.ts` and `TelemetryHub.ts`).
 *
 * Units: `duration` and `monotonic_time` are nanoseconds (Effect's `Clock`, so `TestClock` controls them);
 * `system_time` is Unix epoch milliseconds. Metric definitions convert units (see `MetricDefinition.ts`).
 *
 * Nothing here comes from Effect: `:telemetry` has no Effect counterpart (Effect's `Metric` and `Tracer` are the
 * sinks the hub feeds, not an event bus).
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"

/** An event name: a non-empty path of non-empty segments. */
export type EventName = ReadonlyArray<string>

/** Numeric measurements of one event (`:telemetry`'s measurements map). */
export type Measurements = Readonly<Record<string, number>>

/** Free-form metadata of one event (`:telemetry`'s metadata map). */
export type Metadata = Readonly<Record<string, unknown>>

/** One emitted event as handlers receive it. */
export interface TelemetryEvent {
  readonly name: EventName
  readonly measurements: Measurements
  readonly metadata: Metadata
}

/**
 * A handler: a synchronous function (cheapest) or one returning an `Effect`, which the hub runs in the emitter's
 * fiber. A throw, a typed failure or a defect detaches the handler and is reported as the
 * `["troupe", "telemetry", "handler", "failure"]` event; the emitter never sees it.
 */
export type Handler = (event: TelemetryEvent) => void | Effect.Effect<unknown, unknown, never>

/** What `handlers()` lists about an attached handler (`:telemetry.list_handlers/1`). */
export interface HandlerInfo {
  readonly id: string
  readonly prefixes: ReadonlyArray<EventName>
}

/** Schema of an event name (decoded at `attach`; `emit` is a typed hot path and is not re-decoded). */
export const EventNameSchema = Schema.NonEmptyArray(Schema.NonEmptyString)

/** Schema of the prefix list given to `attach`. */
export const PrefixesSchema = Schema.NonEmptyArray(EventNameSchema)

/** Schema of a handler id. */
export const HandlerIdSchema = Schema.NonEmptyString

/** The readable dotted form of an event name (`"troupe.llm.call.stop"`), used in metadata and reports. */
export const formatEventName = (name: EventName): string => name.join(".")

/** The internal, unambiguous key of an event name or prefix (segments may themselves contain dots). */
export const eventKey = (name: EventName): string => name.join("\u001f")

/** An empty metadata record shared by every emit that passes none. */
export const emptyMetadata: Metadata = Object.freeze({})
