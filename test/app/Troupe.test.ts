import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Troupe } from "../../src/app/index.ts"
import { Llm } from "../../src/pipeline/index.ts"
import { Supervisor } from "../../src/runtime/index.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"

const question = { model: "fast", messages: [{ role: "user", content: "What is troupe?" }] } as const

describe("Troupe.layerTest", () => {
  it.effect("composes every service under one root supervisor; an LLM call works and a repeat is a cache hit", () =>
    Effect.gen(function*() {
      const root = yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(Troupe.layerTest())
        return yield* Effect.gen(function*() {
          const root = yield* Supervisor.RootSupervisor
          const subtrees = (yield* Supervisor.whichChildren(root)).map((c) => c.id)
          for (const expected of ["telemetry", "ratelimit", "cache:responses", "agents"]) {
            assert.isTrue(subtrees.some((id) => id.startsWith(expected)), `${expected} in ${subtrees.join(", ")}`)
          }
          const llm = yield* Llm
          const first = yield* llm.generate(question)
          const second = yield* llm.generate(question)
          assert.strictEqual(first.text, second.text)
          assert.isFalse(first.meta.cached)
          assert.isTrue(second.meta.cached)
          const report = yield* (yield* TelemetryHub).report()
          assert.include(report, "llm")
          return root
        }).pipe(Effect.provide(context))
      }))
      assert.deepStrictEqual(root.exitReason?._tag, "Shutdown")
    }))
})
