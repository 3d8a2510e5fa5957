/**
 * `HedgeStep` over a real HTTP provider (the OpenAI-compatible client) against the loopback fake provider server:
 * when the hedge wins, the primary's HTTP request is aborted (the server records the closed, unfinished response)
 * and the loser's estimated cost is recorded on the `Costs` ledger, tagged as a hedge. Real time: the hedge delay
 * is 50 ms and the test waits on the server's events, not on sleeps.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { afterAll, beforeAll, beforeEach } from "vitest"
import { Cache } from "../../src/cache/index.ts"
import { Costs } from "../../src/costs/index.ts"
import { OpenAiCompatibleProvider } from "../../src/llm/index.ts"
import type { LlmCallInput } from "../../src/pipeline/index.ts"
import { HedgeStep, Llm, LlmPipeline, ProviderRegistry } from "../../src/pipeline/index.ts"
import { RateLimiter } from "../../src/ratelimit/index.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"
import { FakeProviderServer } from "../llm/support/FakeProviderServer.ts"
import { configLayer } from "./support.ts"

describe("HedgeStep over HTTP (fake provider server)", () => {
  let server: FakeProviderServer
  beforeAll(async () => {
    server = await FakeProviderServer.start()
  })
  afterAll(() => server.close())
  beforeEach(() => server.reset())

  const layer = () => {
    const registry = Layer.effect(
      ProviderRegistry,
      Effect.gen(function*() {
        const apiKey = Redacted.make("sk-test-0123456789")
        const primary = yield* OpenAiCompatibleProvider.make({
          name: "primary",
          baseUrl: server.baseUrl,
          apiKey,
          timeout: 5000
        })
        const backup = yield* OpenAiCompatibleProvider.make({
          name: "backup",
          baseUrl: server.baseUrl,
          apiKey,
          timeout: 5000
        })
        return ProviderRegistry.of({ get: (name) => Effect.succeed(name === "backup" ? backup : primary) })
      })
    ).pipe(Layer.provide(NodeHttpClient.layerUndici))
    return Llm.layer.pipe(
      Layer.provide(HedgeStep.layer({ delay: "50 millis", budget: { reserve: 1 } })),
      Layer.provide(LlmPipeline.layerSteps({
        cache: false,
        retry: { retries: 0 },
        fallback: { chains: { fast: ["cheap"] } },
        usage: { prices: { "primary:model-a": { input: 10, output: 20 }, "backup:model-b": { input: 1, output: 2 } } }
      })),
      Layer.provideMerge(Layer.mergeAll(registry, Cache.layerMemory(), RateLimiter.layerMemory(), Costs.layerMemory())),
      Layer.provide(configLayer()),
      Layer.provide(TelemetryHub.layer())
    )
  }

  const critical: LlmCallInput = {
    model: "fast",
    messages: [{ role: "user", content: "a critical question" }],
    options: { hedge: true }
  }

  it.live("the hedge winning aborts the primary's HTTP request, and the loser's cost is recorded as a hedge", () =>
    Effect.gen(function*() {
      server.enqueue({ kind: "hang" }, { kind: "answer", text: "from the hedge" })
      const result = yield* (yield* Llm).generate(critical)
      assert.strictEqual(result.text, "from the hedge")
      assert.strictEqual(result.meta.hedge, "won")
      assert.strictEqual(result.meta.model, "model-b")
      yield* Effect.promise(() => server.waitForAborts(1, 3000))
      assert.lengthOf(server.aborted, 1)
      assert.deepStrictEqual(server.requests.map((r) => (r.body as { readonly model?: unknown }).model), [
        "model-a",
        "model-b"
      ])
      const hedged = yield* (yield* Costs).stats({ period: "day", where: { hedge: "true" } })
      assert.strictEqual(hedged.count, 1)
      assert.isAbove(hedged.total, 0)
    }).pipe(Effect.provide(layer())))
})
