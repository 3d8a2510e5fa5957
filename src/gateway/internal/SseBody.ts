/**
 * The body of a gateway SSE response, after its first pull (see `SseResponse`), as one stream stage: the hot-path
 * twin of the stages `sseBodyStages` composes (concat, flatMap per element, catchCause, endWhen, two concats and a
 * map per frame).
 *
 * The rules (checked against `sseBodyStages` by the property test in test/gateway/internal/SseBody.test.ts):
 *
 * - **Prelude first, then each element's frames** (`encode`), in order; the elements of the first pull (`head`)
 *   are always sent.
 * - **A source that completes** is followed by the `epilogue` frames (`[DONE]` for chat completions).
 * - **A source that fails** is followed by one `onError(error)` frame (`undefined` for a defect) and the body ends
 *   normally: the status was sent with the first byte, so the failure is an event, not an HTTP error. A body
 *   interrupted (the client went away) ends with the interruption and sends nothing more. A defect (no typed
 *   failure in the cause) and an `encode` that throws are logged at Error level with their cause, since the
 *   client's frame says nothing about them; a typed failure is the caller's to report (`onError`).
 * - **When `drain` completes** (the gateway's drain timeout), a pending pull of the source is interrupted, one
 *   `onDrained()` frame is sent and the body ends.
 * - All frames a pull yields go out as one chunk (one socket write), where the stages sent one chunk per frame.
 *
 * Why hand-rolled: each Effect stream stage costs a pull effect per element and a setup per stream, and `flatMap`
 * builds an inner stream per element; `bench/stream.bench.ts` rows `stream.sse-body` beside
 * `stream.sse-body-stages`.
 *
 * @internal
 */
import { Cause, Effect, Stream } from "effect"
import type * as Arr from "effect/Array"
import * as Pull from "effect/Pull"
import { endWhen } from "../../internal/PullLimits.ts"

/** One SSE frame. */
export interface Frame {
  readonly data: string
  readonly event?: string
  readonly id?: string
}

export const frameText = (frame: Frame): string =>
  (frame.id !== undefined ? `id: ${frame.id}\n` : "") + (frame.event !== undefined ? `event: ${frame.event}\n` : "") +
  frame.data.split("\n").map((line) => `data: ${line}`).join("\n") + "\n\n"

export interface SseBodyOptions<A, E> {
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
}

/** `sseBody`, or its reference `sseBodyStages`. */
export type SseBodyOf = <A, E>(
  head: ReadonlyArray<A>,
  pull: Pull.Pull<Arr.NonEmptyReadonlyArray<A>, E> | undefined,
  drain: Effect.Effect<unknown, unknown>,
  options: SseBodyOptions<A, E>
) => Stream.Stream<Uint8Array, E>

const encoder = new TextEncoder()
const DRAINED: unique symbol = Symbol("troupe/SseBody/drained")

const framesText = (frames: ReadonlyArray<Frame>): string => {
  let text = ""
  for (const frame of frames) text += frameText(frame)
  return text
}

/** The error of a failed source for `onError`: its first failure, or `undefined` for a defect. */
const errorOf = <E>(cause: Cause.Cause<E>): E | undefined => {
  const found = Cause.findErrorOption(cause)
  return found._tag === "Some" ? found.value : undefined
}

const logDefect = (cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Effect.logError("SSE response failed after its first byte; the client got an error event without its cause", cause)

/**
 * The body after `head` (the first pull's elements): the rest of the source from `pull` (`undefined` when the
 * first pull found it ended), framed as the module doc says, ended early when `drain` completes.
 */
export const sseBody: SseBodyOf = <A, E>(
  head: ReadonlyArray<A>,
  pull: Pull.Pull<Arr.NonEmptyReadonlyArray<A>, E> | undefined,
  drain: Effect.Effect<unknown, unknown>,
  options: SseBodyOptions<A, E>
) =>
  Stream.fromPull(Effect.sync(() => {
    let text = framesText(options.prelude ?? [])
    let done = false
    // a defect to log before the next chunk goes out (an `encode` that threw)
    let defect: Cause.Cause<never> | undefined
    /** Adds the frames of `as`; an `encode` that throws ends the body with an error frame, as a defect would. */
    const addElements = (as: ReadonlyArray<A>): void => {
      try {
        for (const a of as) text += framesText(options.encode(a))
      } catch (error) {
        text += frameText(options.onError(undefined))
        defect = Cause.die(error)
        done = true
      }
    }
    addElements(head)
    if (pull === undefined && !done) {
      text += framesText(options.epilogue ?? [])
      done = true
    }
    const next = pull === undefined
      ? Cause.done()
      : Effect.raceFirst(pull, Effect.as(Effect.ignore(drain), DRAINED))
    const onFailure = (cause: Cause.Cause<E | Cause.Done>): Effect.Effect<void, E> => {
      done = true
      if (Pull.isDoneCause(cause)) text += framesText(options.epilogue ?? [])
      else if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<E>) // no Fail in it
      else {
        const error = errorOf(cause as Cause.Cause<E>) // not `Done`: checked above
        text += frameText(options.onError(error))
        if (error === undefined) return logDefect(cause)
      }
      return Effect.void
    }
    const read = Effect.matchCauseEffect(next, {
      onSuccess: (value): Effect.Effect<void> => {
        if (value === DRAINED) {
          text += frameText(options.onDrained())
          done = true
        } else addElements(value)
        return Effect.void
      },
      onFailure
    })
    return Effect.suspend(function step(): Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>, E> {
      if (defect !== undefined) {
        const cause = defect
        defect = undefined
        return Effect.flatMap(logDefect(cause), step)
      }
      if (text.length > 0) {
        const bytes = encoder.encode(text)
        text = ""
        return Effect.succeed([bytes])
      }
      if (done) return Cause.done()
      return Effect.flatMap(read, step)
    })
  }))

/** The stages `sseBody` replaces, as `SseResponse` had them: its reference in the property test and the benchmark. */
export const sseBodyStages: SseBodyOf = (head, pull, drain, options) =>
  Stream.suspend(() => {
    let completed = false
    let failed = false
    const rest = pull === undefined ? Stream.empty : Stream.fromPull(Effect.succeed(pull))
    const frames = Stream.concat(Stream.fromIterable(head), rest).pipe(
      Stream.flatMap((a) => Stream.fromIterable(options.encode(a))),
      Stream.concat(Stream.suspend(() => {
        completed = true
        return Stream.fromIterable(options.epilogue ?? [])
      })),
      Stream.catchCause((cause) => {
        failed = true
        if (Cause.hasInterruptsOnly(cause)) return Stream.failCause(cause)
        return Stream.make(options.onError(errorOf(cause)))
      }),
      (stream) => endWhen(stream, drain),
      Stream.concat(Stream.suspend(() => completed || failed ? Stream.empty : Stream.make(options.onDrained())))
    )
    return Stream.concat(Stream.fromIterable(options.prelude ?? []), frames).pipe(
      Stream.map((frame) => encoder.encode(frameText(frame)))
    )
  })
