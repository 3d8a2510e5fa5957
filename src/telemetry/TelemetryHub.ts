/**
 * `TelemetryHub`: troupe's event bus, metrics registry, span tracker and reporter, as one `Context.Service`.
 *
 * Mirrors Erlang's `:telemetry` (`attach_many/4` → `attach`, `detach/1`, `list_handlers/1` → `handlers`,
 * `execute/3` → `emit`, `span/3` → `span`), Elixir's `Telemetry.Metrics` (definitions as data, `metrics()`), a
 * Prometheus reporter (`prometheus()`, rendered by effect's `PrometheusMetrics`) and a console reporter
 * (`report()`, `exportJson`). Values live in Effect `Metric`s in the `MetricRegistry` of the context the layer is
 * built in; spans are Effect tracing spans, exported by `OtelExport.layer`.
 *
 * Handlers run in the emitter's fiber, synchronously and in attach order, as in `:telemetry`. Unlike `:telemetry`
 * (which catches only what the handler function raises), any handler failure is contained: a throw, a typed
 * failure or a defect of a returned `Effect` detaches that handler and is reported as the
 * `troupe.telemetry.handler.failure` event (plus a warning log); the emitter's effect never fails or dies because
 * of a handler, and pays only for the handlers' own runs.
 *
 * Secrets are masked at the hub, not per sink: every string in an event's metadata (nested plain records, arrays and
 * `Error` messages too) goes through `maskSecrets` (guard's `SecretDetector`) before any handler sees it, and so do
 * the tracing span attributes, the exception `reason` of `span` and the reason of a handler failure. The mask runs
 * only when a handler is attached for the event, is copy-on-write (metadata without a secret is passed as is) and
 * starts with a one-scan pre-check, so a clean short string costs one regex test. `maskSecrets: false` turns it off
 * (for a benchmark's baseline; nothing else should).
 *
 * `emitUnsafe` has no fiber to run a handler's returned Effect in, so it forks one into a fiber set owned by the hub
 * layer's scope: releasing the layer interrupts every such fiber still running. At most `maxForkedHandlers` (default
 * 1,000) run at once; beyond that bound a handler's Effect (or a failure report) is dropped, not run, and counted in the
 * `troupe_telemetry_handler_effects_dropped_total` counter, and the other handlers of the event still run. `emit`
 * and `span` never drop: they run handler Effects in the emitter's fiber.
 *
 * `handlers(prefix)` compares whole segments, as `:telemetry.list_handlers/1` does: `troupe.a` lists a handler
 * attached to `troupe.a.x`, not one attached to `troupe.ab`.
 *
 * Hot-path choices (justified in `HandlerTable.ts`): the handler table and the reporter windows are synchronous
 * structures owned by the service, not `Ref`s, because every access is a non-yielding synchronous step of one
 * fiber. `emit` with no matching handler is one `Effect.suspend`, one `WeakMap` hit and `Effect.void`.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const hub = yield* TelemetryHub
 *   yield* hub.attach("log-llm", [["troupe", "llm"]], (e) => console.log(e.name.join("."), e.measurements))
 *   yield* callModel.pipe(hub.trackLlmCall({ provider: "openai", model: "gpt-4o" }))
 *   console.log(yield* hub.report())
 * }).pipe(Effect.provide(TelemetryHub.layer()))
 * ```
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Exit, FiberSet, Layer, Metric, Option, Schema, type Scope } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { mkdir, writeFile } from "node:fs/promises"
import { dirname } from "node:path"
import { maskRecord, maskSecrets } from "../guard/SecretDetector.ts"
import { defaultMetrics } from "./DefaultMetrics.ts"
import { Events } from "./EventCatalogue.ts"
import { type HandlerEntry, HandlerTable } from "./internal/HandlerTable.ts"
import { makeRecorderGroups } from "./internal/MetricRecorder.ts"
import { renderUnknown } from "./internal/Render.ts"
import type { MetricDefinition } from "./MetricDefinition.ts"
import { decodeDefinitions } from "./MetricDefinition.ts"
import { type ComponentStats, formatReport, Reporter } from "./Reporter.ts"
import { exceptionInfo, makeSpan, type SpanFunction } from "./Span.ts"
import {
  DuplicateHandlerError,
  fromSchemaError,
  HandlerNotFoundError,
  type InvalidTelemetryInput,
  TelemetryExportError
} from "./TelemetryError.ts"
import type { EventName, Handler, HandlerInfo, Measurements, Metadata, TelemetryEvent } from "./TelemetryEvent.ts"
import { emptyMetadata, formatEventName, HandlerIdSchema, PrefixesSchema } from "./TelemetryEvent.ts"
import { makeTrackers, type Trackers } from "./Track.ts"

/** The service interface. */
export interface TelemetryHubShape extends Trackers {
  /**
   * Attaches `handler` to every event whose name starts with one of `prefixes` (`:telemetry.attach_many/4`). Fails
   * with `InvalidTelemetryInput` when `id` is empty, `prefixes` is empty or a prefix is empty or has an empty
   * segment; with `DuplicateHandlerError` when a handler with `id` is already attached (the hub's own
   * `troupe/metrics:<event>` recorders count).
   */
  readonly attach: (
    id: string,
    prefixes: ReadonlyArray<EventName>,
    handler: Handler
  ) => Effect.Effect<void, DuplicateHandlerError | InvalidTelemetryInput>
  /**
   * Detaches a handler (`:telemetry.detach/1`). Fails with `HandlerNotFoundError` when no handler with `id` is
   * attached: never attached, already detached, or detached by the hub after it failed.
   */
  readonly detach: (id: string) => Effect.Effect<void, HandlerNotFoundError>
  /**
   * Lists attached handlers, optionally those attached to a name under a prefix, compared by whole segments
   * (`:telemetry.list_handlers/1`). The hub's own metric recorders appear as `troupe/metrics:<event>`.
   */
  readonly handlers: (prefix?: EventName) => Effect.Effect<ReadonlyArray<HandlerInfo>>
  /**
   * Emits one event (`:telemetry.execute/3`). Never fails, whatever the handlers do. Not decoded (hot path; the
   * types constrain it). Do not mutate a name array after emitting it: routing is cached by the array's identity.
   */
  readonly emit: (name: EventName, measurements: Measurements, metadata?: Metadata) => Effect.Effect<void>
  /**
   * `emit` for synchronous hot paths (cache lookups, rate-limit checks): nothing happens unless a handler is
   * attached for `name`; synchronous handlers run inline, a handler returning an Effect continues in a fiber forked
   * into the hub layer's scope (interrupted when the layer is released). With `maxForkedHandlers` such fibers
   * already running, the handler's Effect is dropped and counted in `troupe_telemetry_handler_effects_dropped_total`.
   */
  readonly emitUnsafe: (name: EventName, measurements: Measurements, metadata?: Metadata) => void
  /** Wraps an effect in `start`/`stop`/`exception` events, a tracing span and reporter stats (`:telemetry.span/3`). */
  readonly span: SpanFunction
  /** The metric definitions the hub records (data, for dashboards). */
  readonly metrics: () => ReadonlyArray<MetricDefinition>
  /**
   * The Prometheus text exposition (format 0.0.4) of the `MetricRegistry` the hub was built with: the hub's metrics
   * and any other Effect metric in that registry. Rendered by effect's `PrometheusMetrics.formatUnsafe`.
   */
  readonly prometheus: (options?: { readonly prefix?: string }) => Effect.Effect<string>
  /** Sliding-window statistics per component. */
  readonly stats: () => Effect.Effect<ReadonlyArray<ComponentStats>>
  /** The statistics as a readable text table. */
  readonly report: () => Effect.Effect<string>
  /**
   * Writes the statistics as JSON to `path` (parent directories are created). Fails with `InvalidTelemetryInput`
   * when `path` is empty; with `TelemetryExportError` when creating the directories or writing the file fails
   * (permissions, a file where a directory should be, a full disk).
   */
  readonly exportJson: (path: string) => Effect.Effect<void, TelemetryExportError | InvalidTelemetryInput>
  /** Clears the reporter's windows. */
  readonly resetStats: () => Effect.Effect<void>
}

