import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import type { LlmRequest } from "../../src/llm/index.ts"
import type { LlmCallInput } from "../../src/pipeline/index.ts"
import { GuardStep, Llm } from "../../src/pipeline/index.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"
import { CountingProvider, pipelineLayer } from "./support.ts"

const ask = (content: string): LlmCallInput =>
  ({ model: "fast", messages: [{ role: "user", content }], options: {} }) as LlmCallInput
const withGuard = (provider: CountingProvider, policies: Record<string, unknown> = {}) =>
  Layer.provideMerge(
    pipelineLayer([provider.provider]),
    GuardStep.layer({ policies }).pipe(Layer.provideMerge(TelemetryHub.layer()))
  )
const generated = (content: string) =>
  Effect.gen(function*() {
    return (yield* (yield* Llm).generate(ask(content))).text
  })
const streamed = (content: string) =>
  Effect.gen(function*() {
    const parts = yield* Stream.runCollect((yield* Llm).stream(ask(content)))
    return parts.flatMap((p) => (p._tag === "TextDelta" ? [p.delta] : [])).join("")
  })

describe("GuardStep: only PII placeholders put in by the input stage are restored", () => {
  // PII anonymised with placeholders at the input and the output stage
  const policies = { default: { pii: { stages: ["input", "output"] } } }
  const USER = "jane.doe@example.org"
  const OTHER = "ceo.private@corp-internal.example"
  const answer = () =>
    new CountingProvider("primary", () => ({ text: `Write to <EMAIL_1>, or contact ${OTHER} directly.` }))

  it.effect("generate: an e-mail the model writes stays masked; the caller's own placeholder is restored", () =>
    generated(`Please email ${USER} about the merger`).pipe(
      Effect.map((text) => {
        assert.notInclude(text, OTHER)
        assert.include(text, `Write to ${USER}`)
        assert.match(text, /contact <EMAIL_\d+> directly/)
      }),
      Effect.provide(withGuard(answer(), policies))
    ))

  it.effect("stream: an e-mail the model writes stays masked; the caller's own placeholder is restored", () =>
    streamed(`Please email ${USER} about the merger`).pipe(
      Effect.map((text) => {
        assert.notInclude(text, OTHER)
        assert.include(text, `Write to ${USER}`)
        assert.match(text, /contact <EMAIL_\d+> directly/)
      }),
      Effect.provide(withGuard(answer(), policies))
    ))
})

describe("GuardStep streams: a placeholder split by the window's cut is restored", () => {
  const EMAIL = "jane.doe@example.org"
  // the model echoes the placeholder it was sent, at every offset around the window's cut
  const echo = (pad: number) =>
    new CountingProvider("primary", (_n, request: LlmRequest) => {
      const sent = JSON.stringify(request.messages)
      if (sent.includes(EMAIL) || !sent.includes("<EMAIL_1>")) throw new Error("the provider saw the address")
      return { text: "x".repeat(pad) + " I will write to <EMAIL_1> today. " + "y".repeat(300) }
    })

  it.effect("every offset of the placeholder around the cut: the streamed answer holds the address", () =>
    Effect.forEach(
      Array.from({ length: 24 }, (_, i) => 290 + i),
      (pad) =>
        streamed(`Please email ${EMAIL} about the order`).pipe(
          Effect.map((text) => {
            assert.include(text, `write to ${EMAIL} today`, `pad ${pad}`)
            assert.notInclude(text, "<EMAIL", `pad ${pad}`)
          }),
          Effect.provide(withGuard(echo(pad)))
        ),
      { discard: true }
    ))
})
