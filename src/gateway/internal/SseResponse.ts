/**
 * SSE responses that decide their status before they start: the source stream's first element is pulled before
 * the response head is sent, so a failure before any output (a rate limit, an open breaker, a provider's 429 on
 * open) is a real HTTP error status; after that, failures become an error event inside the stream.
 *
 * Every open stream is counted in the gateway state (drains wait for it) and ends early when the drain timeout is
 * reached (`streamsEnd`, through `PullLimits.endWhen`: the pending pull is interrupted), with a final
 * `shutting_down` error event; a client going away interrupts the stream and,
 * through its scope, the provider request. Frames are `id:` (optional) / `event:` (optional) / `data:` lines.
 *
 * @since 0.1.0
 */
import { Deferred, Effect, Exit, Scope, Stream } from "effect"
import * as Cause from "effect/Cause"
import { HttpServerResponse } from "effect/http"
import * as Pull from "effect/Pull"
import { endWhen } from "../../internal/PullLimits.ts"
import type { GatewayState } from "./GatewayState.ts"

/** One SSE frame. */
export interface Frame {
  readonly data: string
  readonly event?: string
  readonly id?: string
}

const encoder = new TextEncoder()

export const frameText = (frame: Frame): string =>
  (frame.id !== undefined ? `id: ${frame.id}\n` : "") + (frame.event !== undefined ? `event: ${frame.event}\n` : "") +
  frame.data.split("\n").map((line) => `data: ${line}`).join("\n") + "\n\n"

export const sseHeaders = {
  "cache-control": "no-cache",
  "x-accel-buffering": "no"
}

export interface SseOptions<A, E> {
  readonly state: GatewayState
  /** Frames of one element. */
  readonly encode: (a: A) => ReadonlyArray<Frame>
  /** Frames sent before the first element's (after it arrived). */
  readonly prelude?: ReadonlyArray<Frame>
  /** The frame of a failure after the stream started. */
  readonly onError: (error: E | undefined) => Frame
  /** The frame of a stream ended by the drain. */
  readonly onDrained: () => Frame
  /** Frames after a stream that completed. */
  readonly epilogue?: ReadonlyArray<Frame>
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
      let completed = false
      let failed = false
      const rest: Stream.Stream<A, E> = ended ? Stream.empty : Stream.fromPull(Effect.succeed(pull))
      const frames = Stream.concat(Stream.fromIterable(head), rest).pipe(
        Stream.flatMap((a) => Stream.fromIterable(options.encode(a))),
        Stream.concat(Stream.suspend(() => {
          completed = true
          return Stream.fromIterable(options.epilogue ?? [])
        })),
        Stream.catchCause((cause) => {
          failed = true
          if (Cause.hasInterruptsOnly(cause)) return Stream.failCause(cause)
          return Stream.make(
            options.onError(Cause.findErrorOption(cause).pipe((o) => o._tag === "Some" ? o.value : undefined))
          )
        }),
        (stream) => endWhen(stream, Deferred.await(state.streamsEnd)), // one race per pull (see PullLimits)
        Stream.concat(Stream.suspend(() => completed || failed ? Stream.empty : Stream.make(options.onDrained())))
      )
      const body = Stream.concat(Stream.fromIterable(options.prelude ?? []), frames).pipe(
        Stream.map((frame) => encoder.encode(frameText(frame))),
        Stream.ensuring(Effect.andThen(close, Effect.sync(() => state.streamEnded())))
      )
      return HttpServerResponse.stream(body, {
        contentType: "text/event-stream",
        headers: { ...sseHeaders, ...options.headers }
      })
    })
  )
