/**
 * `QueueStep`: a `RequestQueue` (see `src/queue`) in front of each provider of the `Llm` pipeline. Rules:
 *
 * - **Keyed by provider**: the queue of a provider attempt is the one of its route (`target.route`, the key of the
 *   `ProviderRegistry`), configured by `queues[route]`, else by `default`; a route with neither is not queued.
 *   The queues are built once per route the registry has: the pipeline looks the route up before the queue, so a
 *   call naming a provider the registry lacks fails with `ProviderNotFound` and builds none (the table is bounded by
 *   the registry's routes, whatever `provider:model` callers name).
 * - **Outermost around the attempt**: the queue wraps rate limit → breaker → retry, so a slot is held for the whole
 *   attempt of one model (its retries included); for a stream, while the stream opens (not while it is read).
 * - **Priority and tenant fairness**: a call waits at its `options.priority` (`critical` before `high` before
 *   `normal`, the default, before `low`), and inside a priority by its `options.tenant` (else `default`).
 * - Failures: `QueueFull` on arrival, `Shed` while waiting (the gateway answers 503 with `retry-after`).
 *
 * Optional in `Llm.layer`: without a `QueueStep` in the context the pipeline is unchanged.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Result } from "effect"
import { Schema } from "effect"
import { dual } from "effect/Function"
import type { QueueFull, Shed } from "../queue/index.ts"
import { RequestQueue } from "../queue/index.ts"
import { validate } from "../runtime/internal/Options.ts"
import type { InvalidOptions } from "../runtime/RuntimeError.ts"
import type { CallContext, Target } from "./Target.ts"

const PerQueue = RequestQueue.RequestQueueOptions.mapFields(({ name: _name, ...rest }) => rest)

/** The Schema of `QueueStep.layer`'s options. */
export const QueueStepOptions = Schema.Struct({
  /** per provider route */
  queues: Schema.optional(Schema.Record(Schema.String, PerQueue)),
  /** for routes not in `queues` (default: those are not queued) */
  default: Schema.optional(PerQueue)
})
/** Options of `QueueStep.layer`. */
export type QueueStepOptions = typeof QueueStepOptions.Type

/** The queue step of the pipeline. */
export interface QueueStepShape {
  /**
   * Runs one provider attempt through its route's queue. Fails with `QueueFull` when the route's queue is full on
   * arrival and its overflow strategy keeps the waiting calls; with `Shed` when the call, while waiting, is evicted by
   * a higher-priority arrival or passes its deadline or wait timeout; `attempt`'s own failures pass through. A route
   * without a queue never fails here.
   */
  readonly around: {
    (
      target: Target,
      context: CallContext
    ): <A, E, R>(attempt: Effect.Effect<A, E, R>) => Effect.Effect<A, E | QueueFull | Shed, R>
    <A, E, R>(
      attempt: Effect.Effect<A, E, R>,
      target: Target,
      context: CallContext
    ): Effect.Effect<A, E | QueueFull | Shed, R>
  }
  /** Each built queue's route, waiting calls (`depth`) and running calls (`inFlight`), by route. */
  readonly stats: Effect.Effect<ReadonlyArray<QueueStats>>
}

/** One route's queue as `QueueStep.stats` reports it. */
export interface QueueStats {
  readonly route: string
  readonly depth: number
  readonly inFlight: number
}

const make = (options: QueueStepOptions): Effect.Effect<QueueStepShape, InvalidOptions> =>
  Effect.gen(function*() {
    const decoded = validate(QueueStepOptions, options, "queue step options")
    if (Result.isFailure(decoded)) return yield* Effect.fail(decoded.failure)
    const o = decoded.success
    const queues = new Map<string, RequestQueue.RequestQueue>()
    for (const [route, config] of Object.entries(o.queues ?? {})) {
      queues.set(route, yield* RequestQueue.make({ ...config, name: route }))
    }
    const fallback = o.default
    const queueOf = (route: string): Effect.Effect<RequestQueue.RequestQueue | undefined> => {
      const q = queues.get(route)
      if (q !== undefined || fallback === undefined) return Effect.succeed(q)
      // the default options were decoded above, so building cannot fail
      return Effect.orDie(RequestQueue.make({ ...fallback, name: route })).pipe(
        Effect.tap((made) => Effect.sync(() => queues.set(route, made)))
      )
    }
    return {
      stats: Effect.sync(() =>
        [...queues.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([route, q]) => ({
          route,
          depth: q.depth(),
          inFlight: q.inFlight()
        }))
      ),
      around: dual(3, <A, E, R>(attempt: Effect.Effect<A, E, R>, target: Target, context: CallContext) =>
        Effect.flatMap(queueOf(target.route), (q) =>
          q === undefined ? attempt : q.run(attempt, {
            tenant: context.call.options?.tenant ?? "default",
            priority: context.call.options?.priority ?? "normal"
          })))
    }
  })

/** The pipeline's queue step (optional: provide it beside `Llm.layer`). */
export class QueueStep extends Context.Service<QueueStep, QueueStepShape>()("troupe/pipeline/QueueStep") {
  /** One `RequestQueue` per configured provider route. Fails with `InvalidOptions` naming the path. */
  static readonly layer = (options: QueueStepOptions): Layer.Layer<QueueStep, InvalidOptions> =>
    Layer.effect(QueueStep, make(options))
}
