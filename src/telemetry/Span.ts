/**
 * `span(prefix, metadata, options)(effect)`: `:telemetry.span/3` for Effects.
 *
 * Emits `prefix ++ [start]` before the effect runs (measurements `monotonic_time`, `system_time`), then
 * `prefix ++ [stop]` on success or `prefix ++ [exception]` on a typed failure, a defect or an interruption
 * (measurements `duration`, `monotonic_time`; exception metadata adds `kind`, `reason`, `error_type`), exactly like
 * `:telemetry.span/3`. Times come from Effect's `Clock` service (`monotonicTimeNanosUnsafe`, so `TestClock`
 * controls them); `duration` is in nanoseconds.
 *
 * It also (by default) wraps the effect in an Effect tracing span (what `Effect.withSpan` does), which
 * `@effect/opentelemetry` exports as an OTel span, and records the call in the hub's reporter under its component.
 * The tracing span is created only when a tracing backend is installed (a `Tracer` other than effect's in-memory
 * `nativeTracer`, e.g. `OtelExport.layer`): without one nothing could observe it, and skipping it saves a
 * context switch, a span and its attributes per call. Both come from Effect or
 * from this package; nothing of `:telemetry` needed hand-rolling beyond the event triple.
 *
 * Every string it records is masked (guard's `maskSecrets`): the span attributes (at `span(...)` and those
 * `onSuccess` adds), the exception `reason`, and the failure a tracing span ends with (an error of the same name
 * with the masked message, so an exporter's exception event holds no secret; the caller still gets the original
 * failure); the event metadata is masked by the hub's `emitNow`. A failure or defect with no string form
 * (`Object.create(null)`) is described as `[object Object]`; it never turns the caller's failure into a defect.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Effect, Exit, type Fiber, Option, Tracer } from "effect"
import { maskDeep, maskRecord, maskSecrets } from "../guard/SecretDetector.ts"
import { renderUnknown } from "./internal/Render.ts"
import type { Reporter } from "./Reporter.ts"
import type { EventName, Measurements, Metadata } from "./TelemetryEvent.ts"
import { emptyMetadata, formatEventName } from "./TelemetryEvent.ts"

/** What a success adds to the `stop` event and to the tracing span. */
export interface SpanStopInfo {
  readonly measurements?: Measurements
  readonly metadata?: Metadata
  readonly attributes?: Readonly<Record<string, unknown>>
  /** Further events to emit right after `stop` (e.g. token usage). */
  readonly events?: ReadonlyArray<
    { readonly name: EventName; readonly measurements: Measurements; readonly metadata: Metadata }
  >
}

/**
 * Options of a tracked span: the reporter's component key, the tracing span's name, kind and attributes, and events
 * to emit after stop.
 */
export interface SpanOptions<A> {
  /** The reporter's component key (default: the dotted prefix). */
  readonly component?: string
  /** The tracing span's name (default: the dotted prefix); `false` skips the tracing span. */
  readonly traceName?: string | false
  readonly traceKind?: Tracer.SpanKind
  /** Attributes of the tracing span (default: the primitive entries of `metadata`). */
  readonly attributes?: Readonly<Record<string, unknown>>
  /**
   * Derives stop measurements, metadata, span attributes and extra events from the result. `traced` says whether a
   * tracing span records this run (when false, `attributes` are not read and need not be built).
   */
  readonly onSuccess?: (value: A, traced: boolean) => SpanStopInfo | undefined
}

/** The signature of `TelemetryHub.span`. */
export type SpanFunction = <A = unknown>(
  prefix: EventName,
  metadata?: Metadata,
  options?: SpanOptions<A>
) => <A2 extends A, E, R>(self: Effect.Effect<A2, E, R>) => Effect.Effect<A2, E, R>

/**
 * Emits one event *now*: runs the synchronous handlers inline and returns `undefined`, or returns the Effect that
 * still has to run in the emitter's fiber (a handler that returned an Effect, the handlers after it, failure reports).
 */
export type EmitNow = (
  name: EventName,
  measurements: Measurements,
  metadata: Metadata
) => Effect.Effect<void> | undefined

/** How an exit that is not a success is reported. */
export interface ExceptionInfo {
  readonly kind: "failure" | "defect" | "interrupt"
  readonly reason: string
  readonly errorType: string
}

