/**
 * `npm start`: troupe end to end, offline in about 15 seconds (real providers when API keys are set).
 *
 * One application layer (`Troupe.layer`) runs every service under one root supervisor. The demo then shows:
 *  1. the supervision tree of the running application;
 *  2. a supervised tool-using LLM agent (`LlmAgents`) whose streamed answer is printed as it arrives;
 *  3. a repeated question served from the response cache;
 *  4. a burst of calls that waits its turn on the rate limiter;
 *  5. a provider outage that trips the circuit breaker, with the fallback provider answering;
 *  6. an agent crash, restarted by its supervisor;
 *  7. the closing telemetry report;
 * and shuts everything down in reverse order, exit 0. Ctrl-C does the same earlier.
 */
import { Data, Deferred, Effect, Schema, Stream } from "effect"
import { Action, Agent, AgentLoop, AgentServer, Signal, StateOp, Tool } from "../src/agent/index.ts"
import { Troupe } from "../src/app/index.ts"
import { AuthenticationFailed, type LlmRequest, ProviderServerError, type ScriptedOptions } from "../src/llm/index.ts"
import { LlmAgent, LlmAgents } from "../src/llmagent/index.ts"
import { ConversationMemory } from "../src/memory/index.ts"
import { Llm } from "../src/pipeline/index.ts"
import { providerDefaults } from "../src/ratelimit/index.ts"
import { ExitReason, Lifecycle, SupervisionTree, Supervisor } from "../src/runtime/index.ts"
import { TelemetryHub } from "../src/telemetry/index.ts"

/** A scene of the demo failed; `npm start` then exits 1 after the ordered shutdown. */
class SceneFailed extends Data.TaggedError("SceneFailed")<{ readonly scene: string; readonly error: unknown }> {}

const t0 = Date.now()
const stamp = () => `${((Date.now() - t0) / 1000).toFixed(2).padStart(6)}s`
const say = (text: string) => Effect.sync(() => console.log(text))
const scene = (title: string) => say(`\n\x1b[1m━━ ${title}\x1b[0m`)

// ── the offline models: one scripted provider per configured provider name ─────────────────────────────────
const toolResults = (request: LlmRequest) =>
  request.messages.filter((m) => m.role === "tool").map((m): unknown =>
    JSON.parse(m.role === "tool" ? m.content : "null")
  )

// DEMO_REVOKED_KEY=1 scripts a revoked key (401) for scene 3, to see a failing scene end the demo with exit 1
const revokedKey = process.env["DEMO_REVOKED_KEY"] === "1"

const scripted: ScriptedOptions = {
  chunkLatency: "40 millis",
  chunkSize: 7,
  rules: [
    ...(revokedKey
      ? [{
        when: { lastUser: /What is troupe/ },
        reply: {
          error: new AuthenticationFailed({
            provider: "anthropic",
            description: "401 key revoked (scripted)",
            retryable: false,
            kind: "InvalidKey"
          })
        }
      }]
      : []),
    {
      when: { lastUser: /weather in Oslo and Lisbon/ },
      latency: "200 millis",
      reply: {
        text: "Checking both cities.",
        toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }, {
          name: "get_weather",
          arguments: { city: "Lisbon" }
        }]
      }
    },
    {
      when: { tool: "get_weather" },
      reply: (request) => {
        // the get_weather tool's output, as the demo's action returns it
        const [oslo, lisbon] = toolResults(request) as Array<{ readonly tempC: number }>
        return { toolCalls: [{ name: "calculator", arguments: { a: lisbon?.tempC ?? 0, b: oslo?.tempC ?? 0 } }] }
      }
    },
    {
      when: { tool: "calculator" },
      reply: (request) => ({
        text: `Lisbon is ${String(toolResults(request).at(-1))} °C warmer than Oslo today. Bring a jacket north.`
      })
    },
    {
      when: { lastUser: /What is troupe/ },
      latency: "900 millis",
      reply: { text: "An actor runtime with OTP supervision, on Effect." }
    },
    {
      when: "always",
      reply: (request) =>
        request.model === "mistral-small-latest"
          ? {
            error: new ProviderServerError({
              provider: "mistral",
              description: "503 upstream outage (scripted)",
              status: 503,
              retryable: true
            })
          }
          : { text: `[${request.model}] ok` }
    }
  ]
}

// ── tools and agents ───────────────────────────────────────────────────────────────────────────────────────
const Weather = Action.make({
  name: "get_weather",
  description: "Current temperature of a city",
  params: Schema.Struct({ city: Schema.String }),
  output: Schema.Struct({ city: Schema.String, tempC: Schema.Finite }),
  run: ({ city }) => Effect.succeed({ city, tempC: city === "Oslo" ? 4 : 19 }).pipe(Effect.delay("150 millis"))
})
const Calculator = Action.make({
  name: "calculator",
  description: "a − b",
  params: Schema.Struct({ a: Schema.Finite, b: Schema.Finite }),
  output: Schema.Finite,
  run: ({ a, b }) => Effect.succeed(a - b)
})

