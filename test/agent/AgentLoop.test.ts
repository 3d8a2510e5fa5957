import { assert, describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Action, AgentLoop, Tool } from "../../src/agent/index.ts"
import { Guard } from "../../src/guard/index.ts"
import type { LlmRequest, ProviderError, ScriptRule } from "../../src/llm/index.ts"
import { ProviderRateLimited, ScriptedProvider } from "../../src/llm/index.ts"
import { ConversationMemory, layerMemory } from "../../src/memory/index.ts"
import { type TelemetryEvent, TelemetryHub, type TelemetryHubShape } from "../../src/telemetry/index.ts"

const Add = Action.make({
  name: "add",
  description: "Adds two numbers",
  params: Schema.Struct({ a: Schema.Finite, b: Schema.Finite }),
  output: Schema.Finite,
  run: ({ a, b }) => Effect.succeed(a + b)
})

const lastToolContent = (request: LlmRequest): string => {
  const last = request.messages[request.messages.length - 1]
  return last?.role === "tool" ? last.content : ""
}

/** The scripted model of most tests: "add 2 and 40" → add(2, 40) → "The sum is 42". */
const sumRules: ReadonlyArray<ScriptRule> = [
  { when: { lastUser: "add 2 and 40" }, reply: { toolCalls: [{ name: "add", arguments: { a: 2, b: 40 } }] } },
  { when: { tool: "add" }, reply: (req) => ({ text: `The sum is ${lastToolContent(req)}` }) }
]

/** A model client recording the requests it gets. */
const recording = (rules: ReadonlyArray<ScriptRule>, options: { readonly chunkSize?: number } = {}) => {
  const provider = ScriptedProvider.makeUnsafe({ rules, ...options })
  const requests: Array<LlmRequest> = []
  const llm: AgentLoop.ModelClient<ProviderError> = {
    generate: (request) => Effect.suspend(() => (requests.push(request), provider.generate(request))),
    stream: (request) => Stream.suspend(() => (requests.push(request), provider.stream(request)))
  }
  return { llm, requests }
}

