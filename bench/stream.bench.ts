/**
 * Stream time-limit benchmarks (`src/internal/PullLimits.ts`): one run of a four-chunk stream whose pulls are
 * asynchronous (each chunk after a `setImmediate`, as an HTTP body's chunks arrive), interleaved:
 *
 * - `floor.stream-4-async-chunks`: the stream alone.
 * - `stream.timeout-interrupt-when`: with `Stream.timeoutOrElse` (idle) and `Stream.interruptWhen` over a sleep
 *   (deadline), as the pipeline and the provider transport had them.
 * - `stream.pull-limits`: with `pullLimits` (both limits, one race per pull); baseline the row above.
 * - `stream.interrupt-when-deferred`: with `Stream.interruptWhen(Deferred.await(d))` (a signal that stays open), as
 *   the gateway's SSE responses had it for the drain.
 * - `stream.end-when`: with `endWhen(stream, Deferred.await(d))`; baseline the row above.
 * - `stream.sse-stages`: an OpenAI SSE body (four chunk events and `[DONE]`, in four asynchronous byte chunks)
 *   folded into parts by the seven stages the providers had (`sseStages`: decodeText, SSE parse, pullLimits,
 *   graceAfter, mapEffect(onEvent), concat(end), flattenIterable), with the real `OpenAiStreamState`.
 * - `stream.sse-fold`: the same body through `foldSse` (`src/llm/internal/SseFold.ts`, one stage); baseline the row
 *   above.
 * - `stream.sse-body-stages`: a gateway SSE response body (prelude, four elements after the first pull, one frame
 *   each, `[DONE]`) by the stages `SseResponse` had (`sseBodyStages`: concat, flatMap per element, catchCause,
 *   endWhen, concats, a map per frame), the drain signal open.
 * - `stream.sse-body`: the same body through `sseBody` (`src/gateway/internal/SseBody.ts`, one stage); baseline the
 *   row above.
 */
import { Deferred, Effect, Stream } from "effect"
import { sseBody, sseBodyStages } from "../src/gateway/internal/SseBody.ts"
import { endWhen, pullLimits } from "../src/internal/PullLimits.ts"
import { OpenAiStreamState } from "../src/llm/internal/OpenAiWire.ts"
import { foldSse, sseStages } from "../src/llm/internal/SseFold.ts"
import { ProviderTimeout } from "../src/llm/LlmError.ts"
import type { LlmRequest } from "../src/llm/LlmRequest.ts"
import { chunk } from "./gateway.bench.ts"
import type { BenchRow } from "./harness.ts"
import { timeInterleaved } from "./harness.ts"

const RUNS = 200
const nextTurn = <A>(x: A) =>
  Effect.promise(() =>
    new Promise<A>((resolve) => {
      setImmediate(() => resolve(x))
    })
  )
const chunks = () => Stream.fromIterable([1, 2, 3, 4]).pipe(Stream.mapEffect(nextTurn))
const sseChunk = (content: string, finish: string | null = null) => chunk({ content }, finish)
const sseBodyBytes = [
  sseChunk("Once"),
  sseChunk(" upon") + sseChunk(" a time."),
  sseChunk("", "stop"),
  "data: [DONE]\n\n"
].map((text) => new TextEncoder().encode(text))
const sseBytes = () => Stream.fromIterable(sseBodyBytes).pipe(Stream.mapEffect(nextTurn))
const request: LlmRequest = { model: "gpt-4o-mini", messages: [{ role: "user", content: "Tell me a story" }] }
const foldOptions = {
  provider: "openai",
  idleMillis: 60_000,
  graceMillis: 250,
  onIdle: () => new ProviderTimeout({ provider: "openai", description: "idle", timeoutMillis: 60_000, retryable: true })
}
const folds = (fold: typeof foldSse) =>
  Effect.gen(function*() {
    for (let i = 0; i < RUNS; i++) {
      yield* Stream.runDrain(fold(sseBytes(), new OpenAiStreamState("openai", request, []), foldOptions))
    }
  })

