import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert, describe, it } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Exit, Layer, Schema } from "effect"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { InvalidTelemetryInput, OtelExport, TelemetryHub } from "../../src/telemetry/index.ts"
import { freshRegistry, hubLayer } from "./support/hubLayer.ts"

class ProviderDown extends Schema.TaggedError<ProviderDown>()("ProviderDown", {}) {}

const llmResponse = { id: "resp-1", model: "gpt-4o-2024-08-06", usage: { in: 11, out: 22 }, finish: "stop" }

const tracked = Effect.gen(function*() {
  const hub = yield* TelemetryHub
  yield* Effect.gen(function*() {
    yield* hub.trackLlmCall(
      Effect.succeed(llmResponse),
      { provider: "openai", model: "gpt-4o", temperature: 0.3, maxTokens: 256, topP: 0.9 },
      {
        usage: (r) => ({
          inputTokens: r.usage.in,
          outputTokens: r.usage.out,
          responseModel: r.model,
          responseId: r.id,
          finishReasons: [r.finish]
        })
      }
    )
    yield* Effect.void.pipe(hub.trackToolExecution({ tool: "web_search", agent: "researcher" }))
  }).pipe(hub.trackAgentAction({ agent: "researcher", action: "answer" }))
  yield* Effect.exit(new ProviderDown().pipe(hub.trackLlmCall({ provider: "anthropic", model: "claude-sonnet-4" })))
})

describe("OpenTelemetry export", () => {
  it.effect("LLM spans carry the GenAI semantic-convention attributes (in-memory exporter)", () => {
    const exporter = new InMemorySpanExporter()
    const Tracing = NodeSdk.layer(() => ({
      resource: { serviceName: "troupe-test" },
      spanProcessor: new SimpleSpanProcessor(exporter)
    }))
    return Effect.gen(function*() {
      yield* tracked
      // read while the SDK layer is alive: shutting it down clears the exporter
      const spans = exporter.getFinishedSpans()
      const byName = new Map(spans.map((s) => [s.name, s]))
      assert.deepStrictEqual(spans.map((s) => s.name), [
        "chat gpt-4o",
        "execute_tool web_search",
        "invoke_agent researcher",
        "chat claude-sonnet-4"
      ])
      const llm = byName.get("chat gpt-4o")
      assert.deepInclude(llm?.attributes, {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.request.temperature": 0.3,
        "gen_ai.request.max_tokens": 256,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": "resp-1",
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 22
      })
      assert.deepStrictEqual(llm?.attributes["gen_ai.response.finish_reasons"], ["stop"])
      assert.strictEqual(llm?.kind, 2) // SpanKind.CLIENT
      const agent = byName.get("invoke_agent researcher")
      assert.strictEqual(llm?.parentSpanContext?.spanId, agent?.spanContext().spanId)
      assert.deepInclude(byName.get("execute_tool web_search")?.attributes, {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "web_search"
      })
      const failed = byName.get("chat claude-sonnet-4")
      assert.deepInclude(failed?.attributes, { "gen_ai.provider.name": "anthropic", "error.type": "ProviderDown" })
      assert.strictEqual(failed?.status.code, 2) // SpanStatusCode.ERROR
    }).pipe(Effect.provide(Layer.mergeAll(hubLayer(), Tracing)))
  })

  it.effect("invalid exporter options fail the layer with paths", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.provide(Effect.void, OtelExport.layer({ serviceName: "", endpoint: "ftp://x", exportIntervalMillis: 1 }))
      )
      const failure = Exit.isFailure(exit) && exit.cause.reasons[0]?._tag === "Fail"
        ? exit.cause.reasons[0].error
        : undefined
      assert.instanceOf(failure, InvalidTelemetryInput)
      assert.deepStrictEqual((failure as InvalidTelemetryInput).detail.split("; ").map((i) => i.split(":")[0]), [
        "serviceName",
        "endpoint",
        "exportIntervalMillis"
      ])
    }))

  interface Received {
    readonly url: string
    readonly contentType: string
    readonly body: string
  }

  /** A tiny OTLP/HTTP receiver on loopback, port 0: records every POST. */
  const receiver = Effect.acquireRelease(
    Effect.callback<{ readonly port: number; readonly received: Array<Received>; readonly close: () => Promise<void> }>(
      (resume) => {
        const received: Array<Received> = []
        const server = createServer((req: IncomingMessage, res) => {
          const chunks: Array<Buffer> = []
          req.on("data", (c: Buffer) => chunks.push(c))
          req.on("end", () => {
            received.push({
              url: req.url ?? "",
              contentType: req.headers["content-type"] ?? "",
              body: Buffer.concat(chunks).toString("utf8")
            })
            res.writeHead(200, { "content-type": "application/json" }).end("{}")
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as AddressInfo
          resume(Effect.succeed({
            port,
            received,
            close: () =>
              new Promise<void>((r) => {
                server.close(() => r())
              })
          }))
        })
      }
    ),
    (r) => Effect.promise(r.close)
  )

  it.live("exports spans and metrics to a local OTLP/HTTP receiver", () =>
    Effect.gen(function*() {
      const server = yield* receiver
      const Export = OtelExport.layer({
        serviceName: "troupe-otlp-test",
        endpoint: `http://127.0.0.1:${server.port}`,
        batchSpans: false
      })
      // the exporter layer flushes and shuts down when this scope closes
      yield* tracked.pipe(
        Effect.provide(Layer.mergeAll(TelemetryHub.layer(), Export).pipe(Layer.provide(freshRegistry())))
      )
      const traces = server.received.filter((r) => r.url === "/v1/traces")
      assert.isNotEmpty(traces)
      assert.match(traces[0]?.contentType ?? "", /application\/(json|x-protobuf)/)
      const allTraces = traces.map((t) => t.body).join("\n")
      assert.include(allTraces, "chat gpt-4o")
      assert.include(allTraces, "gen_ai.usage.input_tokens")
      assert.include(allTraces, "troupe-otlp-test")
      const metrics = server.received.filter((r) => r.url === "/v1/metrics").map((m) => m.body).join("\n")
      assert.include(metrics, "troupe_llm_calls_total")
    }))
})
