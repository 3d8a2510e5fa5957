/**
 * A provider's SSE body folded into stream parts in one stream stage: the hot-path twin of
 * `decodeText → SSE parse → pullLimits(idle) → graceAfter → mapEffect(onEvent) → concat(end) → flattenIterable`,
 * which the OpenAI-compatible and Anthropic providers ran as seven stages per stream.
 *
 * The rules (those of the stages it replaces, which the property test in test/llm/internal/SseFold.test.ts checks
 * it against):
 *
 * - **Bytes are UTF-8 text, parsed as SSE** by effect's parser (`Sse.makeParser`); a `retry:` field is ignored
 *   (see `HttpTransport`), and a parse error fails the stream with `ProviderConnectionError` ("bad SSE stream").
 * - **Each event goes to `fold.onEvent(data, event)`** in order; the parts it returns are emitted, its failure
 *   fails the stream. Events that yield no parts emit nothing.
 * - **The wait for each next event is bounded by `idleMillis`**, counted from the moment the consumer asks for
 *   parts or the previous event was folded (an event that yields no parts, such as Anthropic's `ping`, still
 *   restarts the wait); past it the stream fails with `onIdle()`. Time the consumer spends between pulls does not
 *   count.
 * - **After the terminal event** (`fold.finished`), the body is read on for at most `graceMillis` in all, counted
 *   from the first read after that event (time the consumer spends with the last parts does not count), however
 *   often bytes keep arriving (keep-alive comments, pings); then the body is treated as ended (a body read to its
 *   end keeps its connection, see `PullLimits.graceAfter`; one still sending is aborted).
 * - **When the body ends** (or its grace passes), `fold.end()` gives the last parts or the failure of a cut stream.
 *   A fold with `flushPendingAtEnd` (the OpenAI-compatible one: the `openai` SDK flushes an event the server did not
 *   end with a blank line) first gets the event still pending when the body really ended; without it that event is
 *   dropped, as WHATWG SSE says (and the Anthropic SDK does).
 *
 * Why hand-rolled: each Effect stream stage costs a pull effect per chunk and a setup per stream; seven of them
 * were a measurable share of a streamed request's time to first token through the gateway (`bench/stream.bench.ts`,
 * row `stream.sse-fold` beside `stream.sse-stages`).
 *
 * @internal
 */
import { Cause, Clock, Effect, Exit, Pull, Stream } from "effect"
import type * as Arr from "effect/Array"
import { Sse } from "effect/encoding"
import { graceAfter, pullLimits } from "../../internal/PullLimits.ts"
import type { ProviderError } from "../LlmError.ts"
import { ProviderConnectionError } from "../LlmError.ts"

/** What a provider folds its SSE events with (`OpenAiStreamState`, `AnthropicStreamState`). */
export interface SseFoldState<P> {
  /** true once the terminal event (`[DONE]`, `message_stop`) was folded */
  readonly finished: boolean
  readonly onEvent: (data: string, event: string) => Effect.Effect<ReadonlyArray<P>, ProviderError>
  readonly end: () => Effect.Effect<ReadonlyArray<P>, ProviderError>
  /** when the body ends (not at the grace's end), an event not ended by a blank line is folded too */
  readonly flushPendingAtEnd?: boolean
}

/** What ends a pending event when the body ended (`flushPendingAtEnd`). */
const FLUSH = "\n\n"

export interface SseFoldOptions {
  readonly provider: string
  /** the longest wait for the next event, in ms */
  readonly idleMillis: number
  readonly onIdle: () => ProviderError
  /** how long the body is read on after the terminal event, in ms */
  readonly graceMillis: number
}

const streamOptions = { stream: true }

/** The failure of a body the SSE parser rejects (an event too large). */
const badSseStream = (provider: string, error: Sse.SseError): ProviderConnectionError =>
  new ProviderConnectionError({ provider, description: `bad SSE stream: ${error.reason._tag}`, retryable: true })

