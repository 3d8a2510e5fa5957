/**
 * TelemetryHub tour: attach a `:telemetry`-style handler, run tracked LLM / tool / agent calls (simulated, a few
 * milliseconds each), then print the reporter's table and the Prometheus exposition.
 *
 * Run: `node examples/telemetry.ts`
 */
import { Effect, Schema } from "effect"
import { Events, TelemetryHub } from "../src/telemetry/index.ts"

class ProviderOverloaded extends Schema.TaggedError<ProviderOverloaded>()("ProviderOverloaded", {}) {}

/** A fake chat completion: sleeps, then answers with token usage (every fourth call is overloaded). */
let calls = 0
const fakeChat = (prompt: string) =>
  Effect.gen(function*() {
    calls++
    yield* Effect.sleep(`${5 + (calls % 4) * 3} millis`)
    if (calls % 4 === 0) return yield* new ProviderOverloaded()
    return {
      text: `echo: ${prompt}`,
      usage: { prompt: 20 + prompt.length, completion: 35 },
      model: "gpt-4o-2024-08-06"
    }
  })

const program = Effect.gen(function*() {
  const hub = yield* TelemetryHub

  // 1. a handler on every LLM event, like :telemetry.attach_many/4
  yield* hub.attach("console-llm", [["troupe", "llm"]], (event) => {
    if (event.name.at(-1) === "stop") {
      console.log(
        `[handler] ${event.name.join(".")} ${event.metadata.model} ${(event.measurements.duration ?? 0) / 1e6} ms, ` +
          `${event.measurements.total_tokens ?? 0} tokens`
      )
    }
  })

  // 2. tracked work: an agent action wrapping LLM calls and a tool execution
  const answer = (question: string) =>
    Effect.gen(function*() {
      const reply = yield* hub.trackLlmCall(
        fakeChat(question),
        { provider: "openai", model: "gpt-4o", temperature: 0.2 },
        {
          usage: (r) => ({
            inputTokens: r.usage.prompt,
            outputTokens: r.usage.completion,
            responseModel: r.model,
            cost: 0.0003
          })
        }
      )
      yield* Effect.sleep("2 millis").pipe(hub.trackToolExecution({ tool: "web_search", agent: "researcher" }))
      return reply.text
    }).pipe(
      hub.trackAgentAction({ agent: "researcher", action: "answer" }),
      Effect.catchTag("ProviderOverloaded", () => Effect.succeed("(retry later)"))
    )

  for (const q of ["what is OTP?", "what is Effect?", "why actors?", "who supervises?", "what is a span?"]) {
    yield* answer(q)
  }
  yield* hub.emit(Events.cacheHit, { count: 1 }, { cache: "embeddings" })
  yield* hub.emit(Events.cacheMiss, { count: 1 }, { cache: "embeddings" })

  // 3. the reporter and the Prometheus text
  console.log("\n" + (yield* hub.report()))
  console.log(yield* hub.prometheus())
})

await Effect.runPromise(program.pipe(Effect.provide(TelemetryHub.layer())))
