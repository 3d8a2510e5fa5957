/**
 * SSE responses that decide their status before they start: the source stream's first element is pulled before
 * the response head is sent, so a failure before any output (a rate limit, an open breaker, a provider's 429 on
 * open) is a real HTTP error status; after that, failures become an error event inside the stream.
 *
 * Every open stream is counted in the gateway state (drains wait for it) and ends early when the drain timeout is
 * reached (`streamsEnd`: the pending pull is interrupted), with a final `shutting_down` error event; a client going
 * away interrupts the stream and, through its scope, the provider request. A response whose body never runs (a
 * `HEAD` of a GET stream route: Node ends it after the head; a client gone before the head) is released when the
 * request's scope closes, once the response is written: its source is closed and it is no longer counted. Frames
 * are `id:` (optional) / `event:` (optional) / `data:` lines; the body after the first pull is one stream stage
 * (`SseBody`).
 *
 * @since 0.1.0
 */
import { Deferred, Effect, Exit, Option, Scope, Stream } from "effect"
import type * as Cause from "effect/Cause"
import { HttpServerResponse } from "effect/http"
import * as Pull from "effect/Pull"
import type { GatewayState } from "./GatewayState.ts"
import type { SseBodyOptions } from "./SseBody.ts"
import { sseBody } from "./SseBody.ts"

export type { Frame } from "./SseBody.ts"

export const sseHeaders = {
  "cache-control": "no-cache",
  "x-accel-buffering": "no"
}

export interface SseOptions<A, E> extends SseBodyOptions<A, E> {
  readonly state: GatewayState
  readonly headers?: Record<string, string>
}

/**
 * Opens `source` and answers with its SSE response, or fails with the stream's error when it fails before its first
 * element.
 */
export const sseResponse = <A, E>(
  source: Stream.Stream<A, E>,
  options: SseOptions<A, E>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const close = Scope.close(scope, Exit.void)
      const first = yield* restore(Effect.gen(function*() {
        const pull = yield* Stream.toPull(source).pipe(Scope.provide(scope))
        const exit = yield* Effect.exit(pull)
        return { pull, exit }
      })).pipe(Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : close))
      const { exit, pull } = first
      let head: ReadonlyArray<A> = []
      let ended = false
      if (Exit.isFailure(exit)) {
        if (!Pull.isDoneCause(exit.cause)) {
          yield* close
          return yield* Effect.failCause(exit.cause as Cause.Cause<E>) // not `Done`: the stream's own failure
        }
        ended = true
      } else {
        head = exit.value
      }
      const state = options.state
      state.streamStarted()
      let released = false
      const release = Effect.suspend(() => {
        if (released) return Effect.void
        released = true
        return Effect.andThen(close, Effect.sync(() => state.streamEnded()))
      })
      // a body that never runs (a HEAD: Node ends the response after its head; a client gone before the head) never
      // reaches its `ensuring`: the request's scope, closed once the response is written, releases the stream then
      const requestScope = yield* Effect.serviceOption(Scope.Scope)
      if (Option.isSome(requestScope)) yield* Scope.addFinalizer(requestScope.value, release)
      // the frames in one stage (SseBody), ended early at the drain timeout
      const body = sseBody(head, ended ? undefined : pull, Deferred.await(state.streamsEnd), options).pipe(
        Stream.ensuring(release)
      )
      return HttpServerResponse.stream(body, {
        contentType: "text/event-stream",
        headers: { ...sseHeaders, ...options.headers }
      })
    })
  )