/** Options of `TelemetryHub.layerWith` (decoded with Schema). */
export interface TelemetryHubOptions {
  /** Calls kept per component by the reporter (default 100). */
  readonly windowSize?: number
  /** Metric definitions to record (default `defaultMetrics`). */
  readonly metrics?: ReadonlyArray<MetricDefinition>
  /** Mask secrets in every emitted string (default `true`). */
  readonly maskSecrets?: boolean
  /** Handler Effects forked by `emitUnsafe` running at once (default 1,000); beyond it they are dropped and counted. */
  readonly maxForkedHandlers?: number
}

const OptionsSchema = Schema.Struct({
  windowSize: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000 }))),
  metrics: Schema.optionalKey(Schema.Unknown),
  maskSecrets: Schema.optionalKey(Schema.Boolean),
  maxForkedHandlers: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000 })))
})

interface HandlerFailure {
  readonly entry: HandlerEntry
  readonly kind: "throw" | "failure" | "defect"
  readonly reason: string
  readonly errorType: string
}

const describeThrown = (thrown: unknown): { readonly reason: string; readonly errorType: string } =>
  thrown instanceof Error
    ? { reason: maskSecrets(thrown.message), errorType: thrown.constructor.name }
    : { reason: maskSecrets(renderUnknown(thrown)), errorType: typeof thrown }

