/**
 * `RequestQueue`: a bounded, prioritised, tenant-fair waiting line in front of a provider (or any effect).
 *
 * Rules (the same words as the README and the tests):
 * - **Concurrency per queue**: at most `concurrency` requests run at once; the others wait in the line.
 * - **Strict priority**: `critical` before `high` before `normal` before `low`.
 * - **Weighted fair queuing across tenants**: inside a priority, tenants are served by virtual finish time
 *   (`max(V, last) + 1/weight`), so no tenant starves another: while two tenants both wait, their services divided
 *   by their weights differ by at most `1/w_i + 1/w_j`. A tenant's weight is its own entry in `weights`, else 1 —
 *   whatever its name (`constructor`, `__proto__` and the other names of `Object.prototype` are tenants like any).
 * - **Bounded** (`capacity`, default 1,000 waiting) with an overflow strategy: `reject-newest` (the arrival fails
 *   with `QueueFull`), `drop-lowest-priority` (the last-served waiting request of a strictly lower priority is shed
 *   with `Shed { reason: "priority" }`, else the arrival fails with `QueueFull`), `shed-by-deadline` (waiting
 *   requests past their deadline are shed with `Shed { reason: "deadline" }` to make room, else `QueueFull`).
 * - **Deadlines**: a request past its `deadline` when its turn comes is shed with `Shed { reason: "deadline" }`.
 * - **Per-request timeout and cancellation**: a request that waits longer than its `timeout` fails with
 *   `Shed { reason: "timeout" }`; an interrupted waiter leaves the queue at once (the depth drops immediately, and
 *   `troupe_queue_depth` with it, even when the waiter is interrupted as its timeout fires); a waiter interrupted as
 *   its turn comes gives its slot back (the slot is handed over in the same step it leaves the line, so none is lost).
 * - **Metrics**: `troupe_queue_depth` (gauge), `troupe_queue_wait_seconds` (histogram),
 *   `troupe_queue_shed_total` (counter, by `reason`, `full` for `QueueFull`), all with the `queue` attribute.
 *
 * Options are decoded with Schema by the runtime's shared decoder (`InvalidOptions` naming the path). Reuses the
 * pure line in `internal/FairQueue.ts`; timing reads the Effect `Clock` (TestClock in tests).
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Duration, Effect, Exit, Metric, Result, Schema } from "effect"
import { DurationInput, PositiveInt, validate } from "../runtime/internal/Options.ts"
import { InvalidOptions } from "../runtime/RuntimeError.ts"
import { type Entry, FairQueue } from "./internal/FairQueue.ts"
import { QueueFull, Shed, type ShedReason } from "./QueueError.ts"

/** The priorities, highest first. */
export const Priority = Schema.Literals(["critical", "high", "normal", "low"])
/** A request's priority. */
export type Priority = typeof Priority.Type
const LEVELS: ReadonlyArray<Priority> = ["critical", "high", "normal", "low"]

/** The Schema of `RequestQueue.make`'s options. */
export const RequestQueueOptions = Schema.Struct({
  /** the queue's name (metrics attribute, error messages) */
  name: Schema.String,
  /** requests running at once (default 8) */
  concurrency: Schema.optional(PositiveInt),
  /** requests waiting at most (default 1,000) */
  capacity: Schema.optional(PositiveInt),
  /** what to do when full (default `reject-newest`) */
  overflow: Schema.optional(Schema.Literals(["reject-newest", "drop-lowest-priority", "shed-by-deadline"])),
  /** tenant weights (default 1 each) */
  weights: Schema.optional(Schema.Record(Schema.String, Schema.Number.pipe(Schema.check(Schema.isGreaterThan(0))))),
  /** the default wait timeout of a request (default none) */
  timeout: Schema.optional(DurationInput),
  /** the `retry-after` suggested by `QueueFull` / `Shed` (default 1 second) */
  retryAfter: Schema.optional(DurationInput)
})
/** Options of `RequestQueue.make`. */
export type RequestQueueOptions = typeof RequestQueueOptions.Type