const bodyOptions = {
  encode: (n: number) => [{ data: `{"choices":[{"index":0,"delta":{"content":"part ${n}"}}]}` }],
  prelude: [{ data: `{"choices":[{"index":0,"delta":{"role":"assistant"}}]}` }],
  onError: () => ({ data: "error" }),
  onDrained: () => ({ data: "drained" }),
  epilogue: [{ data: "[DONE]" }]
}
const bodies = (body: typeof sseBody<number, never>, drain: Effect.Effect<void>) =>
  Effect.gen(function*() {
    for (let i = 0; i < RUNS; i++) {
      yield* Effect.scoped(Effect.gen(function*() {
        const pull = yield* Stream.toPull(chunks())
        yield* Stream.runDrain(body([0], pull, drain, bodyOptions))
      }))
    }
  })

const times = (make: () => Stream.Stream<number, string>) =>
  Effect.gen(function*() {
    for (let i = 0; i < RUNS; i++) yield* Stream.runDrain(make())
  })

export default (): Promise<ReadonlyArray<BenchRow>> =>
  timeInterleaved(
    Effect.map(Deferred.make<void>(), (open) => [
      {
        id: "floor.stream-4-async-chunks",
        batch: times(chunks),
        ops: RUNS,
        note: "four chunks, each after a setImmediate"
      },
      {
        id: "stream.timeout-interrupt-when",
        batch: times(() =>
          chunks().pipe(
            Stream.timeoutOrElse({ duration: 60_000, orElse: () => Stream.fail("idle") }),
            Stream.interruptWhen(Effect.andThen(Effect.sleep(600_000), Effect.fail("deadline")))
          )
        ),
        ops: RUNS,
        baseline: "floor.stream-4-async-chunks",
        note: "Stream.timeoutOrElse (idle) + Stream.interruptWhen(sleep) (deadline), per stream"
      },
      {
        id: "stream.pull-limits",
        batch: times(() =>
          pullLimits(chunks(), {
            idleMillis: 60_000,
            onIdle: () => "idle",
            deadlineMillis: 600_000,
            onDeadline: () => "deadline"
          })
        ),
        ops: RUNS,
        baseline: "stream.timeout-interrupt-when",
        note: "pullLimits: both limits, one race per pull (src/internal/PullLimits.ts), per stream"
      },
      {
        id: "stream.interrupt-when-deferred",
        batch: times(() => chunks().pipe(Stream.interruptWhen(Deferred.await(open)))),
        ops: RUNS,
        baseline: "floor.stream-4-async-chunks",
        note: "Stream.interruptWhen(Deferred.await(d)), d never completed, per stream"
      },
      {
        id: "stream.end-when",
        batch: times(() => endWhen(chunks(), Deferred.await(open))),
        ops: RUNS,
        baseline: "stream.interrupt-when-deferred",
        note: "endWhen (src/internal/PullLimits.ts): one race per pull, per stream"
      },
      {
        id: "stream.sse-stages",
        batch: folds(sseStages),
        ops: RUNS,
        note:
          "an OpenAI SSE body (4 async byte chunks) folded into parts by the providers' former seven stages, per stream"
      },
      {
        id: "stream.sse-fold",
        batch: folds(foldSse),
        ops: RUNS,
        baseline: "stream.sse-stages",
        note: "the same body through foldSse (src/llm/internal/SseFold.ts, one stage), per stream"
      },
      {
        id: "stream.sse-body-stages",
        batch: bodies(sseBodyStages, Deferred.await(open)),
        ops: RUNS,
        note: "a gateway SSE body (prelude, 4 async elements, [DONE]) by SseResponse's former stages, per stream"
      },
      {
        id: "stream.sse-body",
        batch: bodies(sseBody, Deferred.await(open)),
        ops: RUNS,
        baseline: "stream.sse-body-stages",
        note: "the same body through sseBody (src/gateway/internal/SseBody.ts, one stage), per stream"
      }
    ]),
    { samples: 20, warmup: 3 }
  )