const noneFailed = { index: -1, failed: undefined } as const

const droppedHandlerEffects = Metric.counter("troupe_telemetry_handler_effects_dropped_total", {
  description: "Handler Effects emitUnsafe dropped because maxForkedHandlers were already running",
  incremental: true
})

const make = (options: TelemetryHubOptions): Effect.Effect<TelemetryHubShape, InvalidTelemetryInput, Scope.Scope> =>
  Effect.gen(function*() {
    const decoded = yield* Schema.decodeUnknownEffect(OptionsSchema)(options, { errors: "all" }).pipe(
      Effect.mapError((e) => fromSchemaError("TelemetryHub options", e))
    )
    const definitions = yield* decodeDefinitions(options.metrics ?? defaultMetrics)
    const windowSize = decoded.windowSize ?? 100
    const mask: (metadata: Metadata) => Metadata = decoded.maskSecrets === false
      ? (metadata) => metadata
      : maskRecord
    // The registry (and clock) of the layer's context: recorders write into it, `prometheus()` reads it.
    const context = yield* Effect.context<never>()
    const table = new HandlerTable()
    // `emitUnsafe`'s handler fibers: interrupted when the layer's scope closes; bounded by `maxForkedHandlers`
    const maxForked = decoded.maxForkedHandlers ?? 1_000
    const forked = yield* FiberSet.make<void, never>()
    const runForked = yield* FiberSet.runtime(forked)<never>()
    const forkedRunning = (): number => forked.state._tag === "Open" ? forked.state.backing.size : 0
    const reporter = new Reporter(windowSize)

    const reportFailures = (event: TelemetryEvent, failures: ReadonlyArray<HandlerFailure>): Effect.Effect<void> =>
      Effect.forEach(
        failures,
        (f) =>
          Effect.logWarning(`telemetry handler "${f.entry.id}" detached after a ${f.kind}: ${f.reason}`).pipe(
            Effect.annotateLogs({ handler_id: f.entry.id, event_name: formatEventName(event.name) }),
            Effect.andThen(Clock.currentTimeMillis),
            Effect.flatMap((now) =>
              emit(Events.telemetryHandlerFailure, { system_time: now }, {
                handler_id: f.entry.id,
                event_name: formatEventName(event.name),
                kind: f.kind,
                reason: f.reason,
                error_type: f.errorType
              })
            )
          ),
        { discard: true }
      )

    /** Waits for a handler's returned Effect, records a failure (detaching it), then runs the rest. */
    const awaitHandler = (
      entry: HandlerEntry,
      handlerEffect: Effect.Effect<unknown, unknown>,
      entries: ReadonlyArray<HandlerEntry>,
      event: TelemetryEvent,
      index: number,
      failed: Array<HandlerFailure> | undefined
    ): Effect.Effect<void> =>
      Effect.flatMap(Effect.exit(handlerEffect), (exit) => {
        if (Exit.isFailure(exit)) {
          const info = exceptionInfo(exit.cause)
          if (info.kind !== "interrupt") {
            table.detachEntry(entry)
            failed = [...(failed ?? []), { entry, kind: info.kind, reason: info.reason, errorType: info.errorType }]
          }
        }
        return dispatch(entries, event, index + 1, failed)
      })

    /**
     * Runs handlers from `start` in attach order, synchronously, until one returns an Effect; returns that
     * handler's index and Effect (the caller decides how to run it), or the failures collected.
     */
    const runSync = (
      entries: ReadonlyArray<HandlerEntry>,
      event: TelemetryEvent,
      start: number,
      failed: Array<HandlerFailure> | undefined
    ):
      | {
        readonly index: number
        readonly entry: HandlerEntry
        readonly effect: Effect.Effect<unknown, unknown>
        readonly failed: Array<HandlerFailure> | undefined
      }
      | { readonly index: -1; readonly failed: Array<HandlerFailure> | undefined } =>
    {
      for (let i = start; i < entries.length; i++) {
        const entry = entries[i]
        if (entry === undefined || !entry.active) continue
        let result: unknown
        try {
          result = entry.handler(event)
        } catch (thrown) {
          table.detachEntry(entry)
          failed = [...(failed ?? []), { entry, kind: "throw", ...describeThrown(thrown) }]
          continue
        }
        // the Handler type makes a returned Effect's requirements `never`
        if (result !== undefined && Effect.isEffect(result)) {
          // see above: a handler's Effect needs no services
          return { index: i, entry, effect: result as Effect.Effect<unknown, unknown>, failed }
        }
      }
      return failed === undefined ? noneFailed : { index: -1, failed }
    }

    // Runs handlers from `start` in attach order; sync handlers inline, returned Effects in this fiber.
    const dispatch = (
      entries: ReadonlyArray<HandlerEntry>,
      event: TelemetryEvent,
      start: number,
      failed: Array<HandlerFailure> | undefined
    ): Effect.Effect<void> => {
      const ran = runSync(entries, event, start, failed)
      if (ran.index >= 0 && "effect" in ran) {
        return awaitHandler(ran.entry, ran.effect, entries, event, ran.index, ran.failed)
      }
      return ran.failed === undefined ? Effect.void : reportFailures(event, ran.failed)
    }

    // Runs the synchronous handlers now; returns what is left for the emitter's fiber (or `undefined`).
    const emitNow = (
      name: EventName,
      measurements: Measurements,
      metadata: Metadata
    ): Effect.Effect<void> | undefined => {
      const entries = table.resolve(name)
      if (entries.length === 0) return undefined
      const event: TelemetryEvent = { name, measurements, metadata: mask(metadata) }
      const ran = runSync(entries, event, 0, undefined)
      if (ran.index >= 0 && "effect" in ran) {
        return awaitHandler(ran.entry, ran.effect, entries, event, ran.index, ran.failed)
      }
      return ran.failed === undefined ? undefined : reportFailures(event, ran.failed)
    }

    const emit = (
      name: EventName,
      measurements: Measurements,
      metadata: Metadata = emptyMetadata
    ): Effect.Effect<void> => Effect.suspend(() => emitNow(name, measurements, metadata) ?? Effect.void)

    // Synchronous emission for hot paths outside Effect: sync handlers run inline; a handler that returns an
    // Effect (and the handlers after it, and failure reports) continue in a fiber forked into `forked`. With
    // `maxForked` running, that handler's Effect is dropped and counted, and the handlers after it run here.
    // The no-handler and sync-handler paths allocate nothing beyond the event.
    const emitUnsafe = (name: EventName, measurements: Measurements, metadata: Metadata = emptyMetadata): void => {
      const entries = table.resolve(name)
      if (entries.length === 0) return
      const event: TelemetryEvent = { name, measurements, metadata: mask(metadata) }
      let ran = runSync(entries, event, 0, undefined)
      while (ran.index >= 0 && "effect" in ran) {
        if (forkedRunning() < maxForked) {
          runForked(awaitHandler(ran.entry, ran.effect, entries, event, ran.index, ran.failed))
          return
        }
        droppedHandlerEffects.updateUnsafe(1, context)
        ran = runSync(entries, event, ran.index + 1, ran.failed)
      }
      if (ran.failed === undefined) return
      if (forkedRunning() < maxForked) runForked(reportFailures(event, ran.failed))
      else droppedHandlerEffects.updateUnsafe(1, context)
    }

    const attachUnsafe = (id: string, prefixes: ReadonlyArray<EventName>, handler: Handler) => {
      table.attach(id, prefixes, handler)
    }

    for (const group of makeRecorderGroups(definitions, context)) {
      attachUnsafe(`troupe/metrics:${formatEventName(group.event)}`, [group.event], group.handle)
    }

    const span = makeSpan(emitNow, reporter, decoded.maskSecrets !== false)
    const stats = () => Effect.sync(() => reporter.stats())

    return {
      attach: (id, prefixes, handler) =>
        Effect.gen(function*() {
          const decodedId = yield* Schema.decodeUnknownEffect(HandlerIdSchema)(id).pipe(
            Effect.mapError((e) => fromSchemaError("handler id", e))
          )
          const decodedPrefixes = yield* Schema.decodeUnknownEffect(PrefixesSchema)(prefixes, { errors: "all" }).pipe(
            Effect.mapError((e) => fromSchemaError(`prefixes of handler "${decodedId}"`, e))
          )
          if (table.has(decodedId)) return yield* new DuplicateHandlerError({ handlerId: decodedId })
          attachUnsafe(decodedId, decodedPrefixes.map((p) => Object.freeze([...p])), handler)
        }),
      detach: (id) =>
        Effect.suspend(() => table.detach(id) ? Effect.void : Effect.fail(new HandlerNotFoundError({ handlerId: id }))),
      handlers: (prefix) => Effect.sync(() => table.list(prefix)),
      emit,
      emitUnsafe,
      span,
      ...makeTrackers(span),
      metrics: () => definitions,
      prometheus: (opts) => Effect.sync(() => PrometheusMetrics.formatUnsafe(context, opts)),
      stats,
      report: () => Effect.map(stats(), (s) => formatReport(s, windowSize)),
      exportJson: (path) =>
        Effect.gen(function*() {
          const target = yield* Schema.decodeUnknownEffect(Schema.NonEmptyString)(path).pipe(
            Effect.mapError((e) => fromSchemaError("export path", e))
          )
          const now = yield* Clock.currentTimeMillis
          const body = JSON.stringify(
            { generatedAt: new Date(now).toISOString(), windowSize, components: reporter.stats() },
            null,
            2
          )
          yield* Effect.tryPromise({
            try: async () => {
              await mkdir(dirname(target), { recursive: true })
              await writeFile(target, body + "\n", "utf8")
            },
            catch: (e) => new TelemetryExportError({ path: target, reason: e instanceof Error ? e.message : String(e) })
          })
        }),
      resetStats: () => Effect.sync(() => reporter.reset())
    } satisfies TelemetryHubShape
  })

/**
 * The telemetry hub service.
 *
 * @example
 * ```ts
 * const hub = yield* TelemetryHub
 * yield* hub.emit(Events.cacheHit, { count: 1 }, { cache: "embeddings" })
 * ```
 */
export class TelemetryHub extends Context.Service<TelemetryHub, TelemetryHubShape>()("troupe/TelemetryHub") {
  /**
   * A hub; with no options it records `defaultMetrics` with a 100-call reporter window and lets `emitUnsafe` run up
   * to 1,000 handler Effects at once. Fibers it forked are interrupted when the layer is released. The options are validated:
   * a bad one fails the layer with `InvalidTelemetryInput` naming every issue and its path.
   */
  static readonly layer = (options: TelemetryHubOptions = {}): Layer.Layer<TelemetryHub, InvalidTelemetryInput> =>
    Layer.effect(TelemetryHub, make(options))
}
