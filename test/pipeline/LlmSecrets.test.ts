/**
 * Issue 11, section 1, end to end: a proxy that echoes the request (key included) into a non-JSON stream chunk or a
 * non-JSON 200 body puts no piece of the key into the pipeline's error, `Cause.pretty`, or the
 * `troupe.llm.call.exception` event (the OTLP span's exception message is the same error message).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Redacted, Stream } from "effect"
import { afterAll, beforeAll, beforeEach } from "vitest"
import { OpenAiCompatibleProvider } from "../../src/llm/index.ts"
import type { LlmCallInput } from "../../src/pipeline/index.ts"
import { Llm } from "../../src/pipeline/index.ts"
import type { TelemetryEvent } from "../../src/telemetry/index.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"
import { FakeProviderServer } from "../llm/support/FakeProviderServer.ts"
import { httpPipelineLayer } from "./support.ts"

/** A key without a recognisable prefix: only the known-secret scrub catches it. */
const KEY = "Qm4Rt7Yu2Io9Pa3Sd6Fg1Hj8Kl"

const leaksPiece = (text: string, n = 6): boolean => {
  for (let i = 0; i + n <= KEY.length; i++) if (text.includes(KEY.slice(i, i + n))) return true
  return false
}

describe("Llm pipeline: no key in errors or telemetry when a proxy echoes the request", () => {
  let server: FakeProviderServer
  beforeAll(async () => {
    server = await FakeProviderServer.start()
  })
  afterAll(() => server.close())
  beforeEach(() => server.reset())

  const layer = () =>
    httpPipelineLayer(
      Effect.map(
        OpenAiCompatibleProvider.make({
          name: "primary",
          baseUrl: server.baseUrl,
          apiKey: Redacted.make(KEY),
          timeout: 5000
        }),
        (p) => () => p
      )
    )

  const echo = `POST /v1/chat/completions HTTP/1.1 authorization: Bearer ${KEY} {"messages":[...]}`

  for (
    const [label, body, stream] of [
      ["a non-JSON stream chunk", `data: ${echo}\n\n`, true],
      ["a non-JSON 200 body (key past the 120-character cut)", `${"x".repeat(100)} ${echo}`, false]
    ] as const
  ) {
    it.live(`${label}: error, Cause.pretty and troupe.llm.call.exception carry no piece of the key`, () =>
      Effect.gen(function*() {
        const hub = yield* TelemetryHub
        const events: Array<TelemetryEvent> = []
        yield* hub.attach("watch", [["troupe", "llm", "call", "exception"]], (e) => void events.push(e))
        server.enqueue({ kind: "raw", headers: { "content-type": stream ? "text/event-stream" : "text/html" }, body })
        const llm = yield* Llm
        const call: LlmCallInput = { model: "fast", messages: [{ role: "user", content: "hi" }] }
        const exit = yield* Effect.exit(stream ? Stream.runDrain(llm.stream(call)) : llm.generate(call))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isSuccess(exit)) return
        const printed = `${Cause.pretty(exit.cause)} ${JSON.stringify(Cause.squash(exit.cause))}`
        assert.isFalse(leaksPiece(printed), printed)
        assert.isAbove(events.length, 0)
        assert.isFalse(leaksPiece(JSON.stringify(events.map((e) => e.metadata))), JSON.stringify(events))
      }).pipe(Effect.provide(layer())))
  }
})