const Counter = Agent.define({
  name: "counter",
  schema: Schema.Struct({ count: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(0))) }),
  actions: [],
  routes: [{
    pattern: "counter.increment",
    target: Action.pure({
      name: "increment",
      params: Schema.Struct({ by: Schema.Number }),
      output: Schema.Number,
      // the action runs on this agent, whose state schema has a count
      run: ({ by }, { state }) =>
        Action.withOps(
          (state as { count: number }).count + by,
          // the same state as above
          StateOp.set({ count: (state as { count: number }).count + by })
        )
    })
  }]
})

// ── the scenes ─────────────────────────────────────────────────────────────────────────────────────────────
// the tree as `troupe tree` prints a gateway's (and `npm run tree` its own): one line per child
const render = (sup: Supervisor.SupervisorRef): Effect.Effect<string> =>
  Effect.map(SupervisionTree.of(sup), SupervisionTree.render)

// a supervised LLM agent: one process per conversation, needing (in its type) ConversationMemory and Llm
const WeatherBot = LlmAgent.make({
  name: "weather-bot",
  model: "openai:gpt-4o-mini",
  instructions: "Answer weather questions with your tools.",
  tools: [Tool.fromAction(Weather), Tool.fromAction(Calculator)]
})

const streamedAgent = Effect.gen(function*() {
  const agents = yield* LlmAgents
  let midLine = false
  yield* agents.askStream("weather-bot:demo", "What's the weather in Oslo and Lisbon?").pipe(
    Stream.runForEach((event) =>
      Effect.sync(() => {
        const out = (s: string) => {
          process.stdout.write(`${midLine ? "\n" : ""}${s}\n`)
          midLine = false
        }
        if (event._tag === "TextDelta") {
          process.stdout.write(midLine ? event.delta : `   ${event.delta}`)
          midLine = true
        } else if (event._tag === "ToolCallStarted") out(`   → ${event.name}(${JSON.stringify(event.arguments)})`)
        else if (event._tag === "ToolCallFinished") {
          out(
            `   ← ${event.name}: ${
              event.result._tag === "ToolSuccess" ? JSON.stringify(event.result.output) : "tool error"
            }`
          )
        } else if (event._tag === "Finished") out(`   (${event.steps} model steps, ${event.usage.totalTokens} tokens)`)
      })
    )
  )
  const status = yield* agents.status("weather-bot:demo")
  yield* say(
    `   agent weather-bot:demo: pid ${status.pid}, ${status.turns} turn, history in memory: ${
      (yield* agents.history("weather-bot:demo")).length
    } messages`
  )
}).pipe(Effect.provide(LlmAgents.layer({ agents: [WeatherBot] })))

const cachedQuestion = Effect.gen(function*() {
  const llm = yield* Llm
  const ask = {
    model: "anthropic:claude-3-5-haiku-latest",
    messages: [{ role: "user", content: "What is troupe?" }]
  } as const
  for (const attempt of ["first", "again"]) {
    const started = Date.now()
    const answer = yield* llm.generate(ask)
    yield* say(
      `   ${attempt}: "${answer.text}" in ${Date.now() - started} ms${
        answer.meta.cached ? " — served from the cache, no rate limit used" : ""
      }`
    )
  }
})

const burst = Effect.gen(function*() {
  const llm = yield* Llm
  const started = Date.now()
  yield* say("   8 calls at once to groq (policy: a bucket of 3, refilled 3 per second):")
  yield* Effect.forEach(
    Array.from({ length: 8 }, (_, i) => i + 1),
    (i) =>
      llm.generate({
        model: "groq:llama-3.1-8b-instant",
        messages: [{ role: "user", content: `burst ${i}` }],
        options: { cache: "bypass" }
      }).pipe(
        Effect.tap(() => say(`   call ${i} answered at +${Date.now() - started} ms`))
      ),
    { concurrency: "unbounded", discard: true }
  )
})

const outage = Effect.gen(function*() {
  const llm = yield* Llm
  for (let i = 1; i <= 5; i++) {
    const answer = yield* llm.generate({
      model: "mistral:mistral-small-latest",
      messages: [{ role: "user", content: `outage ${i}` }],
      options: { cache: "bypass" }
    })
    const by = answer.meta.standInFor === undefined
      ? answer.meta.provider
      : `${answer.meta.standInFor} (scripted stand-in)`
    yield* say(`   call ${i}: answered by ${by} after ${answer.meta.attempts} attempt(s) — "${answer.text}"`)
  }
})

