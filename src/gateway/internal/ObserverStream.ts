/**
 * The body of one `/admin/events` connection (see `ObserverHandlers`): snapshots, Lifecycle events and TelemetryHub
 * events as SSE frames.
 *
 * The rules:
 *
 * - **Nothing is held unless the body runs**: the hub handler, the Lifecycle subscription, the snapshot fiber and
 *   the open-stream count are taken when the response body starts and released when it ends. A response whose body
 *   never runs (a `HEAD`, which the router answers with the `GET` handler and Node ends after the head; a client gone
 *   before the head is written) holds nothing, so a drain never waits for it.
 * - **One bounded sliding queue** (1,000 frames): the periodic snapshots, the Lifecycle events and the hub events
 *   under the filter prefix all go through it; a slow reader loses the oldest frames. The first snapshot is sent
 *   first, then what was queued while it was taken.
 * - **A frame's data is always JSON**: a `Redacted` is sent as `"<redacted>"`, a bigint as its decimal string, a
 *   reference back to an enclosing object (a cycle) as `"[Circular]"`; data that still cannot be rendered (a
 *   throwing `toJSON` or getter) drops that one frame. The hub handler never throws, so the hub never detaches it.
 * - **The stream never ends by itself**: it ends when the gateway stops accepting (`closed`), with a last `error`
 *   frame `shutting_down`.
 *
 * @internal
 */
import { Deferred, Effect, Queue, Redacted, Stream } from "effect"
import { endWhen } from "../../internal/PullLimits.ts"
import type { Lifecycle } from "../../runtime/index.ts"
import type { EventName, TelemetryHub } from "../../telemetry/index.ts"
import { httpError } from "../GatewayError.ts"
import type { GatewayState } from "./GatewayState.ts"

const encoder = new TextEncoder()
/** The last frame of `/admin/events` when the gateway stops accepting (the gateway streams' own `shutting_down`). */
const shuttingDown = encoder.encode(
  `event: error\ndata: ${
    JSON.stringify(httpError(503, "server_error", "The server is shutting down.", { code: "shutting_down" }).body)
  }\n\n`
)

/** The text of an exit reason: its tag. */
export const reasonText = (reason: unknown): string => {
  if (typeof reason !== "object" || reason === null) return String(reason)
  return "_tag" in reason ? String(reason._tag) : "unknown"
}

/** `value` as JSON can render it (see the module doc): Redacted masked, bigints as strings, cycles marked. */
export const jsonSafe = (value: unknown, ancestors: Array<object> = []): unknown => {
  if (typeof value === "bigint") return value.toString()
  if (typeof value !== "object" || value === null) return value
  if (Redacted.isRedacted(value)) return "<redacted>"
  if (ancestors.includes(value)) return "[Circular]"
  if ("toJSON" in value && typeof value.toJSON === "function") return value // a Date: JSON.stringify renders it
  ancestors.push(value)
  try {
    if (Array.isArray(value)) return value.map((v) => jsonSafe(v, ancestors))
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = jsonSafe(v, ancestors)
    return out
  } finally {
    ancestors.pop()
  }
}

/** One SSE frame, or `undefined` when its data cannot be rendered (a throwing getter, nesting too deep). */
export const frame = (event: string, data: unknown): Uint8Array | undefined => {
  try {
    return encoder.encode(`event: ${event}\ndata: ${JSON.stringify(jsonSafe(data))}\n\n`)
  } catch {
    return undefined
  }
}

export interface ObserverStreamOptions {
  readonly hub: TelemetryHub["Service"]
  readonly lifecycle: Lifecycle["Service"]
  readonly state: GatewayState
  /** the hub events sent: those under this prefix */
  readonly prefix: EventName
  /** ms between snapshots */
  readonly every: number
  /** one snapshot's data */
  readonly snapshot: Effect.Effect<unknown>
  /** the queue's bound in frames (default 1,000) */
  readonly capacity?: number
}

/** The frames of one connection, as the module doc says. */
export const observerStream = (options: ObserverStreamOptions): Stream.Stream<Uint8Array> =>
  Stream.unwrap(Effect.gen(function*() {
    const { hub, state } = options
    const queue = yield* Queue.sliding<Uint8Array>(options.capacity ?? 1_000)
    const offer = (bytes: Uint8Array | undefined): void => {
      if (bytes !== undefined) Queue.offerUnsafe(queue, bytes)
    }
    // an endless stream: counted as an open stream, ended when the gateway stops accepting
    yield* Effect.acquireRelease(
      Effect.sync(() => state.streamStarted()),
      () => Effect.sync(() => state.streamEnded())
    )
    const handlerId = `troupe/observer:${crypto.randomUUID()}`
    yield* Effect.acquireRelease(
      Effect.ignore(hub.attach(handlerId, [options.prefix], (event) =>
        offer(frame("telemetry", {
          name: event.name.join("."),
          measurements: event.measurements,
          metadata: event.metadata,
          at: Date.now()
        })))),
      () => Effect.ignore(hub.detach(handlerId))
    )
    const life = yield* options.lifecycle.subscribe
    yield* life.pipe(
      Stream.runForEachArray((events) =>
        Effect.sync(() => {
          for (const e of events) {
            offer(frame("lifecycle", { ...e, reason: e.reason === undefined ? undefined : reasonText(e.reason) }))
          }
        })
      ),
      Effect.forkScoped
    )
    const first = frame("snapshot", yield* options.snapshot)
    yield* Effect.sleep(options.every).pipe(
      Effect.andThen(options.snapshot),
      Effect.map((s) => offer(frame("snapshot", s))),
      Effect.forever,
      Effect.forkScoped
    )
    return Stream.concat(first === undefined ? Stream.empty : Stream.make(first), Stream.fromQueue(queue)).pipe(
      (stream) => endWhen(stream, Deferred.await(state.closed)),
      Stream.concat(Stream.suspend(() => state.accepting ? Stream.empty : Stream.make(shuttingDown)))
    )
  }))