describe("AgentLoop.run", () => {
  it.effect("two steps: the model calls a tool, gets the result, answers", () =>
    Effect.gen(function*() {
      const { llm, requests } = recording(sumRules)
      const result = yield* AgentLoop.run({
        llm,
        model: "fast",
        systemPrompt: "You add numbers.",
        tools: [Tool.fromAction(Add)],
        input: "please add 2 and 40"
      })
      expect(result.stopReason).toBe("answered")
      expect(result.text).toBe("The sum is 42")
      expect(result.steps).toBe(2)
      expect(result.toolEvents.map((e) => [e.name, e.result._tag])).toStrictEqual([["add", "ToolSuccess"]])
      expect(result.newMessages.map((m) => m.role)).toStrictEqual(["user", "assistant", "tool", "assistant"])
      expect(result.messages[0]).toStrictEqual({ role: "system", content: "You add numbers." })
      const tool = result.newMessages[2]
      assert(tool?.role === "tool")
      expect(tool.content).toBe("42")
      expect(tool.toolCallId).toBe(result.toolEvents[0]?.id)
      // the tool's JSON Schema goes into the request
      expect(requests[0]?.tools?.map((t) => t.name)).toStrictEqual(["add"])
      expect(requests[0]?.tools?.[0]?.parameters).toMatchObject({ type: "object", required: ["a", "b"] })
      expect(requests[0]?.model).toBe("fast")
      expect(requests.length).toBe(2)
      expect(result.usage.totalTokens).toBe(result.usage.inputTokens + result.usage.outputTokens)
      expect(result.usage.inputTokens).toBeGreaterThan(0)
    }))

  it.effect("parallel tool calls are bounded by the concurrency limit; results return in call order", () =>
    Effect.gen(function*() {
      let active = 0
      let peak = 0
      const Slow = Action.make({
        name: "slow",
        description: "Waits, then echoes n",
        params: Schema.Struct({ n: Schema.Finite }),
        output: Schema.Finite,
        run: ({ n }) =>
          Effect.sync(() => {
            active++
            peak = Math.max(peak, active)
          }).pipe(
            Effect.andThen(Effect.sleep("1 second")),
            Effect.ensuring(Effect.sync(() => active--)),
            Effect.as(n)
          )
      })
      const { llm } = recording([
        {
          when: { lastUser: "fan out" },
          reply: { toolCalls: [1, 2, 3, 4, 5].map((n) => ({ name: "slow", arguments: { n } })) }
        },
        {
          when: { tool: "slow" },
          reply: (req) => ({ text: req.messages.filter((m) => m.role === "tool").map((m) => m.content).join(",") })
        }
      ])
      const fiber = yield* Effect.forkChild(
        AgentLoop.run({ llm, model: "fast", tools: [Tool.fromAction(Slow)], concurrency: 2, input: "fan out" }),
        { startImmediately: true }
      )
      yield* TestClock.adjust("1 second")
      expect(peak).toBe(2)
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      expect(peak).toBe(2)
      expect(result.text).toBe("1,2,3,4,5")
      expect(result.toolEvents.map((e) => e.durationMillis)).toStrictEqual([1000, 1000, 2000, 2000, 3000])
    }))

  it.effect("bad tool calls (unknown tool, malformed JSON, bad params) go back to the model, which recovers", () =>
    Effect.gen(function*() {
      const { llm } = recording([
        { when: { lastUser: "recover" }, reply: { toolCalls: [{ name: "ad", arguments: { a: 1, b: 2 } }] } },
        { when: { toolResult: "UnknownTool" }, reply: { toolCalls: [{ name: "add", arguments: "{a: 1" }] } },
        {
          when: { toolResult: "not valid JSON" },
          reply: { toolCalls: [{ name: "add", arguments: { a: "one", b: 2 } }] }
        },
        { when: { toolResult: "InvalidParams" }, reply: { toolCalls: [{ name: "add", arguments: { a: 1, b: 2 } }] } },
        { when: { tool: "add" }, reply: (req) => ({ text: `got ${lastToolContent(req)}` }) }
      ])
      const result = yield* AgentLoop.run({ llm, model: "fast", tools: [Tool.fromAction(Add)], input: "recover" })
      expect(result.stopReason).toBe("answered")
      expect(result.text).toBe("got 3")
      expect(result.steps).toBe(5)
      const errors = result.toolEvents.map((e) => (e.result._tag === "ToolFailure" ? e.result.error.tag : "ok"))
      expect(errors).toStrictEqual(["UnknownTool", "InvalidParams", "InvalidParams", "ok"])
      const failure = result.toolEvents[2]?.result
      assert(failure?._tag === "ToolFailure")
      expect(failure.error.path).toBe("a")
      const toolMessages = result.newMessages.filter((m) => m.role === "tool")
      expect(toolMessages.map((m) => m.isError ?? false)).toStrictEqual([true, true, true, false])
    }))

  it.effect("maxSteps reached is an outcome, and the last step's tools still ran", () =>
    Effect.gen(function*() {
      const { llm, requests } = recording([{
        when: "always",
        reply: { toolCalls: [{ name: "add", arguments: { a: 1, b: 1 } }] }
      }])
      const result = yield* AgentLoop.run({
        llm,
        model: "fast",
        tools: [Tool.fromAction(Add)],
        maxSteps: 3,
        input: "loop"
      })
      expect(result.stopReason).toBe("max-steps")
      expect(result.steps).toBe(3)
      expect(requests.length).toBe(3)
      expect(result.toolEvents.length).toBe(3)
      expect(result.newMessages.length).toBe(1 + 3 * 2)
      expect(result.newMessages[result.newMessages.length - 1]?.role).toBe("tool")
    }))

  it.effect("a denied tool is not offered, and calling it anyway is a tool error", () =>
    Effect.gen(function*() {
      let ran = false
      const Shell = Action.make({
        name: "shell",
        description: "Runs a command",
        params: Schema.Struct({ cmd: Schema.String }),
        output: Schema.String,
        run: () => Effect.sync(() => ((ran = true), "ok"))
      })
      const { llm, requests } = recording([
        { when: { lastUser: "wipe" }, reply: { toolCalls: [{ name: "shell", arguments: { cmd: "rm -rf /" } }] } },
        { when: { toolResult: "ToolDenied" }, reply: { text: "I may not do that." } }
      ])
      const result = yield* AgentLoop.run({
        llm,
        model: "fast",
        tools: [Tool.fromAction(Add), Tool.fromAction(Shell)],
        policy: { deny: ["shell"] },
        input: "wipe the disk"
      })
      expect(requests[0]?.tools?.map((t) => t.name)).toStrictEqual(["add"])
      expect(result.text).toBe("I may not do that.")
      const denied = result.toolEvents[0]?.result
      assert(denied?._tag === "ToolFailure")
      expect(denied.error.tag).toBe("ToolDenied")
      expect(ran).toBe(false)
    }))

  it.effect("the model's errors pass through unchanged", () =>
    Effect.gen(function*() {
      const outage = new ProviderRateLimited({ provider: "scripted", description: "slow down", retryable: true })
      const { llm } = recording([{ when: "always", reply: { error: outage } }])
      const exit = yield* Effect.exit(AgentLoop.run({ llm, model: "fast", input: "hi" }))
      assert(Exit.isFailure(exit))
      expect(exit.cause.reasons[0]?._tag === "Fail" && exit.cause.reasons[0].error).toBe(outage)
    }))

  it.effect("options and input are validated, naming the bad field", () =>
    Effect.gen(function*() {
      const { llm } = recording(sumRules)
      const badSteps = yield* Effect.flip(AgentLoop.run({ llm, model: "fast", maxSteps: 0, input: "hi" }))
      expect(badSteps._tag).toBe("InvalidAgentOptions")
      assert(badSteps._tag === "InvalidAgentOptions")
      expect(badSteps.path).toBe("maxSteps")
      const badInput = yield* Effect.flip(AgentLoop.run({ llm, model: "fast", input: "" }))
      assert(badInput._tag === "InvalidAgentOptions")
      expect(badInput.path).toBe("input")
      // a conversation without a memory option needs ConversationMemory: it is in the type, not looked up at run time
      const needsMemory = AgentLoop.run({ llm, model: "fast", input: "hi", conversationId: "c1" })
      // @ts-expect-error ConversationMemory is required
      const noMemory: Effect.Effect<unknown, unknown, never> = needsMemory
      void noMemory
      const remembered = yield* needsMemory.pipe(Effect.provide(layerMemory()))
      expect(remembered.newMessages.length).toBe(2)
      const badLlm = yield* Effect.flip(AgentLoop.make({ llm: {} as typeof llm, model: "fast" }))
      expect(badLlm.path).toBe("llm")
    }))
})

