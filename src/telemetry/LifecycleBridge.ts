/**
 * The bridge from the runtime's supervisor lifecycle stream to telemetry events.
 *
 * OTP supervisors report `progress` and `supervisor_report`s to the logger; troupe's supervisors publish
 * `LifecycleEvent`s on the `Lifecycle` stream instead (see `src/runtime/Lifecycle.ts`), and this bridge turns each
 * into a `troupe.supervisor.*` event (catalogue in `EventCatalogue.ts`), so supervision shows up in handlers, the
 * restart/exit metrics and Prometheus. `reason` is the exit reason's kind (`normal`, `shutdown`, `killed`,
 * `failure`, `noproc`: low cardinality, usable as a metric tag) and `reason_detail` its full rendering.
 *
 * The consumer is a long-lived fiber, so it runs as a supervised task child (`Supervisor.start` +
 * `ChildSpec.task`, supervisor name `telemetry`) in the layer's scope. The subscription is taken when the layer is
 * built, before the supervisor starts, so no event published after that is lost, including the bridge's own
 * supervisor's events.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Stream } from "effect"
import { ChildSpec, ExitReason, Lifecycle, Supervisor } from "../runtime/index.ts"
import type { LifecycleEvent } from "../runtime/index.ts"
import { Events } from "./EventCatalogue.ts"
import type { EventName, Measurements, Metadata } from "./TelemetryEvent.ts"
import { TelemetryHub } from "./TelemetryHub.ts"

const names: Readonly<Record<LifecycleEvent["_tag"], EventName>> = {
  SupervisorStarted: Events.supervisorStarted,
  SupervisorStopped: Events.supervisorStopped,
  ChildStarted: Events.supervisorChildStarted,
  ChildExited: Events.supervisorChildExited,
  ChildRestarted: Events.supervisorChildRestarted,
  ChildStartFailed: Events.supervisorChildStartFailed,
  RestartIntensityReached: Events.supervisorRestartIntensityReached
}

/** Maps one lifecycle event to a telemetry event (pure). */
export const toTelemetryEvent = (event: LifecycleEvent): {
  readonly name: EventName
  readonly measurements: Measurements
  readonly metadata: Metadata
} => {
  const metadata: Record<string, unknown> = { supervisor: event.supervisor }
  if (event.childId !== undefined) metadata.child_id = event.childId
  if (event.pid !== undefined) metadata.pid = event.pid
  if (event.reason !== undefined) {
    metadata.reason = event.reason._tag.toLowerCase()
    metadata.reason_detail = ExitReason.format(event.reason)
  }
  const measurements: Record<string, number> = { system_time: event.timestamp }
  if (event.delayMillis !== undefined) measurements.delay_millis = event.delayMillis
  return { name: names[event._tag], measurements, metadata }
}

/** Emits every event of `events` through the hub; ends when the stream ends. */
export const bridge = (events: Stream.Stream<LifecycleEvent>): Effect.Effect<void, never, TelemetryHub> =>
  TelemetryHub.use((hub) =>
    Stream.runForEach(events, (event) => {
      const e = toTelemetryEvent(event)
      return hub.emit(e.name, e.measurements, e.metadata)
    })
  )

/**
 * Consumes `Lifecycle.events` for the lifetime of the layer, under a `telemetry` supervisor. Fails to build with
 * `Supervisor.SpawnError` only as `Supervisor.start` would: in practice never, since the supervisor's options are
 * fixed and valid (no `InvalidOptions`) and its one task child's start cannot fail (no `FailedToStartChild`).
 *
 * @example
 * ```ts
 * const Live = layerLifecycleBridge.pipe(Layer.provideMerge(TelemetryHub.layer()), Layer.provideMerge(Lifecycle.layer))
 * ```
 */
export const layerLifecycleBridge: Layer.Layer<never, Supervisor.SpawnError, TelemetryHub | Lifecycle> = Layer
  .effectDiscard(Effect.gen(function*() {
    const lifecycle = yield* Lifecycle
    const hub = yield* TelemetryHub
    const events = yield* lifecycle.subscribe
    yield* Supervisor.start({
      name: "telemetry",
      children: [
        ChildSpec.task({ id: "lifecycle-bridge", run: bridge(events).pipe(Effect.provideService(TelemetryHub, hub)) })
      ]
    })
  }))
