/**
 * The pipeline over a real HTTP provider (the OpenAI-compatible client) against the loopback fake provider server:
 * a 429 with `Retry-After` is retried after the server's delay, and interrupting a call (streamed or not) closes
 * the HTTP connection (the server records the abort).
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Latch, Option, Redacted, Stream } from "effect"
import { TestClock } from "effect/testing"
import { afterAll, beforeAll, beforeEach } from "vitest"
import { OpenAiCompatibleProvider } from "../../src/llm/index.ts"
import type { LlmCallInput, LlmPipelineOptions } from "../../src/pipeline/index.ts"
import { Llm, StreamLimitExceeded } from "../../src/pipeline/index.ts"
import { FakeProviderServer } from "../llm/support/FakeProviderServer.ts"
import { httpPipelineLayer } from "./support.ts"

const ask = (content: string): LlmCallInput => ({ model: "fast", messages: [{ role: "user", content }] })

/** Waits in real time (not the TestClock) until `done` holds; fails after 3 s. */
const realWait = (done: () => boolean) =>
  Effect.promise(async () => {
    for (let i = 0; i < 300 && !done(); i++) {
      await new Promise((r) => {
        setTimeout(r, 10)
      })
    }
    if (!done()) throw new Error("condition not reached within 3 s")
  })

describe("Llm pipeline over HTTP (fake provider server)", () => {
  let server: FakeProviderServer
  beforeAll(async () => {
    server = await FakeProviderServer.start()
  })
  afterAll(() => server.close())
  beforeEach(() => server.reset())

  const layer = (pipeline?: LlmPipelineOptions) =>
    httpPipelineLayer(
      Effect.map(
        OpenAiCompatibleProvider.make({
          name: "primary",
          baseUrl: server.baseUrl,
          apiKey: Redacted.make("sk-test-0123456789"),
          timeout: 5000
        }),
        (p) => () => p
      ),
      pipeline === undefined ? {} : { pipeline }
    )

  it.live("a real 429 with Retry-After is retried after the server's delay", () =>
    Effect.gen(function*() {
      server.enqueue({ kind: "status", status: 429, headers: { "retry-after-ms": "150" } }, {
        kind: "answer",
        text: "finally"
      })
      const started = yield* Clock.currentTimeMillis
      const result = yield* (yield* Llm).generate(ask("429 please"))
      const elapsed = (yield* Clock.currentTimeMillis) - started
      assert.strictEqual(result.text, "finally")
      assert.strictEqual(result.meta.attempts, 2)
      assert.strictEqual(server.requests.length, 2)
      assert.isAtLeast(elapsed, 150)
    }).pipe(Effect.provide(layer())))

  it.live("interrupting a streamed call closes the HTTP connection", () =>
    Effect.gen(function*() {
      server.enqueue({ kind: "stall", text: "a long answer that never finishes", afterEvents: 2 })
      const llm = yield* Llm
      const firstPart = yield* Latch.make(false)
      const fiber = yield* Effect.forkChild(
        llm.stream(ask("stream and stall")).pipe(Stream.runForEach(() => firstPart.open)),
        { startImmediately: true }
      )
      yield* firstPart.await
      yield* Fiber.interrupt(fiber)
      yield* Effect.promise(() => server.waitForAborts(1, 3000))
      assert.lengthOf(server.aborted, 1)
      assert.strictEqual(server.aborted[0]?.path, "/v1/chat/completions")
    }).pipe(Effect.provide(layer())))

  it.live("interrupting a call waiting for its answer closes the HTTP connection", () =>
    Effect.gen(function*() {
      server.enqueue({ kind: "hang" })
      const fiber = yield* Effect.forkChild((yield* Llm).generate(ask("hang")), { startImmediately: true })
      while (server.requests.length === 0) yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(fiber)
      yield* Effect.promise(() => server.waitForAborts(1, 3000))
      assert.lengthOf(server.aborted, 1)
    }).pipe(Effect.provide(layer())))

  it.effect("keep-alives are not parts: a stream of only keep-alive comments ends with StreamLimitExceeded(idle) and the HTTP request is aborted", () =>
    Effect.gen(function*() {
      server.enqueue({ kind: "stall", text: "a long answer that never finishes", afterEvents: 2, keepAliveEvery: 5 })
      const llm = yield* Llm
      const firstPart = yield* Latch.make(false)
      const fiber = yield* Effect.forkChild(
        Effect.exit(llm.stream(ask("stream, then keep-alives")).pipe(Stream.runForEach(() => firstPart.open))),
        { startImmediately: true }
      )
      yield* firstPart.await // the last part: virtual time 0
      // keep-alive comments keep arriving (real time) while virtual time passes: none of them restarts the idle timer
      yield* realWait(() => server.keepAlivesSent >= 3)
      yield* TestClock.adjust("600 millis")
      const seen = server.keepAlivesSent
      yield* realWait(() => server.keepAlivesSent >= seen + 3)
      yield* TestClock.adjust("400 millis") // streamIdle after the last part (a keep-alive counted as one would need 600 ms more)
      const exit = yield* Fiber.join(fiber)
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit)) : undefined
      assert.instanceOf(error, StreamLimitExceeded)
      assert.strictEqual((error as StreamLimitExceeded).limit, "idle")
      // the stream limit aborts the provider's HTTP request
      yield* realWait(() => server.aborted.length >= 1)
      assert.strictEqual(server.aborted[0]?.path, "/v1/chat/completions")
    }).pipe(Effect.provide(layer({ retry: false, breaker: false, limits: { streamIdle: 1000 } }))))
})