/** Per-request options of `run` (typed, not decoded: a priority outside the type is a defect naming `priority`). */
export interface RequestOptions {
  /** default `normal` */
  readonly priority?: Priority
  /** default `"default"` */
  readonly tenant?: string
  /** longest wait for a slot; fails with `Shed { reason: "timeout" }` */
  readonly timeout?: Duration.Input
  /** epoch milliseconds (the Clock's) after which the request is not worth starting */
  readonly deadline?: number
}

/** A running queue. */
export interface RequestQueue {
  /** Runs `effect` when its turn comes. Fails with `QueueFull` on arrival or `Shed` while waiting. */
  readonly run: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    request?: RequestOptions
  ) => Effect.Effect<A, E | QueueFull | Shed, R>
  /** requests waiting */
  readonly depth: () => number
  /** requests running */
  readonly inFlight: () => number
}

const waitBoundaries = Metric.boundariesFromIterable([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60])

const invalid = (path: string, detail: string) => new InvalidOptions({ subject: "request queue request", path, detail })

interface Waiter {
  readonly granted: Deferred.Deferred<void, Shed>
  readonly enqueuedAt: number
}

/** Builds a queue. Fails with `InvalidOptions` (naming the path) when the options do not decode. */
export const make = (options: RequestQueueOptions): Effect.Effect<RequestQueue, InvalidOptions> =>
  Effect.gen(function*() {
    const decoded = validate(RequestQueueOptions, options, "request queue options")
    if (Result.isFailure(decoded)) return yield* Effect.fail(decoded.failure)
    const o = decoded.success
    const name = o.name
    const concurrency = o.concurrency ?? 8
    const capacity = o.capacity ?? 1000
    const overflow = o.overflow ?? "reject-newest"
    // a Map, not the record: a tenant named `constructor` or `__proto__` must not read Object.prototype
    const weights = new Map(Object.entries(o.weights ?? {}))
    const retryAfterMillis = Duration.toMillis(Duration.fromInputUnsafe(o.retryAfter ?? 1000))
    const defaultTimeout = o.timeout
    const attributes = { queue: name }
    const depthGauge = Metric.gauge("troupe_queue_depth", { description: "requests waiting in the queue", attributes })
    const waitHistogram = Metric.histogram("troupe_queue_wait_seconds", {
      description: "time from enqueue to start (or shed), seconds",
      boundaries: waitBoundaries,
      attributes
    })
    const shedCounters = new Map<string, Metric.Counter<number>>()
    const shedCounter = (reason: string) => {
      let c = shedCounters.get(reason)
      if (c === undefined) {
        c = Metric.counter("troupe_queue_shed_total", {
          description: "requests refused or shed, by reason",
          incremental: true,
          attributes: { queue: name, reason }
        })
        shedCounters.set(reason, c)
      }
      return c
    }
    const line = new FairQueue<Waiter>(LEVELS.length, (t) => weights.get(t) ?? 1)
    let running = 0

    const gauge = Effect.suspend(() => Metric.update(depthGauge, line.size))
    // the depth and the refusals by overflow exist from the queue's creation (dashboards and alert rules read them)
    yield* gauge
    yield* Metric.update(shedCounter("full"), 0)
    const observeWait = (w: Waiter, now: number) => Metric.update(waitHistogram, Math.max(0, now - w.enqueuedAt) / 1000)
    const shed = (entry: Entry<Waiter>, reason: ShedReason, now: number) =>
      Effect.andThen(
        Effect.all([Metric.update(shedCounter(reason), 1), observeWait(entry.value, now)], { discard: true }),
        Deferred.fail(entry.value.granted, new Shed({ queue: name, reason, retryAfterMillis }))
      )

    // hands free slots to the next waiters (sheds those past their deadline)
    const dispatch: Effect.Effect<void> = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      while (running < concurrency) {
        const next = line.pop()
        if (next === undefined) break
        if (next.deadline <= now) {
          yield* shed(next, "deadline", now)
          continue
        }
        // the grant in the same synchronous step as the pop: no yield point between the slot leaving the line and
        // its waiter holding it, so a waiter interrupted at any point either is still in the line or gives it back
        running++
        Deferred.doneUnsafe(next.value.granted, Exit.void)
        yield* observeWait(next.value, now)
      }
      yield* gauge
    })
    // nobody waiting: just free the slot (the hot path; the depth gauge is already 0)
    const release = Effect.suspend(() => {
      running--
      return line.size === 0 ? Effect.void : dispatch
    })

    // makes room for an arrival of `priority`, or returns the QueueFull
    const admit = (priority: number, now: number): Effect.Effect<QueueFull | undefined> =>
      Effect.gen(function*() {
        if (line.size < capacity) return undefined
        if (overflow === "drop-lowest-priority") {
          const victim = line.lowestBelow(priority)
          if (victim !== undefined) {
            line.remove(victim)
            yield* shed(victim, "priority", now)
            return undefined
          }
        } else if (overflow === "shed-by-deadline") {
          const expired = line.expired(now)
          for (const e of expired) {
            line.remove(e)
            yield* shed(e, "deadline", now)
          }
          if (line.size < capacity) return undefined
        }
        yield* Metric.update(shedCounter("full"), 1)
        return new QueueFull({ queue: name, capacity, retryAfterMillis })
      })

    const run: RequestQueue["run"] = (effect, request = {}) =>
      Effect.uninterruptibleMask((restore) => {
        // the fast path: a free slot, nobody waiting, no deadline to check
        if (running < concurrency && line.size === 0 && request.deadline === undefined) {
          running++
          return Effect.ensuring(restore(effect), release)
        }
        return Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const deadline = request.deadline ?? Number.POSITIVE_INFINITY
          if (running < concurrency && line.size === 0 && deadline > now) {
            running++
            return yield* Effect.ensuring(restore(effect), release)
          }
          const priority = LEVELS.indexOf(request.priority ?? "normal")
          // request options are typed (not decoded per call, on the hot path): a value outside the type is a defect
          if (priority < 0) return yield* Effect.die(invalid("priority", "expected critical, high, normal or low"))
          const full = yield* admit(priority, now)
          if (full !== undefined) return yield* Effect.fail(full)
          const granted = yield* Deferred.make<void, Shed>()
          const entry = line.push({ granted, enqueuedAt: now }, priority, request.tenant ?? "default", deadline)
          yield* gauge
          if (running < concurrency) yield* dispatch
          const timeout = request.timeout ?? defaultTimeout
          const wait = timeout === undefined ? Deferred.await(granted) : Deferred.await(granted).pipe(
            Effect.timeoutOrElse({
              duration: timeout,
              orElse: () =>
                Effect.andThen(
                  // uninterruptible: once out of the line, the shed and the depth gauge always follow
                  Effect.uninterruptible(Effect.gen(function*() {
                    // granted at the same instant: keep the slot
                    if (!line.remove(entry)) return
                    yield* shed(entry, "timeout", yield* Clock.currentTimeMillis)
                    yield* gauge
                  })),
                  Deferred.await(granted)
                )
            })
          )
          yield* restore(wait).pipe(
            Effect.onInterrupt(() =>
              Effect.suspend(() => {
                line.remove(entry)
                // the slot was granted as we were interrupted: give it back; the depth gauge always follows
                return Effect.andThen(
                  Effect.flatMap(
                    Deferred.isDone(granted),
                    (done) => done ? Effect.ignore(Effect.andThen(Deferred.await(granted), release)) : Effect.void
                  ),
                  gauge
                )
              })
            )
          )
          return yield* Effect.ensuring(restore(effect), release)
        })
      })

    return { run, depth: () => line.size, inFlight: () => running }
  })
