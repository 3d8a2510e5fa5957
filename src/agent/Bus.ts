/**
 * The signal bus: publish/subscribe by type pattern, replay for late subscribers, bounded subscriber buffers with
 * a declared overflow policy, and a dead-letter list.
 *
 * Mirrors `Jido.Signal.Bus`: subscriptions are `Router` patterns (`*`, `**`), the bus keeps a log of recent
 * signals that a new subscriber can replay (`replay: n`), and signals nobody could take are kept as dead letters
 * (no subscription matched, or a subscriber's full buffer rejected or evicted them) with their reason.
 *
 * Reuses Effect's `Queue` for each subscriber's buffer (so `take` parks a fiber properly) and `Scope` for
 * unsubscribing; the overflow policies are applied by the bus itself so that an evicted or rejected signal can
 * be dead-lettered: `dropping` (the new signal is dropped), `sliding` (the oldest buffered signal is evicted),
 * `fail` (the signal is dropped for that subscriber and `publish` fails with `BusOverflow` naming it, after
 * delivering to everyone else). The replay log and dead letters are fixed-size rings (hand-rolled), which grow with
 * use up to their bound rather than allocating it up front.
 *
 * Bounds: the options are decoded with maxima — `replay` and `deadLetters` at most `MAX_KEPT` (100,000) each, a
 * subscription's `capacity` at most `MAX_CAPACITY` (1,000,000) and its `replay` at most `MAX_KEPT`; a larger value
 * fails with `InvalidAgentOptions` naming the option (`replay: 2 ** 32` died with a `RangeError` before).
 */
import { Context, Effect, Layer, type Option, Queue, Result, Schema, type Scope } from "effect"
import { BusOverflow, decodeOptions, type InvalidAgentOptions, type InvalidRoute } from "./AgentError.ts"
import * as Router from "./Router.ts"
import type { Signal } from "./Signal.ts"

/**
 * What a full subscription buffer does with a new signal: drop it, evict the oldest (`sliding`), or fail the publish
 * with `BusOverflow`.
 */
export type Overflow = "dropping" | "sliding" | "fail"

/** Options of `Bus.layer`: a name and how many signals are kept for replay. */
export interface BusOptions {
  readonly name?: string
  /** signals kept for replay; default 100, at most 100,000 */
  readonly replay?: number
  /** dead letters kept (oldest forgotten first); default 1,000, at most 100,000 */
  readonly deadLetters?: number
}

/** Options of a subscription: its buffer capacity, its overflow strategy, and how many kept signals to replay first. */
export interface SubscribeOptions {
  /** buffered signals; default 1,024, at most 1,000,000 */
  readonly capacity?: number
  /** default `dropping` */
  readonly overflow?: Overflow
  /** replay up to this many matching signals from the log on subscribe; default 0, at most 100,000 */
  readonly replay?: number
}

/**
 * Why a signal became a dead letter: no subscription matched, a full buffer dropped or evicted it, or the publish
 * was rejected.
 */
export type DeadLetterReason = "NoSubscriber" | "Dropped" | "Evicted" | "Rejected"

/** A signal that reached no subscriber, with the reason; dead letters are themselves a stream. */
export interface DeadLetter {
  readonly signal: Signal
  readonly reason: DeadLetterReason
  /** the subscription that dropped, evicted or rejected it */
  readonly subscription?: number
  /** Clock time (ms) */
  readonly at: number
}

/** A subscription to signals matching a pattern: take, poll or drain its buffer, and count what it lost to overflow. */
export interface Subscription {
  readonly id: number
  readonly pattern: string
  /** waits for the next signal */
  readonly take: Effect.Effect<Signal>
  readonly poll: Effect.Effect<Option.Option<Signal>>
  /** every buffered signal (possibly none), without waiting */
  readonly drain: Effect.Effect<ReadonlyArray<Signal>>
  /** signals this subscriber lost to overflow */
  readonly lost: () => number
}

/** What `publish` reports: how many subscriptions buffered the signal. */
export interface PublishResult {
  /** subscriptions that buffered the signal */
  readonly delivered: number
}