/** `bytes` parsed as SSE and folded with `state`, as the module doc says. */
export const foldSse = <P, E>(
  bytes: Stream.Stream<Uint8Array, E>,
  state: SseFoldState<P>,
  options: SseFoldOptions
): Stream.Stream<P, E | ProviderError> =>
  Stream.transformPull(bytes, (pull) =>
    Effect.map(Clock.clockWith(Effect.succeed), (clock) => {
      const { idleMillis, graceMillis, onIdle } = options
      const decoder = new TextDecoder()
      const events: Array<Sse.Event> = []
      const parser = Sse.makeParser((event) => {
        if (event._tag === "Event") events.push(event)
      })
      let out: Array<P> = []
      let ended = false
      let eventDeadline = 0
      /** when the body stops being read: fixed at the first read after the terminal event */
      let graceDeadline: number | undefined
      const add = (parts: ReadonlyArray<P>) => {
        for (const part of parts) out.push(part)
      }
      /** Folds the parsed events in order (synchronously while `onEvent` answers with an `Exit`). */
      const foldEvents: Effect.Effect<void, ProviderError> = Effect.suspend(function loop(): Effect.Effect<
        void,
        ProviderError
      > {
        while (events.length > 0) {
          const event = events.shift() as Sse.Event // non-empty: checked by the loop
          const folded = state.onEvent(event.data, event.event)
          if (Exit.isExit(folded)) {
            // an `Exit` of `onEvent`'s own types
            const exit = folded as Exit.Exit<ReadonlyArray<P>, ProviderError>
            if (Exit.isFailure(exit)) return exit
            add(exit.value)
            eventDeadline = clock.currentTimeMillisUnsafe() + idleMillis
            continue
          }
          return Effect.flatMap(folded, (parts) => {
            add(parts)
            eventDeadline = clock.currentTimeMillisUnsafe() + idleMillis
            return loop()
          })
        }
        return Effect.void
      })
      const feed = (text: string): Effect.Effect<void, ProviderError> | undefined => {
        if (text.length === 0) return undefined
        const error = parser.feed(text)
        return error === undefined ? undefined : Effect.fail(badSseStream(options.provider, error))
      }
      const onBytes = (chunks: Arr.NonEmptyReadonlyArray<Uint8Array>): Effect.Effect<void, ProviderError> => {
        for (const chunk of chunks) {
          const failed = feed(decoder.decode(chunk, streamOptions))
          if (failed !== undefined) return failed
        }
        return foldEvents
      }
      /** The body ended (or its grace passed): the decoder's rest, then `end()`. */
      const onEnd = (graceOver: boolean): Effect.Effect<void, ProviderError> =>
        Effect.suspend(() => {
          ended = true
          const failed = graceOver
            ? undefined
            : feed(decoder.decode() + (state.flushPendingAtEnd === true ? FLUSH : ""))
          // `end()` is asked after the events still pending are folded (it reads the state they leave)
          const end = Effect.suspend(() => Effect.flatMap(state.end(), (parts) => Effect.sync(() => add(parts))))
          return failed ?? Effect.andThen(foldEvents, end)
        })
      /** One read of the body, bounded by the time left to the next event, or to the end of the grace. */
      const read: Effect.Effect<void, E | ProviderError> = Effect.suspend(() => {
        if (state.finished) {
          const now = clock.currentTimeMillisUnsafe()
          graceDeadline ??= now + graceMillis
          const grace = graceDeadline - now
          if (grace <= 0) return onEnd(true)
          return Effect.timeoutOrElse(pull, { duration: grace, orElse: () => Cause.done() }).pipe(
            Effect.flatMap(onBytes),
            Pull.catchDone(() => onEnd(true))
          )
        }
        const left = eventDeadline - clock.currentTimeMillisUnsafe()
        if (left <= 0) return Effect.fail(onIdle())
        const bounded = left < Number.POSITIVE_INFINITY
          ? Effect.timeoutOrElse(pull, { duration: left, orElse: () => Effect.fail(onIdle()) })
          : pull
        return bounded.pipe(Effect.flatMap(onBytes), Pull.catchDone(() => onEnd(false)))
      })
      const next: Pull.Pull<Arr.NonEmptyReadonlyArray<P>, E | ProviderError> = Effect.suspend(
        function step(): Pull.Pull<
          Arr.NonEmptyReadonlyArray<P>,
          E | ProviderError
        > {
          if (out.length > 0) {
            const parts = out as unknown as Arr.NonEmptyReadonlyArray<P> // length checked above
            out = []
            return Effect.succeed(parts)
          }
          if (ended) return Cause.done()
          return Effect.flatMap(read, step)
        }
      )
      return Effect.suspend(() => {
        eventDeadline = clock.currentTimeMillisUnsafe() + idleMillis
        return next
      })
    }))

/**
 * Effect's SSE parser (`Sse.makeParser`) over text chunks. Unlike `Sse.decode`, a `retry:` field does not fail
 * the stream (it only tells a browser's EventSource how long to wait before reconnecting, which a one-shot
 * provider call never does — the SDKs ignore it too); an event too large fails with a connection error.
 */
const sseEvents =
  (provider: string) => <E>(text: Stream.Stream<string, E>): Stream.Stream<Sse.Event, E | ProviderError> =>
    Stream.suspend(() => {
      const pending: Array<Sse.Event> = []
      const parser = Sse.makeParser((event) => {
        if (event._tag === "Event") pending.push(event)
      })
      return text.pipe(
        Stream.mapEffect((chunk) => {
          const error = parser.feed(chunk)
          if (error !== undefined) return Effect.fail(badSseStream(provider, error))
          return Effect.succeed(pending.splice(0))
        }),
        Stream.flattenIterable
      )
    })

/**
 * The stages `foldSse` replaces, composed as the providers had them: its reference in the property test and in
 * `bench/stream.bench.ts` (the differences, both after the terminal event: this applies `idleMillis` as well as the
 * grace, where `foldSse` applies the grace alone; and `graceAfter` gives each pull of an event a grace of its own,
 * where `foldSse` gives the body one grace in all — the parts and failures are the same).
 */
export const sseStages = <P, E>(
  bytes: Stream.Stream<Uint8Array, E>,
  state: SseFoldState<P>,
  options: SseFoldOptions
): Stream.Stream<P, E | ProviderError> =>
  bytes.pipe(
    Stream.decodeText(),
    (text) => state.flushPendingAtEnd === true ? Stream.concat(text, Stream.make(FLUSH)) : text,
    sseEvents(options.provider),
    (events) => pullLimits(events, { idleMillis: options.idleMillis, onIdle: options.onIdle }),
    (events) => graceAfter(events, () => state.finished, options.graceMillis),
    Stream.mapEffect((event) => state.onEvent(event.data, event.event)),
    Stream.concat(Stream.fromEffect(Effect.suspend(() => state.end()))),
    Stream.flattenIterable
  )
