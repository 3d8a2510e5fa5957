/**
 * Opening a stream "up to its first chunk", so stream calls get retries, breakers and fallbacks like `generate`.
 *
 * `openStream(stream)` pulls the first chunk inside an Effect: a failure before anything was emitted (429, 5xx,
 * refused connection, a timeout before the first token) is an ordinary failure of that Effect, which the retry,
 * breaker and fallback steps handle; once the first chunk is there, the returned stream replays it and continues
 * from the same pull, and a later failure goes to the consumer (text already shown cannot be taken back — the same
 * rule as `Stream.withExecutionPlan({ preventFallbackOnPartialStream: true })` and LiteLLM's streaming fallbacks).
 *
 * Each opening gets its own child `Scope` of the caller's, closed at once when the opening fails or is interrupted
 * (so a failed attempt's HTTP request is released before the next one) and otherwise when the caller's scope — the
 * consumer's stream — closes, which aborts the in-flight request. Built on `Stream.toPull` / `Stream.fromPull`.
 *
 * @since 0.1.0
 */
import type { Cause } from "effect"
import { Effect, Exit, Pull, Scope, Stream } from "effect"

/** Pulls `stream`'s first chunk now; the result replays it and continues the same stream. */
export const openStream = <A, E, R>(
  stream: Stream.Stream<A, E, R>
): Effect.Effect<Stream.Stream<A, E>, E, R | Scope.Scope> =>
  Effect.gen(function*() {
    const parent = yield* Effect.scope
    const child = yield* Scope.fork(parent)
    const opened = yield* Stream.toPull(stream).pipe(
      Scope.provide(child),
      Effect.flatMap((pull) => Effect.map(Effect.exit(pull), (first) => ({ pull, first }))),
      Effect.onExit((exit) => Exit.isFailure(exit) ? Scope.close(child, exit) : Effect.void)
    )
    const first = opened.first
    if (Exit.isSuccess(first)) {
      return Stream.concat(Stream.fromArray(first.value), Stream.fromPull(Effect.succeed(opened.pull)))
    }
    yield* Scope.close(child, Exit.void)
    if (Pull.isDoneCause(first.cause)) {
      return Stream.empty
    }
    // not `Done`: the cause holds only the stream's own failures
    return yield* Effect.failCause(first.cause as Cause.Cause<E>)
  })