/** The `Bus` service: a signal bus with pattern subscriptions, bounded buffers, replay and dead letters. */
export interface BusShape {
  readonly name: string
  /**
   * Publishes a signal to every matching subscriber. Fails with `BusOverflow` (naming the subscribers) when a
   * subscriber with the `fail` overflow strategy has a full buffer.
   */
  readonly publish: (signal: Signal) => Effect.Effect<PublishResult, BusOverflow>
  /**
   * subscribes for the lifetime of the current `Scope`. Fails with `InvalidRoute` when the pattern does not parse and
   * `InvalidAgentOptions` when the subscribe options are invalid.
   */
  readonly subscribe: (
    pattern: string,
    options?: SubscribeOptions
  ) => Effect.Effect<Subscription, InvalidRoute | InvalidAgentOptions, Scope.Scope>
  readonly deadLetters: Effect.Effect<ReadonlyArray<DeadLetter>>
  /** the replay log, oldest first */
  readonly recent: Effect.Effect<ReadonlyArray<Signal>>
}

/** The most signals (or dead letters) a bus keeps, and the most a subscription replays. */
export const MAX_KEPT = 100_000
/** The largest subscription buffer. */
export const MAX_CAPACITY = 1_000_000

const intBetween = (min: number, max: number) =>
  Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(min), Schema.isLessThanOrEqualTo(max)))

const BusOptionsSchema = Schema.Struct({
  name: Schema.optional(Schema.String),
  replay: Schema.optional(intBetween(0, MAX_KEPT)),
  deadLetters: Schema.optional(intBetween(0, MAX_KEPT))
})
const SubscribeOptionsSchema = Schema.Struct({
  capacity: Schema.optional(intBetween(1, MAX_CAPACITY)),
  overflow: Schema.optional(Schema.Literals(["dropping", "sliding", "fail"])),
  replay: Schema.optional(intBetween(0, MAX_KEPT))
})

/** A ring keeping the last `capacity` items; its array grows with use up to `capacity` (never allocated up front). */
class Ring<A> {
  private readonly items: Array<A> = []
  private start = 0
  count = 0
  readonly capacity: number
  constructor(capacity: number) {
    this.capacity = capacity
  }
  push(item: A): void {
    if (this.capacity === 0) return
    if (this.count < this.capacity) {
      // not full yet: start is 0 and the items fill the array in order
      this.items.push(item)
      this.count++
    } else {
      this.items[this.start] = item
      this.start = (this.start + 1) % this.capacity
    }
  }
  toArray(): Array<A> {
    const out: Array<A> = []
    // the index is within the ring's filled part (i < count)
    for (let i = 0; i < this.count; i++) out.push(this.items[(this.start + i) % this.capacity] as A)
    return out
  }
}

interface Subscriber {
  readonly id: number
  readonly queue: Queue.Queue<Signal>
  readonly overflow: Overflow
  lost: number
}

/**
 * Creates a bus. Fails with `InvalidAgentOptions` when the options are invalid.
 *
 * @example
 * ```ts
 * const bus = yield* Bus.make({ replay: 50 })
 * const sub = yield* bus.subscribe("order.**", { capacity: 100, overflow: "sliding", replay: 10 })
 * yield* bus.publish(yield* Signal.make({ type: "order.created" }))
 * const next = yield* sub.take
 * ```
 */
