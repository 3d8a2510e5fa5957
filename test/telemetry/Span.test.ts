import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schema, Tracer } from "effect"
import { TestClock } from "effect/testing"
import { Events, type TelemetryEvent, TelemetryHub } from "../../src/telemetry/index.ts"
import { hubLayer } from "./support/hubLayer.ts"

class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", { retryAfter: Schema.Number }) {}

const record = (hub: TelemetryHub["Service"], prefix: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const seen: Array<TelemetryEvent> = []
    yield* hub.attach(`rec:${prefix.join(".")}`, [prefix], (e) => void seen.push(e))
    return seen
  })

const names = (events: ReadonlyArray<TelemetryEvent>) => events.map((e) => e.name.join("."))

describe("span", () => {
  it.effect("emits start then stop with duration and system_time from the TestClock", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const seen = yield* record(hub, ["app", "job"])
      yield* TestClock.setTime(1_700_000_000_000)
      const fiber = yield* Effect.sleep("250 millis").pipe(
        Effect.as(42),
        hub.span(["app", "job"], { queue: "q" }),
        Effect.forkChild({ startImmediately: true })
      )
      assert.deepStrictEqual(names(seen), ["app.job.start"])
      yield* TestClock.adjust("250 millis")
      assert.strictEqual(yield* Fiber.join(fiber), 42)
      assert.deepStrictEqual(names(seen), ["app.job.start", "app.job.stop"])
      const [start, stop] = seen
      assert.strictEqual(start?.measurements.system_time, 1_700_000_000_000)
      assert.strictEqual(stop?.measurements.duration, 250_000_000) // nanoseconds
      assert.isAbove(stop?.measurements.monotonic_time ?? 0, start?.measurements.monotonic_time ?? 0)
      assert.deepStrictEqual(stop?.metadata, { queue: "q" })
    }).pipe(Effect.provide(hubLayer())))

  it.effect("emits exception with kind, reason and error_type for failures, defects and interruptions", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const seen = yield* record(hub, ["op"])
      const failed = yield* Effect.exit(
        Effect.sleep("10 millis").pipe(
          Effect.andThen(new RateLimited({ retryAfter: 5 })),
          hub.span(["op"]),
          Effect.forkChild,
          Effect.tap(() => TestClock.adjust("10 millis")),
          Effect.flatMap(Fiber.join)
        )
      )
      assert.isTrue(Exit.isFailure(failed))
      yield* Effect.exit(Effect.die(new TypeError("bad state")).pipe(hub.span(["op"])))
      const interrupted = yield* Effect.never.pipe(hub.span(["op"]), Effect.forkChild({ startImmediately: true }))
      yield* Fiber.interrupt(interrupted)
      const exceptions = seen.filter((e) => e.name[1] === "exception")
      assert.deepStrictEqual(exceptions.map((e) => [e.metadata.kind, e.metadata.error_type]), [
        ["failure", "RateLimited"],
        ["defect", "Defect:TypeError"],
        ["interrupt", "Interrupted"]
      ])
      assert.strictEqual(exceptions[0]?.measurements.duration, 10_000_000)
      assert.include(String(exceptions[1]?.metadata.reason), "bad state")
    }).pipe(Effect.provide(hubLayer())))

  it.effect("a typed failure with no string form reaches the caller as that failure, reported as an exception", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const seen = yield* record(hub, ["op"])
      // `Object.create(null)` has no `toString`: `String(value)` throws on it
      const error: unknown = Object.create(null)
      const exit = yield* Effect.exit(Effect.fail(error).pipe(hub.span(["op"])))
      const reason = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      assert.strictEqual(reason?._tag === "Fail" ? reason.error : reason, error)
      const exception = seen.find((e) => e.name[1] === "exception")
      assert.deepStrictEqual([exception?.metadata.kind, exception?.metadata.reason], ["failure", "[object Object]"])
    }).pipe(Effect.provide(hubLayer())))

  it.effect("the span result and failure are passed through unchanged", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      assert.strictEqual(yield* Effect.succeed("x").pipe(hub.span(["p"])), "x")
      const error = yield* Effect.flip(Effect.fail(new RateLimited({ retryAfter: 1 })).pipe(hub.span(["p"])))
      assert.strictEqual(error.retryAfter, 1)
    }).pipe(Effect.provide(hubLayer())))
})

