/**
 * `span(prefix, metadata, options)(effect)`: `:telemetry.span/3` for Effects.
 *
 * Emits `prefix ++ [start]` before the effect runs (measurements `monotonic_time`, `system_time`), then
 * `prefix ++ [stop]` on success or `prefix ++ [exception]` on a typed failure, a defect or an interruption
 * (measurements `duration`, `monotonic_time`; exception metadata adds `kind`, `reason`, `error_type`), exactly like
 * `:telemetry.span/3`. Times come from Effect's `Clock` service (`monotonicTimeNanosUnsafe`, so `TestClock`
 * controls them); `duration` is in nanoseconds.
 *
 * It also (by default) wraps the effect in an Effect tracing span (`Effect.withSpan`), which `@effect/opentelemetry`
 * exports as an OTel span, and records the call in the hub's reporter under its component. Both come from Effect or
 * from this package; nothing of `:telemetry` needed hand-rolling beyond the event triple.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Effect, Exit, Option } from "effect"
import type * as Tracer from "effect/Tracer"
import type { Reporter } from "./Reporter.ts"
import type { EventName, Measurements, Metadata } from "./TelemetryEvent.ts"
import { emptyMetadata, formatEventName } from "./TelemetryEvent.ts"

/** What a success adds to the `stop` event and to the tracing span. */
export interface SpanStopInfo {
  readonly measurements?: Measurements
  readonly metadata?: Metadata
  readonly attributes?: Readonly<Record<string, unknown>>
  /** Further events to emit right after `stop` (e.g. token usage). */
  readonly events?: ReadonlyArray<{ readonly name: EventName; readonly measurements: Measurements; readonly metadata: Metadata }>
}

export interface SpanOptions<A> {
  /** The reporter's component key (default: the dotted prefix). */
  readonly component?: string
  /** The tracing span's name (default: the dotted prefix); `false` skips the tracing span. */
  readonly traceName?: string | false
  readonly traceKind?: Tracer.SpanKind
  /** Attributes of the tracing span (default: the primitive entries of `metadata`). */
  readonly attributes?: Readonly<Record<string, unknown>>
  /** Derives stop measurements, metadata, span attributes and extra events from the result. */
  readonly onSuccess?: (value: A) => SpanStopInfo | undefined
}

/** The signature of `TelemetryHub.span`. */
export type SpanFunction = <A = unknown>(
  prefix: EventName,
  metadata?: Metadata,
  options?: SpanOptions<A>
) => <A2 extends A, E, R>(self: Effect.Effect<A2, E, R>) => Effect.Effect<A2, E, R>

type Emit = (name: EventName, measurements: Measurements, metadata?: Metadata) => Effect.Effect<void>

/** How an exit that is not a success is reported. */
export interface ExceptionInfo {
  readonly kind: "failure" | "defect" | "interrupt"
  readonly reason: string
  readonly errorType: string
}

const maxReasonLength = 500

const describe = (u: unknown): { readonly type: string; readonly reason: string } => {
  if (typeof u === "object" && u !== null) {
    const tag = (u as { readonly _tag?: unknown })._tag
    const type = typeof tag === "string" ? tag : u.constructor?.name ?? "Object"
    const message = (u as { readonly message?: unknown }).message
    return { type, reason: typeof message === "string" && message !== "" ? message : String(u) }
  }
  return { type: typeof u, reason: String(u) }
}

/** Classifies a failed `Exit`'s cause as `:telemetry` exception metadata. */
export const exceptionInfo = (cause: Cause.Cause<unknown>): ExceptionInfo => {
  if (Cause.hasInterruptsOnly(cause)) return { kind: "interrupt", reason: "interrupted", errorType: "Interrupted" }
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error)) {
    const { reason, type } = describe(error.value)
    return { kind: "failure", reason: reason.slice(0, maxReasonLength), errorType: type }
  }
  const { reason, type } = describe(Cause.squash(cause))
  return { kind: "defect", reason: reason.slice(0, maxReasonLength), errorType: `Defect:${type}` }
}

const primitiveAttributes = (metadata: Metadata): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") out[key] = value
  }
  return out
}

/** Builds `span` over an `emit` and a reporter. */
export const makeSpan = (emit: Emit, reporter: Reporter): SpanFunction =>
<A = unknown>(prefix: EventName, metadata: Metadata = emptyMetadata, options: SpanOptions<A> = {}) => {
  const startName = Object.freeze([...prefix, "start"])
  const stopName = Object.freeze([...prefix, "stop"])
  const exceptionName = Object.freeze([...prefix, "exception"])
  const dotted = formatEventName(prefix)
  const component = options.component ?? dotted
  const traceName = options.traceName ?? dotted
  const spanOptions = traceName === false ? undefined : {
    // a captured stack trace costs ~10 µs per span; the event name already says where it came from
    captureStackTrace: false,
    kind: options.traceKind ?? "internal",
    attributes: options.attributes ?? primitiveAttributes(metadata)
  }
  const onSuccess = options.onSuccess
  return <A2 extends A, E, R>(self: Effect.Effect<A2, E, R>): Effect.Effect<A2, E, R> => {
    const timed = Clock.clockWith((clock) => {
      const started = clock.monotonicTimeNanosUnsafe()
      return emit(startName, { monotonic_time: Number(started), system_time: clock.currentTimeMillisUnsafe() }, metadata)
        .pipe(
          Effect.andThen(self),
          Effect.onExit((exit): Effect.Effect<void> => {
            const stopped = clock.monotonicTimeNanosUnsafe()
            const duration = Number(stopped - started)
            const timing = { duration, monotonic_time: Number(stopped) }
            if (Exit.isSuccess(exit)) {
              reporter.record(component, duration / 1e6, undefined)
              const info = onSuccess?.(exit.value)
              if (info === undefined) return emit(stopName, timing, metadata)
              const stop = emit(
                stopName,
                info.measurements === undefined ? timing : { ...info.measurements, ...timing },
                info.metadata === undefined ? metadata : { ...metadata, ...info.metadata }
              )
              const extra = info.events === undefined || info.events.length === 0
                ? stop
                : Effect.andThen(stop, Effect.forEach(info.events, (e) => emit(e.name, e.measurements, e.metadata), { discard: true }))
              return info.attributes === undefined || spanOptions === undefined
                ? extra
                : Effect.andThen(Effect.annotateCurrentSpan(info.attributes), extra)
            }
            const failure = exceptionInfo(exit.cause)
            reporter.record(component, duration / 1e6, failure.errorType)
            const emitted = emit(exceptionName, timing, {
              ...metadata,
              kind: failure.kind,
              reason: failure.reason,
              error_type: failure.errorType
            })
            return spanOptions === undefined
              ? emitted
              : Effect.andThen(Effect.annotateCurrentSpan("error.type", failure.errorType), emitted)
          })
        )
    })
    if (spanOptions === undefined) return timed
    // withSpan only removes `ParentSpan` from R, which `timed` never requires beyond R itself
    return Effect.withSpan(timed, traceName as string, spanOptions) as Effect.Effect<A2, E, R>
  }
}