const maxReasonLength = 500

const describe = (u: unknown): { readonly type: string; readonly reason: string } => {
  if (typeof u === "object" && u !== null) {
    // reading an optional field of a non-null object
    const tag = (u as { readonly _tag?: unknown })._tag
    const type = typeof tag === "string" ? tag : u.constructor?.name ?? "Object"
    // reading an optional field of a non-null object
    const message = (u as { readonly message?: unknown }).message
    return { type, reason: typeof message === "string" && message !== "" ? message : renderUnknown(u) }
  }
  return { type: typeof u, reason: renderUnknown(u) }
}

/** Classifies a failed `Exit`'s cause as `:telemetry` exception metadata. */
export const exceptionInfo = (cause: Cause.Cause<unknown>): ExceptionInfo => {
  if (Cause.hasInterruptsOnly(cause)) return { kind: "interrupt", reason: "interrupted", errorType: "Interrupted" }
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error)) {
    const { reason, type } = describe(error.value)
    return { kind: "failure", reason: maskSecrets(reason).slice(0, maxReasonLength), errorType: type }
  }
  const { reason, type } = describe(Cause.squash(cause))
  return { kind: "defect", reason: maskSecrets(reason).slice(0, maxReasonLength), errorType: `Defect:${type}` }
}

/** A stand-in for a failure's error with its message masked (what a tracing span records as the exception). */
class MaskedFailure extends Error {}

/** `cause` as a tracing span may record it: interruptions kept, the error replaced by one with a masked message. */
const maskedCause = (cause: Cause.Cause<unknown>): Cause.Cause<unknown> => {
  if (Cause.hasInterruptsOnly(cause)) return cause
  const info = exceptionInfo(cause) // its reason is masked
  const error = new MaskedFailure(info.reason)
  error.name = info.errorType
  return info.kind === "failure" ? Cause.fail(error) : Cause.die(error)
}

const primitiveAttributes = (metadata: Metadata): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") out[key] = value
  }
  return out
}

interface PendingEvent {
  readonly name: EventName
  readonly measurements: Measurements
  readonly metadata: Metadata
}

/** Emits `events` from `from` on, in order; once one leaves work for the fiber, the rest follow it. */
const emitFrom = (
  emitNow: EmitNow,
  events: ReadonlyArray<PendingEvent>,
  from: number
): Effect.Effect<void> | undefined => {
  for (let i = from; i < events.length; i++) {
    const e = events[i] as PendingEvent // i < length
    const pending = emitNow(e.name, e.measurements, e.metadata)
    if (pending !== undefined) {
      return i + 1 === events.length
        ? pending
        : Effect.andThen(pending, Effect.suspend(() => emitFrom(emitNow, events, i + 1) ?? Effect.void))
    }
  }
  return undefined
}

/**
 * Whether the running fiber has a tracing backend: a `Tracer` other than effect's default `nativeTracer` (which
 * keeps spans in memory and exports nothing). Effect documents this comparison for "skipping work only a backend
 * could observe"; `span` skips its tracing span altogether without one (the events, metrics and reporter entry are
 * unchanged), which saves a context switch, a span and its attribute map per call on hot paths such as LLM calls.
 */
const tracingBackendInstalled = (fiber: Fiber.Fiber<unknown, unknown>): boolean => {
  const tracer = fiber.cache.tracer
  return tracer !== undefined && tracer !== Tracer.nativeTracer && fiber.cache.tracerEnabled
}

const annotate = (span: Tracer.Span, attributes: Readonly<Record<string, unknown>>, mask: boolean): void => {
  if (span.status._tag === "Ended") return
  for (const key in attributes) span.attribute(key, mask ? maskDeep(attributes[key]) : attributes[key])
}

const maskAttributes = (
  attributes: Readonly<Record<string, unknown>>,
  mask: boolean
): Readonly<Record<string, unknown>> => mask ? maskRecord(attributes) : attributes

/**
 * Builds `span` over an `emitNow` and a reporter.
 *
 * Hot path: everything that can be computed once per `span(...)` is (event names, options); per run, one
 * `withFiber` reads the clock and emits `start` synchronously, one `onExit` emits `stop` (and extra events) and
 * annotates the tracing span directly (the span object is the one `Effect.useSpan` hands over, so no
 * `annotateCurrentSpan` round-trip). Handlers that return Effects still run in this fiber, in order.
 */
