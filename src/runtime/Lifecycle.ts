/**
 * Lifecycle events: every supervisor's started / exited / restarted / gave-up / shutdown, as a stream.
 *
 * Mirrors the supervisor reports OTP sends to the logger (`supervisor_report`, `progress`), but as data on a
 * stream that the telemetry hub consumes; supervisors never log by themselves. With no `Lifecycle` layer the
 * sink is absent and publishing costs one reference read.
 *
 * Reuses Effect's `PubSub` (unbounded: lifecycle events are rare and must not be lost) and `Stream`.
 */
import { Context, Effect, Layer, PubSub, type Scope, Stream } from "effect"
import type { ExitReason } from "./ExitReason.ts"

/** The kinds of supervision events, as OTP's supervisor reports (`supervisor_report` and progress reports). */
export type LifecycleEventTag =
  | "SupervisorStarted"
  | "ChildStarted"
  | "ChildExited"
  | "ChildRestarted"
  | "ChildStartFailed"
  | "RestartIntensityReached"
  | "SupervisorStopped"

/** One supervision event: which supervisor, which child, and for exits and restarts the reason. */
export interface LifecycleEvent {
  readonly _tag: LifecycleEventTag
  /** the supervisor's name */
  readonly supervisor: string
  readonly childId?: string
  readonly pid?: number
  readonly reason?: ExitReason
  /** for `ChildRestarted`: the delay applied by a restart backoff (ms) */
  readonly delayMillis?: number
  /** Effect Clock time (ms) */
  readonly timestamp: number
}

/** Where supervisors publish; provided by `Lifecycle.layer`. */
export interface LifecycleSink {
  readonly publish: (event: LifecycleEvent) => void
}

/** The sink supervisors read from their context; absent by default (events are dropped). */
export const CurrentLifecycleSink = Context.Reference<LifecycleSink | undefined>("troupe/Lifecycle/Sink", {
  defaultValue: () => undefined
})

/** The lifecycle stream service. */
export class Lifecycle extends Context.Service<Lifecycle, {
  /** every event published after subscription (a scoped subscription per consumer) */
  readonly events: Stream.Stream<LifecycleEvent>
  /** subscribe now, consume later: events published in between are kept */
  readonly subscribe: Effect.Effect<Stream.Stream<LifecycleEvent>, never, Scope.Scope>
}>()("troupe/Lifecycle") {
  /** `layer` of this module, as a static member. */
  static get layer() {
    return layer
  }
}

/**
 * Provides `Lifecycle` and installs its sink for everything built on top of it.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const events = yield* (yield* Lifecycle).subscribe
 *   ...
 * }).pipe(Effect.provide(Lifecycle.layer))
 * ```
 */
export const layer: Layer.Layer<Lifecycle> = Layer.effectContext(Effect.gen(function*() {
  const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<LifecycleEvent>(), PubSub.shutdown)
  const sink: LifecycleSink = { publish: (event) => void PubSub.publishUnsafe(pubsub, event) }
  const service = Lifecycle.of({
    events: Stream.fromPubSub(pubsub),
    subscribe: Effect.map(PubSub.subscribe(pubsub), Stream.fromSubscription)
  })
  return Context.make(Lifecycle, service).pipe(Context.add(CurrentLifecycleSink, sink))
}))