const crash = Effect.gen(function*() {
  const server = yield* AgentServer
  const id = yield* server.start(Counter, { id: "counter-1" })
  for (let i = 0; i < 3; i++) yield* server.call(id, yield* Signal.make({ type: "counter.increment", data: { by: 1 } }))
  yield* say(`   counter-1 state before the crash: ${JSON.stringify((yield* server.state(id)).state)}`)
  server.whereis(id)?.signalStop(ExitReason.die(new Error("injected crash")))
  yield* Effect.sleep("50 millis")
  yield* say(
    `   counter-1 state after its restart: ${JSON.stringify((yield* server.state(id)).state)} (re-initialised)`
  )
})

const program = Effect.gen(function*() {
  const interrupted = yield* Deferred.make<void>()
  const onSigint = () => Deferred.doneUnsafe(interrupted, Effect.void)
  process.once("SIGINT", onSigint)
  const lifecycle = yield* Lifecycle
  yield* (yield* lifecycle.subscribe).pipe(
    Stream.filter((e) => e.supervisor === "agents" && (e._tag === "ChildExited" || e._tag === "ChildRestarted")),
    Stream.runForEach((e) =>
      say(`   ${stamp()} lifecycle: ${e._tag} ${e.childId ?? ""} ${e.reason ? ExitReason.format(e.reason) : ""}`)
    ),
    Effect.forkScoped
  )
  // outlives this scope: shows the services' supervisors stopping, in order, while the application layer closes
  yield* lifecycle.events.pipe(
    Stream.filter((e) => e._tag === "SupervisorStopped"),
    Stream.runForEach((e) => say(`   ${stamp()}  stopped: ${e.supervisor}`)),
    Effect.forkDetach({ startImmediately: true })
  )
  // a failing scene is reported by name and fails the demo (exit 1), instead of leaving it waiting for Ctrl-C
  const run = <A, E, R>(title: string, body: Effect.Effect<A, E, R>) =>
    Effect.andThen(scene(title), body).pipe(
      Effect.tapCause(() => say(`\n\x1b[31m✗ scene failed: ${title}\x1b[0m`)),
      Effect.mapError((error) => new SceneFailed({ scene: title, error }))
    )
  const demo = Effect.gen(function*() {
    yield* run(
      "1. the application: one root supervisor, every service a subtree",
      Effect.gen(function*() {
        yield* say(yield* render(yield* Supervisor.RootSupervisor))
      })
    )
    yield* run("2. a supervised tool-using agent, streamed", streamedAgent)
    yield* run("3. the same question twice", cachedQuestion)
    yield* run("4. a burst waits on the rate limiter", burst)
    yield* run("5. a provider outage: the breaker opens and the fallback answers", outage)
    yield* run("6. an agent crash, restarted by its supervisor", crash)
  })
  // the first to finish wins, failure included (`Effect.race` would wait for Ctrl-C after a failed scene)
  yield* Effect.raceFirst(demo, Deferred.await(interrupted))
  process.removeListener("SIGINT", onSigint)
  yield* scene("7. telemetry report")
  yield* say(yield* (yield* TelemetryHub).report())
  yield* say(`\n${stamp()}  shutting down in reverse order…`)
})

const app = Troupe.layer({
  providers: process.env["OPENAI_API_KEY"] !== undefined || process.env["ANTHROPIC_API_KEY"] !== undefined
    ? { scriptedWhenNoKey: scripted }
    : { scripted },
  rateLimiter: {
    policies: {
      ...providerDefaults,
      groq: {
        tiers: [{
          _tag: "TokenBucket",
          name: "burst",
          capacity: 3,
          refillTokens: 3,
          refillEvery: "1 second",
          refill: "interval"
        }]
      }
    }
  },
  pipeline: {
    retry: { retries: 1, baseDelay: "100 millis", jitter: 0 },
    breaker: { failures: 2, openDuration: "30 seconds" },
    fallback: { chains: { "mistral:mistral-small-latest": ["deepseek:deepseek-chat"] } }
  }
})

Effect.runPromise(
  program.pipe(
    Effect.scoped,
    Effect.provide(app),
    Effect.ensuring(Effect.suspend(() => say(`${stamp()}  all stopped; bye`)))
  )
).then(
  () => process.exit(0),
  (error: unknown) => {
    const failed = error instanceof SceneFailed ? error : undefined
    const cause = failed?.error ?? error
    const text = cause instanceof Error ? cause.message : String(cause)
    console.error(failed === undefined ? `the demo failed: ${text}` : `scene "${failed.scene}" failed: ${text}`)
    process.exit(1)
  }
)