describe("AgentLoop memory", () => {
  it.effect("persists the conversation, and a second run continues it", () =>
    Effect.gen(function*() {
      const { llm, requests } = recording([
        ...sumRules,
        { when: { lastUser: "thanks" }, reply: (req) => ({ text: `I saw ${req.messages.length} messages` }) }
      ])
      const agent = yield* AgentLoop.make({ llm, model: "fast", systemPrompt: "Add.", tools: [Tool.fromAction(Add)] })
      const first = yield* agent.run({ input: "add 2 and 40", conversationId: "c1" })
      expect(first.text).toBe("The sum is 42")
      const memory = yield* ConversationMemory
      expect((yield* memory.messages("c1")).length).toBe(4)
      const second = yield* agent.run({ input: "thanks", conversationId: "c1" })
      // system + 4 remembered + the new user turn
      expect(second.text).toBe("I saw 6 messages")
      expect(requests[requests.length - 1]?.messages.map((m) => m.role)).toStrictEqual([
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user"
      ])
      const stored = yield* memory.messages("c1")
      expect(stored.length).toBe(6)
      expect(stored.some((m) => m.role === "system")).toBe(false)
      // another conversation starts empty
      const other = yield* agent.run({ input: "thanks", conversationId: "c2" })
      expect(other.text).toBe("I saw 2 messages")
    }).pipe(Effect.provide(layerMemory())))

  it.effect("a trimmed history never starts with orphaned tool results", () =>
    Effect.gen(function*() {
      const { llm, requests } = recording([
        ...sumRules,
        { when: { lastUser: "thanks" }, reply: { text: "ok" } }
      ])
      yield* AgentLoop.run({
        llm,
        model: "fast",
        tools: [Tool.fromAction(Add)],
        input: "add 2 and 40",
        conversationId: "t"
      })
      yield* AgentLoop.run({ llm, model: "fast", input: "thanks", conversationId: "t" })
      // kept: [tool, assistant, user, assistant] of 6; the leading tool result is dropped
      yield* AgentLoop.run({ llm, model: "fast", input: "thanks", conversationId: "t" })
      expect(requests[requests.length - 1]?.messages.map((m) => m.role)).toStrictEqual([
        "assistant",
        "user",
        "assistant",
        "user"
      ])
    }).pipe(Effect.provide(layerMemory({ maxMessages: 4 }))))
})

