/**
 * Test helpers for the LLM pipeline: a ConfigStore with test providers and aliases (no file, no environment), scripted
 * providers that count their calls and follow a per-test script, a telemetry event recorder, and a pipeline layer
 * with every step on (options per step).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, FileSystem, Layer, Redacted } from "effect"
import type { HttpClient } from "effect/http"
import { Cache } from "../../src/cache/index.ts"
import { ConfigStore } from "../../src/config/index.ts"
import type { LlmProviderShape, LlmRequest, ScriptReply } from "../../src/llm/index.ts"
import { AnthropicProvider, OpenAiCompatibleProvider, ScriptedProvider } from "../../src/llm/index.ts"
import type { LlmPipelineOptions } from "../../src/pipeline/index.ts"
import { LlmPipeline, ProviderRegistry } from "../../src/pipeline/index.ts"
import type { RateLimiterOptionsInput } from "../../src/ratelimit/index.ts"
import { RateLimiter } from "../../src/ratelimit/index.ts"
import type { TelemetryEvent } from "../../src/telemetry/index.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"

/** A store with providers `primary`, `backup` (any base URL: scripted providers never use it) and aliases. */
export const configLayer = (models: Record<string, unknown> = {}, providers: Record<string, unknown> = {}) =>
  ConfigStore.layer({
    env: () => ({}),
    defaults: {
      providers: {
        primary: { baseUrl: "http://127.0.0.1:9/v1" },
        backup: { baseUrl: "http://127.0.0.1:9/v1" },
        ...providers
      },
      models: { fast: "primary:model-a", cheap: { model: "backup:model-b", params: { temperature: 0.1 } }, ...models }
    }
  }).pipe(Layer.provide(FileSystem.layerNoop({})))

/** A scripted provider whose replies come from `script(callNumber, request)` (1-based); counts its calls. */
export class CountingProvider {
  calls = 0
  readonly provider: LlmProviderShape
  constructor(
    name: string,
    script: (call: number, request: LlmRequest) => ScriptReply = () => ({ text: `answer from ${name}` })
  ) {
    this.provider = ScriptedProvider.makeUnsafe({
      name,
      rules: [{ when: "always", reply: (request) => script(++this.calls, request) }]
    })
  }
}

/** Records every telemetry event under `prefixes`. */
export const recordEvents = (prefixes: ReadonlyArray<ReadonlyArray<string>> = [["troupe"]]) =>
  Effect.gen(function*() {
    const hub = yield* TelemetryHub
    const events: Array<TelemetryEvent> = []
    yield* hub.attach(`test-recorder-${Math.random()}`, prefixes, (event) => {
      events.push(event)
    })
    return {
      events,
      named: (name: string) => events.filter((e) => e.name.join(".") === name)
    }
  })

/**
 * Provides a pipeline layer's dependencies, all kept in the output: `providers` in a registry, a memory cache
 * (`cacheEntries`, default 100) and limiter (`limiter`), `extra` services (budgets, dead letters, …), the config
 * store of {@link configLayer} (`models`) and a TelemetryHub.
 */
export const withPipelineDeps = <RX = never, EX = never, RR = never>(
  providers: ReadonlyArray<LlmProviderShape>,
  options: {
    readonly extra?: Layer.Layer<RX, EX, RR>
    readonly cacheEntries?: number
    readonly limiter?: RateLimiterOptionsInput
    readonly models?: Record<string, unknown>
  } = {}
) =>
<A, E, R>(layer: Layer.Layer<A, E, R>) => {
  const extra: Layer.Layer<RX, EX, RR> | Layer.Layer<never> = options.extra ?? Layer.empty
  return layer.pipe(
    Layer.provideMerge(Layer.mergeAll(
      ProviderRegistry.layer(providers),
      Cache.layerMemory({ maxEntries: options.cacheEntries ?? 100 }),
      RateLimiter.layerMemory(options.limiter ?? {}),
      extra
    )),
    Layer.provideMerge(configLayer(options.models)),
    Layer.provideMerge(TelemetryHub.layer())
  )
}

/** The pipeline with every step on, over the given providers, a memory cache and limiter, a hub. */
export const pipelineLayer = (
  providers: ReadonlyArray<LlmProviderShape>,
  options: LlmPipelineOptions = {},
  limiter: RateLimiterOptionsInput = {},
  models: Record<string, unknown> = {}
) =>
  LlmPipeline.layer({ retry: { jitter: 0 }, ...options }).pipe(
    withPipelineDeps(providers, { cacheEntries: 1000, limiter, models })
  )

/**
 * The pipeline over HTTP providers on the undici client (for suites talking to the fake provider server): `registry`
 * builds the providers, with memory cache and limiter, the config store of {@link configLayer} (`models`,
 * `providers`) and a TelemetryHub (also provided to the test).
 */
export const httpPipelineLayer = <E>(
  registry: Effect.Effect<(name: string) => LlmProviderShape, E, HttpClient.HttpClient>,
  options: {
    readonly pipeline?: LlmPipelineOptions
    readonly models?: Record<string, unknown>
    readonly providers?: Record<string, unknown>
  } = {}
) =>
  LlmPipeline.layer(options.pipeline ?? { retry: { jitter: 0 } }).pipe(
    Layer.provide(Layer.mergeAll(
      Layer.effect(
        ProviderRegistry,
        Effect.map(registry, (get) => ProviderRegistry.of({ get: (name) => Effect.succeed(get(name)) }))
      ).pipe(
        Layer.provide(NodeHttpClient.layerUndici)
      ),
      Cache.layerMemory(),
      RateLimiter.layerMemory()
    )),
    Layer.provide(configLayer(options.models, options.providers)),
    Layer.provideMerge(TelemetryHub.layer())
  )

/** An `openai` (OpenAI-compatible) and an `anthropic` provider, both at `baseUrl`; any other name gets `openai`. */
export const openAiAndAnthropic = (baseUrl: string) =>
  Effect.gen(function*() {
    const apiKey = Redacted.make("sk-test-0123456789")
    const openai = yield* OpenAiCompatibleProvider.make({ name: "openai", baseUrl, apiKey, timeout: 5000 })
    const anthropic = yield* AnthropicProvider.make({ name: "anthropic", baseUrl, apiKey, timeout: 5000 })
    return (name: string) => name === "anthropic" ? anthropic : openai
  })