describe("track helpers", () => {
  it.effect("trackLlmCall emits llm.call start/stop with tokens and a token-usage event", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const seen = yield* record(hub, ["troupe", "llm"])
      const response = { text: "hi", usage: { input: 12, output: 30 }, model: "gpt-4o-2024-08-06" }
      // data-first form: the usage reader's parameter type is inferred from the effect
      const call = hub.trackLlmCall(
        Effect.sleep("2 seconds").pipe(Effect.as(response)),
        { provider: "openai", model: "gpt-4o", temperature: 0.2 },
        {
          usage: (r) => ({
            inputTokens: r.usage.input,
            outputTokens: r.usage.output,
            responseModel: r.model,
            cost: 0.0004
          })
        }
      )
      const result = yield* call.pipe(
        Effect.forkChild({ startImmediately: true }),
        Effect.tap(() => TestClock.adjust("2 seconds")),
        Effect.flatMap(Fiber.join)
      )
      assert.strictEqual(result.text, "hi")
      assert.deepStrictEqual(names(seen), ["troupe.llm.call.start", "troupe.llm.call.stop", "troupe.llm.token.usage"])
      const stop = seen[1]
      assert.deepStrictEqual(
        { ...stop?.measurements, monotonic_time: 0 },
        { duration: 2e9, monotonic_time: 0, input_tokens: 12, output_tokens: 30, total_tokens: 42, cost: 0.0004 }
      )
      assert.strictEqual(stop?.metadata.provider, "openai")
      assert.strictEqual(stop?.metadata.model, "gpt-4o")
      assert.strictEqual(stop?.metadata.response_model, "gpt-4o-2024-08-06")
      assert.deepStrictEqual(seen[2]?.measurements, {
        input_tokens: 12,
        output_tokens: 30,
        total_tokens: 42,
        cost: 0.0004
      })
      assert.deepStrictEqual(seen[2]?.name, Events.llmTokenUsage)
    }).pipe(Effect.provide(hubLayer())))

  it.effect("trackLlmCall data-last in a pipe, with an annotated usage reader", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const seen = yield* record(hub, Events.llmTokenUsage)
      interface Reply {
        readonly tokens: number
      }
      const reply = yield* Effect.succeed<Reply>({ tokens: 9 }).pipe(
        hub.trackLlmCall({ provider: "groq", model: "llama-3.3-70b" }, {
          usage: (r: Reply) => ({ outputTokens: r.tokens })
        })
      )
      assert.strictEqual(reply.tokens, 9)
      assert.deepStrictEqual(seen[0]?.measurements, { input_tokens: 0, output_tokens: 9, total_tokens: 9 })
      assert.deepStrictEqual(seen[0]?.metadata, { provider: "groq", model: "llama-3.3-70b" })
    }).pipe(Effect.provide(hubLayer())))

  it.effect("tool, agent and algorithm helpers use their catalogue prefixes and metadata", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const seen = yield* record(hub, ["troupe"])
      yield* Effect.void.pipe(hub.trackToolExecution({ tool: "search", agent: "planner" }))
      yield* Effect.void.pipe(hub.trackAgentAction({ agent: "planner", action: "plan" }))
      yield* Effect.void.pipe(hub.trackAlgorithmExecution({ algorithm: "mcts", metadata: { depth: 3 } }))
      assert.deepStrictEqual(names(seen), [
        "troupe.tool.execution.start",
        "troupe.tool.execution.stop",
        "troupe.agent.action.start",
        "troupe.agent.action.stop",
        "troupe.algorithm.execution.start",
        "troupe.algorithm.execution.stop"
      ])
      assert.deepStrictEqual([seen[1]?.metadata.tool, seen[1]?.metadata.agent], ["search", "planner"])
      assert.deepStrictEqual([seen[3]?.metadata.agent, seen[3]?.metadata.action], ["planner", "plan"])
      assert.deepStrictEqual([seen[5]?.metadata.algorithm, seen[5]?.metadata.depth], ["mcts", 3])
    }).pipe(Effect.provide(hubLayer())))

  it.effect("a tracing span is recorded (with its attributes) when a tracer is installed, and skipped without one", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const seen = yield* record(hub, ["troupe", "llm", "call"])
      const track = hub.trackLlmCall<{ readonly tokens: number }>({
        provider: "openai",
        model: "gpt-4o",
        temperature: 0
      }, {
        usage: (r) => ({
          inputTokens: r.tokens,
          outputTokens: 1,
          responseModel: "gpt-4o-2024",
          finishReasons: ["stop"]
        })
      })
      const inner = Effect.map(Effect.option(Effect.currentSpan), (span) => ({ tokens: 2, span }))
      // no backend (effect's in-memory native tracer): events and metrics only, no span around the call
      const bare = yield* track(inner)
      assert.isTrue(bare.span._tag === "None")
      assert.deepStrictEqual(names(seen), ["troupe.llm.call.start", "troupe.llm.call.stop"])
      // a tracer installed: the same events, and a GenAI client span with request and response attributes
      const spans: Array<Tracer.Span> = []
      const tracer = Tracer.make({
        span: (options) => {
          const span = new Tracer.NativeSpan(options)
          spans.push(span)
          return span
        }
      })
      const traced = yield* track(inner).pipe(Effect.withTracer(tracer))
      assert.isTrue(traced.span._tag === "Some")
      assert.strictEqual(spans.length, 1)
      const span = spans[0]
      assert.strictEqual(span?.name, "chat gpt-4o")
      assert.strictEqual(span?.kind, "client")
      assert.strictEqual(traced.span._tag === "Some" ? traced.span.value : undefined, span)
      assert.strictEqual(span?.attributes.get("gen_ai.request.model"), "gpt-4o")
      assert.strictEqual(span?.attributes.get("gen_ai.request.temperature"), 0)
      assert.strictEqual(span?.attributes.get("gen_ai.usage.input_tokens"), 2)
      assert.deepStrictEqual(span?.attributes.get("gen_ai.response.finish_reasons"), ["stop"])
      assert.strictEqual(span?.status._tag, "Ended")
      assert.strictEqual(seen.length, 4)
      assert.deepStrictEqual(seen[3]?.metadata, seen[1]?.metadata)
    }).pipe(Effect.provide(hubLayer())))
})