export const makeSpan =
  (emitNow: EmitNow, reporter: Reporter, mask = true): SpanFunction =>
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
      attributes: maskAttributes(options.attributes ?? primitiveAttributes(metadata), mask)
    }
    const onSuccess = options.onSuccess

    const finish = (
      exit: Exit.Exit<unknown, unknown>,
      clock: Clock.Clock,
      started: bigint,
      span: Tracer.Span | undefined
    ): Effect.Effect<void> => {
      const stopped = clock.monotonicTimeNanosUnsafe()
      const duration = Number(stopped - started)
      const timing = { duration, monotonic_time: Number(stopped) }
      if (Exit.isSuccess(exit)) {
        reporter.record(component, duration / 1e6, undefined)
        // finish runs on the exit of `self`, whose success type is A
        const info = onSuccess?.(exit.value as A, span !== undefined)
        if (info === undefined) return emitNow(stopName, timing, metadata) ?? Effect.void
        if (info.attributes !== undefined && span !== undefined) annotate(span, info.attributes, mask)
        const stop: PendingEvent = {
          name: stopName,
          measurements: info.measurements === undefined ? timing : { ...info.measurements, ...timing },
          metadata: info.metadata === undefined ? metadata : { ...metadata, ...info.metadata }
        }
        const events = info.events === undefined || info.events.length === 0 ? [stop] : [stop, ...info.events]
        return emitFrom(emitNow, events, 0) ?? Effect.void
      }
      const failure = exceptionInfo(exit.cause)
      reporter.record(component, duration / 1e6, failure.errorType)
      if (span !== undefined && span.status._tag !== "Ended") span.attribute("error.type", failure.errorType)
      return emitNow(exceptionName, timing, {
        ...metadata,
        kind: failure.kind,
        reason: failure.reason,
        error_type: failure.errorType
      }) ?? Effect.void
    }

    // `start` is emitted synchronously in the fiber that runs the span, before `self`
    const timed = <A2, E, R>(
      fiber: Fiber.Fiber<unknown, unknown>,
      self: Effect.Effect<A2, E, R>,
      span: Tracer.Span | undefined
    ): Effect.Effect<A2, E, R> => {
      const clock = fiber.getRef(Clock.Clock)
      const started = clock.monotonicTimeNanosUnsafe()
      const body = Effect.onExit(self, (exit) => finish(exit, clock, started, span))
      const pending = emitNow(startName, {
        monotonic_time: Number(started),
        system_time: clock.currentTimeMillisUnsafe()
      }, metadata)
      return pending === undefined ? body : Effect.andThen(pending, body)
    }

    return <A2 extends A, E, R>(self: Effect.Effect<A2, E, R>): Effect.Effect<A2, E, R> =>
      Effect.withFiber((fiber) => {
        if (spanOptions === undefined || !tracingBackendInstalled(fiber)) return timed(fiber, self, undefined)
        // what `Effect.withSpan(self, traceName, spanOptions)` does, keeping a reference to the span; with masking, the
        // span ends with a failure whose message is masked (what an exporter records as the exception), and the caller
        // still gets the original exit
        const traced = (span: Tracer.Span) =>
          Effect.withParentSpan(Effect.withFiber((inner) => timed(inner, self, span)), span, spanOptions)
        // traceName is set whenever spanOptions is (checked above); useSpan keeps the effect's A, E and R
        if (!mask) return Effect.useSpan(traceName as string, spanOptions, traced) as Effect.Effect<A2, E, R>
        let original: Exit.Exit<A2, E> | undefined
        return Effect.flatMap(
          // traceName is set whenever spanOptions is (checked above)
          Effect.exit(Effect.useSpan(traceName as string, spanOptions, (span) =>
            Effect.flatMap(Effect.exit(traced(span)), (exit) => {
              original = exit as Exit.Exit<A2, E> // the exit of `self`, through `timed`
              return Exit.isSuccess(exit) ? exit : Exit.failCause(maskedCause(exit.cause))
            }))),
          (exit) =>
            original ?? (exit as Exit.Exit<A2, E>) // `original` is set unless the span itself failed to start
        ) as Effect.Effect<A2, E, R>
      })
  }