export const make = (options: BusOptions = {}): Effect.Effect<BusShape, InvalidAgentOptions> =>
  Effect.suspend(() => {
    const checked = decodeOptions(BusOptionsSchema, options, "bus options")
    if (checked instanceof Error) return Effect.fail(checked)
    const router = Router.make<Subscriber>()
    const log = new Ring<Signal>(options.replay ?? 100)
    const dead = new Ring<DeadLetter>(options.deadLetters ?? 1_000)

    const publish = (signal: Signal): Effect.Effect<PublishResult, BusOverflow> =>
      Effect.clockWith((clock) => {
        log.push(signal)
        const targets = Router.route(router, signal.type)
        if (targets.length === 0) {
          dead.push({ signal, reason: "NoSubscriber", at: clock.currentTimeMillisUnsafe() })
          return Effect.succeed({ delivered: 0 })
        }
        let delivered = 0
        let rejected: Array<number> | undefined
        for (const sub of targets) {
          if (Queue.offerUnsafe(sub.queue, signal)) {
            delivered++
            continue
          }
          sub.lost++
          switch (sub.overflow) {
            case "dropping":
              dead.push({ signal, reason: "Dropped", subscription: sub.id, at: clock.currentTimeMillisUnsafe() })
              break
            case "sliding": {
              const evicted = Queue.takeUnsafe(sub.queue)
              if (evicted !== undefined && evicted._tag === "Success") {
                dead.push({
                  signal: evicted.value,
                  reason: "Evicted",
                  subscription: sub.id,
                  at: clock.currentTimeMillisUnsafe()
                })
              }
              if (Queue.offerUnsafe(sub.queue, signal)) delivered++
              break
            }
            case "fail":
              dead.push({ signal, reason: "Rejected", subscription: sub.id, at: clock.currentTimeMillisUnsafe() })
              ;(rejected ??= []).push(sub.id)
              break
          }
        }
        if (rejected !== undefined) return Effect.fail(new BusOverflow({ type: signal.type, subscribers: rejected }))
        return Effect.succeed({ delivered })
      })

    const subscribe = (pattern: string, subscribeOptions: SubscribeOptions = {}) =>
      Effect.gen(function*() {
        const checkedSub = decodeOptions(SubscribeOptionsSchema, subscribeOptions, "subscribe options")
        if (checkedSub instanceof Error) return yield* checkedSub
        const valid = Router.validatePattern(pattern)
        if (Result.isFailure(valid)) return yield* valid.failure
        const queue = yield* Queue.bounded<Signal>(subscribeOptions.capacity ?? 1_024)
        const subscriber: Subscriber = { id: -1, queue, overflow: subscribeOptions.overflow ?? "dropping", lost: 0 }
        const replay = subscribeOptions.replay ?? 0
        if (replay > 0) {
          const matching = log.toArray().filter((s) => Router.matchesPattern(pattern, s.type))
          for (const s of matching.slice(-replay)) Queue.offerUnsafe(queue, s)
        }
        const id = yield* Effect.acquireRelease(
          Effect.sync(() => {
            const added = Router.add(router, pattern, subscriber)
            return Result.isSuccess(added) ? added.success : -1
          }),
          (routeId) =>
            Effect.sync(() => {
              Router.remove(router, routeId)
              Queue.shutdownUnsafe(queue)
            })
        ) // the id is set once, right after the subscriber is created (it is readonly to users)
        ;(subscriber as { id: number }).id = id
        return {
          id,
          pattern,
          take: Queue.take(queue),
          poll: Queue.poll(queue),
          drain: Effect.sync(() => {
            const out: Array<Signal> = []
            for (
              let next = Queue.takeUnsafe(queue);
              next !== undefined && next._tag === "Success";
              next = Queue.takeUnsafe(queue)
            ) {
              out.push(next.value)
            }
            return out
          }),
          lost: () => subscriber.lost
        } satisfies Subscription
      })

    return Effect.succeed<BusShape>({
      name: options.name ?? "bus",
      publish,
      subscribe,
      deadLetters: Effect.sync(() => dead.toArray()),
      recent: Effect.sync(() => log.toArray())
    })
  })

/** The bus as a service. */
export class Bus extends Context.Service<Bus, BusShape>()("troupe/agent/Bus") {
  /** A bus offered as a service; fails to build with `InvalidAgentOptions` when the options are invalid. */
  static readonly layer = (options: BusOptions = {}): Layer.Layer<Bus, InvalidAgentOptions> =>
    Layer.effect(Bus, make(options))
  /** `make`: a bus as a value, without the service. */
  static readonly make = make
}
