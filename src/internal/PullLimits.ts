/**
 * Time limits on a stream's pulls: the cheap twin of `Stream.timeoutOrElse` (and of `Stream.interruptWhen` over a
 * sleep), for the hot streaming path (provider SSE chunks, the pipeline's idle and deadline limits).
 *
 * The rules:
 *
 * - **Each pull has `idleMillis`**: the time runs from the moment the consumer asks for the next chunk; when it
 *   passes before the chunk arrives, the pending pull is interrupted and the stream fails with `onIdle()`. Time the
 *   consumer spends between pulls does not count (as with `Stream.timeoutOrElse`).
 * - **The stream has `deadlineMillis`**, counted from its first pull: a pull pending at the deadline is interrupted
 *   and the stream fails with `onDeadline()`, and so does the first pull asked for after it. A consumer busy past
 *   the deadline is not interrupted while it is busy (with `Stream.interruptWhen` it would be): the stream ends at
 *   its next pull.
 * - Time is the fiber's `Clock`, so both limits follow `TestClock`.
 * - **`endWhen` ends a stream when a signal completes**: a pull pending then is interrupted and the stream ends as
 *   if its source had (no failure; what follows with `Stream.concat` still runs), and so does every later pull.
 *   The gateway ends its open SSE streams this way at the drain timeout.
 * - **`graceAfter` reads a stream to its end after its last event**: once `isDone()` is true, each further pull
 *   waits at most `graceMillis`, then the stream ends (no failure). The providers read an SSE body past its
 *   terminal event (`[DONE]`, `message_stop`) by this rule, as the official SDKs do (inside `SseFold`, whose
 *   reference stages use `graceAfter`): a body dropped before its end is destroyed with an abort, which closes the
 *   keep-alive connection and builds an error with its stack trace.
 *
 * Why not `Stream.timeoutOrElse`: it runs the upstream in a second fiber through `Stream.merge` (a queue, a latch
 * and a watcher fiber per stream), and `interruptWhen` forks another: together 175 µs per four-chunk stream with
 * asynchronous pulls (a 28 µs floor) in the run of `bench/results.json`, where racing each pull against one sleep
 * (`Effect.timeoutOrElse`) covering both limits is 63 µs: `bench/stream.bench.ts`, rows
 * `stream.pull-limits` beside `stream.timeout-interrupt-when`; `Stream.interruptWhen(Deferred.await(d))` against
 * `endWhen` likewise (`stream.end-when` beside `stream.interrupt-when-deferred`). The tests check this module
 * against those operators.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Effect, Stream } from "effect"

export interface PullLimitsOptions<E2> {
  /** The longest wait for one chunk, in ms (`Infinity`: none). */
  readonly idleMillis: number
  /** The failure when a chunk takes longer than `idleMillis`. */
  readonly onIdle: () => E2
  /** The whole stream's time from its first pull, in ms (default: none). */
  readonly deadlineMillis?: number
  /** The failure at the deadline (default `onIdle`). */
  readonly onDeadline?: () => E2
}

/**
 * `self` with its pulls bounded as the module doc says: fails with `onIdle()` when a chunk takes longer than
 * `idleMillis`, with `onDeadline()` once `deadlineMillis` have passed since the first pull.
 */
export const pullLimits = <A, E, R, E2>(
  self: Stream.Stream<A, E, R>,
  options: PullLimitsOptions<E2>
): Stream.Stream<A, E | E2, R> => {
  const idle = options.idleMillis
  const total = options.deadlineMillis ?? Number.POSITIVE_INFINITY
  if (!(idle < Number.POSITIVE_INFINITY) && !(total < Number.POSITIVE_INFINITY)) return self
  const onDeadline = options.onDeadline ?? options.onIdle
  return Stream.transformPull(self, (pull) =>
    Effect.map(Clock.clockWith(Effect.succeed), (clock) => {
      let deadlineAt: number | undefined
      return Effect.suspend(() => {
        const now = clock.currentTimeMillisUnsafe()
        deadlineAt ??= now + total
        const left = deadlineAt - now
        if (left <= 0) return Effect.fail(onDeadline())
        const byDeadline = left <= idle
        return Effect.timeoutOrElse(pull, {
          duration: byDeadline ? left : idle,
          orElse: () => Effect.fail(byDeadline ? onDeadline() : options.onIdle())
        })
      })
    }))
}

/**
 * `self` until `signal` completes: then its pending pull is interrupted and the stream ends (see the module doc).
 * A failure of `signal` ends it likewise.
 */
export const endWhen = <A, E, R>(
  self: Stream.Stream<A, E, R>,
  signal: Effect.Effect<unknown, unknown>
): Stream.Stream<A, E, R> => {
  const ended = Effect.andThen(Effect.ignore(signal), Cause.done())
  return Stream.transformPull(self, (pull) => Effect.succeed(Effect.raceFirst(pull, ended)))
}

/**
 * `self` read on after `isDone()` turns true, each pull then bounded by `graceMillis` (see the module doc): the
 * stream ends when its source does or when a pull passes its grace.
 */
export const graceAfter = <A, E, R>(
  self: Stream.Stream<A, E, R>,
  isDone: () => boolean,
  graceMillis: number
): Stream.Stream<A, E, R> =>
  Stream.transformPull(
    self,
    (pull) =>
      Effect.succeed(Effect.suspend(() =>
        isDone() ? Effect.timeoutOrElse(pull, { duration: graceMillis, orElse: () => Cause.done() }) : pull
      ))
  )