describe("AgentLoop.runStream", () => {
  it.effect("emits steps, text deltas, tool events and a final event, in order", () =>
    Effect.gen(function*() {
      const { llm } = recording(sumRules, { chunkSize: 4 })
      const events = yield* Stream.runCollect(
        AgentLoop.runStream({ llm, model: "fast", tools: [Tool.fromAction(Add)], input: "add 2 and 40" })
      )
      expect(events.map((e) => e._tag)).toStrictEqual([
        "StepStarted",
        "ToolCallStarted",
        "ToolCallFinished",
        "StepFinished",
        "StepStarted",
        "TextDelta",
        "TextDelta",
        "TextDelta",
        "TextDelta",
        "StepFinished",
        "Finished"
      ])
      const deltas = events.flatMap((e) => (e._tag === "TextDelta" ? [e.delta] : []))
      expect(deltas.join("")).toBe("The sum is 42")
      const started = events[1]
      assert(started?._tag === "ToolCallStarted")
      expect([started.name, started.arguments]).toStrictEqual(["add", { a: 2, b: 40 }])
      const finished = events[events.length - 1]
      assert(finished?._tag === "Finished")
      expect(finished.text).toBe("The sum is 42")
      expect(finished.stopReason).toBe("answered")
      const stepUsage = events.flatMap((e) => (e._tag === "StepFinished" ? [e.usage.totalTokens] : []))
      expect(finished.usage.totalTokens).toBe(stepUsage.reduce((a, b) => a + b, 0))
    }))

  it.effect("streams through memory too", () =>
    Effect.gen(function*() {
      const { llm } = recording(sumRules)
      const events = yield* Stream.runCollect(
        AgentLoop.runStream({
          llm,
          model: "fast",
          tools: [Tool.fromAction(Add)],
          input: "add 2 and 40",
          conversationId: "s"
        })
      )
      expect(events[events.length - 1]?._tag).toBe("Finished")
      expect((yield* (yield* ConversationMemory).messages("s")).length).toBe(4)
    }).pipe(Effect.provide(layerMemory())))
})

describe("AgentLoop interruption", () => {
  const hangingTool = () => {
    const state = { finalized: false }
    const make = (started: Deferred.Deferred<void>) =>
      Action.make({
        name: "hang",
        description: "Never returns",
        params: Schema.Struct({}),
        output: Schema.String,
        retries: 0,
        run: () =>
          Deferred.succeed(started, undefined).pipe(
            Effect.andThen(Effect.never),
            Effect.ensuring(Effect.sync(() => {
              state.finalized = true
            }))
          )
      })
    return { state, make }
  }
  const hangRules: ReadonlyArray<ScriptRule> = [
    { when: { lastUser: "hang" }, reply: { text: "calling", toolCalls: [{ name: "hang", arguments: {} }] } }
  ]

  it.effect("interrupting a run stops a running tool (its finalizer runs)", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const { state, make } = hangingTool()
      const { llm } = recording(hangRules)
      const fiber = yield* Effect.forkChild(
        AgentLoop.run({ llm, model: "fast", tools: [Tool.fromAction(make(started))], input: "hang" }),
        { startImmediately: true }
      )
      yield* Deferred.await(started)
      expect(state.finalized).toBe(false)
      yield* Fiber.interrupt(fiber)
      expect(state.finalized).toBe(true)
    }))

  it.effect("interrupting a run interrupts the in-flight model call", () =>
    Effect.gen(function*() {
      const calling = yield* Deferred.make<void>()
      let interrupted = false
      const llm: AgentLoop.ModelClient = {
        generate: () =>
          Deferred.succeed(calling, undefined).pipe(
            Effect.andThen(Effect.never),
            Effect.onInterrupt(() =>
              Effect.sync(() => {
                interrupted = true
              })
            )
          ),
        stream: () => Stream.never
      }
      const fiber = yield* Effect.forkChild(AgentLoop.run({ llm, model: "fast", input: "hi" }), {
        startImmediately: true
      })
      yield* Deferred.await(calling)
      yield* Fiber.interrupt(fiber)
      expect(interrupted).toBe(true)
    }))

  it.effect("dropping the event stream stops the run and its tools", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const { state, make } = hangingTool()
      const { llm } = recording(hangRules)
      const events = yield* AgentLoop.runStream({
        llm,
        model: "fast",
        tools: [Tool.fromAction(make(started))],
        input: "hang"
      })
        .pipe(
          Stream.tap((e) => (e._tag === "ToolCallStarted" ? Deferred.await(started) : Effect.void)),
          Stream.takeUntil((e) => e._tag === "ToolCallStarted"),
          Stream.runCollect
        )
      expect(events.map((e) => e._tag)).toStrictEqual(["StepStarted", "TextDelta", "ToolCallStarted"])
      expect(state.finalized).toBe(true)
    }))
})

