import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ErrorAnalytics, ErrorHandlers } from "../../src/errors/index.ts"
import { AuthenticationFailed } from "../../src/llm/index.ts"
import type { LlmCallInput } from "../../src/pipeline/index.ts"
import { Llm } from "../../src/pipeline/index.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"
import { CountingProvider, pipelineLayer } from "../pipeline/support.ts"

const ask: LlmCallInput = { model: "fast", messages: [{ role: "user", content: "hi" }] } as LlmCallInput

describe("the pipeline calls ErrorHandlers", () => {
  it.effect("each target's failure goes to the handlers of its class, with provider and model; the call fails the same", () => {
    const primary = new CountingProvider("primary", () => ({
      error: new AuthenticationFailed({
        provider: "primary",
        description: "bad key",
        status: 401,
        retryable: false,
        kind: "InvalidKey"
      })
    }))
    // the handlers and analytics are in the context the pipeline is built in
    const errors = ErrorHandlers.layer().pipe(
      Layer.provideMerge(ErrorAnalytics.layerMemory()),
      Layer.provideMerge(TelemetryHub.layer())
    )
    return Effect.gen(function*() {
      const seen: Array<string> = []
      yield* (yield* ErrorHandlers).register(
        "auth",
        { tag: "AuthenticationFailed" },
        (_e, c, ctx) => Effect.sync(() => seen.push(`${c.recovery}:${ctx.provider}:${ctx.model}`))
      )
      const error = yield* Effect.flip((yield* Llm).generate(ask))
      assert.strictEqual(error._tag, "AuthenticationFailed")
      assert.deepStrictEqual(seen, ["fallback:primary:model-a"])
      assert.deepStrictEqual((yield* (yield* ErrorAnalytics).aggregates).byProvider, { primary: 1 })
    }).pipe(Effect.provide(pipelineLayer([primary.provider]).pipe(Layer.provideMerge(errors))))
  })
})