describe("AgentLoop telemetry", () => {
  it.effect("tracks each known tool execution once, failures as exceptions", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const seen: Array<TelemetryEvent> = []
      yield* hub.attach("test-tools", [["troupe", "tool"]], (e) => {
        seen.push(e)
      })
      const { llm } = recording([
        {
          when: { lastUser: "go" },
          reply: {
            toolCalls: [
              { name: "add", arguments: { a: 1, b: 2 } },
              { name: "add", arguments: { a: "x", b: 2 } },
              { name: "nonexistent", arguments: {} }
            ]
          }
        },
        { when: { tool: "add" }, reply: { text: "done" } }
      ])
      const result = yield* AgentLoop.run({
        llm,
        model: "fast",
        agent: "calc",
        tools: [Tool.fromAction(Add)],
        input: "go",
        telemetry: hub
      })
      expect(result.text).toBe("done")
      const names = seen.map((e) => e.name.join("."))
      expect(names.filter((n) => n.endsWith("start")).length).toBe(2)
      expect(names.filter((n) => n.endsWith("stop")).length).toBe(1)
      const exceptions = seen.filter((e) => e.name.join(".").endsWith("exception"))
      expect(exceptions.length).toBe(1)
      expect(exceptions[0]?.metadata).toMatchObject({ tool: "add", agent: "calc", error_type: "InvalidParams" })
    }).pipe(Effect.provide(TelemetryHub.layer())))
})

describe("every requirement is in the types", () => {
  it("a run without a conversation needs nothing from the context; with one, exactly ConversationMemory", () => {
    const { llm } = recording([{ when: { lastUser: "go" }, reply: { text: "done" } }])
    const plain = AgentLoop.run({ llm, model: "fast", input: "go" })
    expectTypeOf<Effect.Services<typeof plain>>().toEqualTypeOf<never>()
    expectTypeOf<Effect.Success<typeof plain>>().toEqualTypeOf<AgentLoop.AgentLoopResult>()
    const remembered = AgentLoop.run({ llm, model: "fast", input: "go", conversationId: "c1" })
    expectTypeOf<Effect.Services<typeof remembered>>().toEqualTypeOf<ConversationMemory>()
    const withHub = AgentLoop.runStream({ llm, model: "fast", input: "go", telemetry: {} as TelemetryHubShape })
    expectTypeOf<Stream.Services<typeof withHub>>().toEqualTypeOf<never>()
  })

  it.effect("a hub in the context is not looked up at run time: tool telemetry goes only to the `telemetry` option", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const seen: Array<TelemetryEvent> = []
      yield* hub.attach("test-context", [["troupe", "tool"]], (e) => {
        seen.push(e)
      })
      const { llm } = recording([
        { when: { lastUser: "go" }, reply: { toolCalls: [{ name: "add", arguments: { a: 1, b: 2 } }] } },
        { when: { tool: "add" }, reply: { text: "done" } }
      ])
      const result = yield* AgentLoop.run({ llm, model: "fast", tools: [Tool.fromAction(Add)], input: "go" })
      expect(result.text).toBe("done")
      expect(seen).toEqual([])
    }).pipe(Effect.provide(TelemetryHub.layer())))
})

describe("AgentLoop with a guard", () => {
  it.effect("a run keeps one anonymiser Vault: two user messages with different e-mail addresses get different placeholders", () =>
    Effect.gen(function*() {
      const guard = yield* Guard.make()
      const { llm, requests } = recording([{ when: "always", reply: { text: "ok" } }])
      yield* AgentLoop.run({
        llm,
        model: "fast",
        guard,
        input: [
          { role: "user", content: "Forward the invoice from alice@example.org" },
          { role: "user", content: "and cc carol@example.net, then alice@example.org again" }
        ]
      })
      const users = (requests[0]?.messages ?? []).filter((m) => m.role === "user").map((m) => m.content)
      expect(users).toStrictEqual([
        "Forward the invoice from <EMAIL_1>",
        "and cc <EMAIL_2>, then <EMAIL_1> again"
      ])
    }))
})
