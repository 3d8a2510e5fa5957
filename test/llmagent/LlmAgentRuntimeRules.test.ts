/**
 * The accounting, memory and step-budget rules of one turn (src/llmagent/internal/LlmAgentRuntime.ts): the cost of
 * every model call, the usage a provider reported, what memory keeps of a turn that repairs its answer, the step
 * budget across repairs, and deeply nested model output.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Schema, Stream } from "effect"
import { Action, type AgentLoop, Tool } from "../../src/agent/index.ts"
import type { LlmResponse, LlmStreamPart, Usage } from "../../src/llm/index.ts"
import { LlmAgent, LlmAgents } from "../../src/llmagent/index.ts"
import { layerMemory } from "../../src/memory/index.ts"

const ZERO: Usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 }
const reply = (text: string, toolCalls: LlmResponse["toolCalls"] = [], usage: Usage = ZERO): LlmResponse => ({
  provider: "scripted",
  model: "fast",
  text,
  toolCalls,
  finishReason: toolCalls.length > 0 ? "tool-calls" : "stop",
  usage
})

/** A model answering the n-th call (from 1) with `script(n)`. */
const scripted = (script: (n: number) => LlmResponse | Effect.Effect<LlmResponse>) => {
  let n = 0
  const llm: AgentLoop.ModelClient<never> = {
    generate: () =>
      Effect.suspend(() => {
        const r = script(++n)
        return Effect.isEffect(r) ? r : Effect.succeed(r)
      }),
    stream: () => {
      throw new Error("not streamed")
    }
  }
  return { llm, calls: () => n }
}

const echo = Tool.fromAction(Action.make({
  name: "echo",
  description: "echo",
  params: Schema.Struct({ x: Schema.String }),
  output: Schema.String,
  run: ({ x }) => Effect.succeed(x)
}))
const Ok = Schema.Struct({ ok: Schema.Boolean })
const call = (id: string) => [{ id, name: "echo", arguments: { x: "a" } }]

describe("LlmAgents: the cost and usage of a turn", () => {
  it.effect("costUsd counts the perRequest fee of every model call of the turn", () =>
    Effect.gen(function*() {
      const { llm } = scripted((n) => n === 1 ? reply("", call("c1")) : reply("done"))
      const A = LlmAgent.make({ name: "p", model: "acme:m", llm, tools: [echo], memory: "none" })
      const agents = yield* LlmAgents.make({
        agents: [A],
        prices: { "acme:m": { input: 0, output: 0, perRequest: 0.01 } }
      })
      const answer = yield* agents.ask("p:1", "go")
      expect(answer.steps).toBe(2)
      expect(answer.costUsd).toBeCloseTo(0.02, 10)
    }).pipe(Effect.scoped))

  it.effect("a repaired turn keeps every usage count the provider reported (total, cache writes, reasoning) and is priced per model call", () =>
    Effect.gen(function*() {
      const u: Usage = {
        inputTokens: 1000,
        outputTokens: 100,
        totalTokens: 1500,
        cacheWriteInputTokens: 800,
        reasoningTokens: 400
      }
      const { llm } = scripted((n) => n === 1 ? reply("not json", [], u) : reply(`{"ok":true}`, [], u))
      const A = LlmAgent.make({ name: "r", model: "acme:m", llm, memory: "none", output: Ok })
      const agents = yield* LlmAgents.make({
        agents: [A],
        prices: { "acme:m": { input: 1, output: 10, cacheWrite: 5, perRequest: 0.5 } }
      })
      const answer = yield* agents.ask("r:1", "go")
      expect(answer.repairs).toBe(1)
      // each call: fresh 200 × 1 + written 800 × 5 + output (100 + 400 beyond input + output) × 10, plus the fee
      const perCall = (200 * 1 + 800 * 5 + 500 * 10) / 1_000_000 + 0.5
      expect(answer.usage).toStrictEqual({
        inputTokens: 2000,
        outputTokens: 200,
        totalTokens: 3000,
        cacheWriteInputTokens: 1600,
        reasoningTokens: 800
      })
      expect(answer.costUsd).toBeCloseTo(2 * perCall, 10)
    }).pipe(Effect.scoped))
})

describe("LlmAgents: memory of a turn with output repairs", () => {
  it.effect("a turn cancelled during an output repair leaves nothing in memory", () =>
    Effect.gen(function*() {
      const repairing = yield* Deferred.make<void>()
      const { llm } = scripted((n) =>
        n === 1 ? reply("not json") : Effect.andThen(Deferred.succeed(repairing, undefined), Effect.never)
      )
      const A = LlmAgent.make({ name: "j", model: "fast", llm, output: Ok })
      const agents = yield* LlmAgents.make({ agents: [A] })
      const fiber = yield* Effect.forkChild(agents.ask("j:1", "question"), { startImmediately: true })
      yield* Deferred.await(repairing)
      expect(yield* agents.cancel("j:1")).toBe(true)
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("TurnCancelled")
      expect(yield* agents.history("j:1")).toStrictEqual([])
    }).pipe(Effect.scoped, Effect.provide(layerMemory())))

  it.effect("a turn whose answer never decodes, or whose repair round fails, leaves nothing in memory", () =>
    Effect.gen(function*() {
      const bad = scripted(() => reply("not json"))
      const failing: AgentLoop.ModelClient<{ readonly _tag: "Down"; readonly message: string }> = {
        generate: () => Effect.fail({ _tag: "Down", message: "model down" }),
        stream: () => {
          throw new Error("not streamed")
        }
      }
      let first = true
      const flaky: AgentLoop.ModelClient<{ readonly _tag: "Down"; readonly message: string }> = {
        generate: (request) =>
          first ? Effect.sync(() => ((first = false), reply("not json"))) : failing.generate(request),
        stream: failing.stream
      }
      const Bad = LlmAgent.make({ name: "bad", model: "fast", llm: bad.llm, output: Ok, repairs: 1 })
      const Flaky = LlmAgent.make({ name: "flaky", model: "fast", llm: flaky, output: Ok })
      const agents = yield* LlmAgents.make({ agents: [Bad, Flaky] })
      expect(yield* Effect.flip(agents.ask("bad:1", "question"))).toMatchObject({ _tag: "InvalidAgentOutput" })
      expect(yield* Effect.flip(agents.ask("flaky:1", "question"))).toMatchObject({ _tag: "TurnFailed", tag: "Down" })
      expect(yield* agents.history("bad:1")).toStrictEqual([])
      expect(yield* agents.history("flaky:1")).toStrictEqual([])
    }).pipe(Effect.scoped, Effect.provide(layerMemory())))

  it.effect("a repaired turn is appended to memory once, whole, after its answer decodes; its repair sees the turn so far", () =>
    Effect.gen(function*() {
      const seen: Array<ReadonlyArray<string>> = []
      let n = 0
      const llm: AgentLoop.ModelClient<never> = {
        generate: (request) =>
          Effect.sync(() => {
            seen.push(request.messages.map((m) => `${m.role}:${m.content.slice(0, 12)}`))
            return ++n === 1 ? reply("not json") : reply(`{"ok":true}`)
          }),
        stream: () => {
          throw new Error("not streamed")
        }
      }
      const A = LlmAgent.make({ name: "m", model: "fast", llm, output: Ok })
      const agents = yield* LlmAgents.make({ agents: [A] })
      const answer = yield* agents.ask("m:1", "question")
      expect(answer.output).toStrictEqual({ ok: true })
      expect(seen[1]?.slice(1)).toStrictEqual(["user:question", "assistant:not json", "user:Your answer "])
      expect((yield* agents.history("m:1")).map((m) => `${m.role}:${m.content.slice(0, 12)}`)).toStrictEqual([
        "user:question",
        "assistant:not json",
        "user:Your answer ",
        "assistant:{\"ok\":true}"
      ])
    }).pipe(Effect.scoped, Effect.provide(layerMemory())))
})

describe("LlmAgents: streamed turns keep the same rules", () => {
  it.effect("a streamed turn is appended to memory once it answers; cancelled during its output repair it leaves nothing", () =>
    Effect.gen(function*() {
      const repairing = yield* Deferred.make<void>()
      let n = 0
      const finish: LlmStreamPart = {
        _tag: "Finish",
        provider: "scripted",
        model: "fast",
        finishReason: "stop",
        usage: ZERO
      }
      const text = (delta: string) => Stream.make<Array<LlmStreamPart>>({ _tag: "TextDelta", delta }, finish)
      const llm: AgentLoop.ModelClient<never> = {
        generate: () => Effect.die("not generated"),
        // turn 1: a bad answer, then its repair; turn 2: a bad answer, then a repair that never ends
        stream: () =>
          Stream.suspend(() => {
            n++
            if (n === 4) return Stream.fromEffect(Effect.andThen(Deferred.succeed(repairing, undefined), Effect.never))
            return text(n === 2 ? `{"ok":true}` : "not json")
          })
      }
      const A = LlmAgent.make({ name: "st", model: "fast", llm, output: Ok })
      const agents = yield* LlmAgents.make({ agents: [A] })
      const events = yield* Stream.runCollect(agents.askStream("st:1", "first"))
      expect(events.at(-1)).toMatchObject({ _tag: "Finished" })
      expect((yield* agents.history("st:1")).map((m) => m.role)).toStrictEqual([
        "user",
        "assistant",
        "user",
        "assistant"
      ])
      const fiber = yield* Effect.forkChild(Stream.runDrain(agents.askStream("st:1", "second")), {
        startImmediately: true
      })
      yield* Deferred.await(repairing)
      expect(yield* agents.cancel("st:1")).toBe(true)
      yield* Fiber.await(fiber)
      expect((yield* agents.history("st:1")).map((m) => m.role)).toStrictEqual([
        "user",
        "assistant",
        "user",
        "assistant"
      ])
    }).pipe(Effect.scoped, Effect.provide(layerMemory())))
})

describe("LlmAgents: the step budget of a structured turn", () => {
  it.effect("a structured agent whose model keeps calling tools makes at most maxSteps model calls per turn and fails with TurnFailed MaxSteps", () =>
    Effect.gen(function*() {
      const model = scripted((n) => reply("", call(`c${n}`)))
      const A = LlmAgent.make({
        name: "b",
        model: "fast",
        llm: model.llm,
        tools: [echo],
        memory: "none",
        maxSteps: 2,
        output: Ok
      })
      const agents = yield* LlmAgents.make({ agents: [A] })
      const error = yield* Effect.flip(agents.ask("b:1", "go"))
      expect(model.calls()).toBe(2)
      expect(error).toMatchObject({ _tag: "TurnFailed", tag: "MaxSteps" })
    }).pipe(Effect.scoped))

  it.effect("repair rounds get only the steps the turn has left: maxSteps counts every model call, repairs included", () =>
    Effect.gen(function*() {
      // step 1 a tool call, step 2 a bad answer, step 3 (the only one left) the repaired answer
      const model = scripted((n) => n === 1 ? reply("", call("c1")) : reply(n === 2 ? "not json" : `{"ok":true}`))
      const A = LlmAgent.make({
        name: "s",
        model: "fast",
        llm: model.llm,
        tools: [echo],
        memory: "none",
        maxSteps: 3,
        output: Ok
      })
      const agents = yield* LlmAgents.make({ agents: [A] })
      const answer = yield* agents.ask("s:1", "go")
      expect(answer).toMatchObject({ output: { ok: true }, steps: 3, repairs: 1, stopReason: "answered" })
      // with no step left, an undecodable answer is not repaired: InvalidAgentOutput after the repairs made
      const spent = scripted((n) => n === 1 ? reply("", call("c1")) : reply("not json"))
      const B = LlmAgent.make({
        name: "t",
        model: "fast",
        llm: spent.llm,
        tools: [echo],
        memory: "none",
        maxSteps: 2,
        output: Ok
      })
      const more = yield* LlmAgents.make({ agents: [B] })
      expect(yield* Effect.flip(more.ask("t:1", "go"))).toMatchObject({ _tag: "InvalidAgentOutput", repairs: 0 })
      expect(spent.calls()).toBe(2)
    }).pipe(Effect.scoped))
})

describe("LlmAgents: deeply nested model output", () => {
  const deep = (depth: number): Schema.Json => JSON.parse("{\"a\":".repeat(depth) + "1" + "}".repeat(depth))

  it.effect("deeply nested tool arguments (6,000 levels) are a tool error the model sees, never a crash of the agent", () =>
    Effect.gen(function*() {
      const model = scripted((n) =>
        n === 1 ? reply("", [{ id: "c1", name: "echo", arguments: deep(6_000) }]) : reply("done")
      )
      const A = LlmAgent.make({ name: "n", model: "fast", llm: model.llm, tools: [echo], memory: "none" })
      const agents = yield* LlmAgents.make({ agents: [A] })
      const answer = yield* agents.ask("n:1", "go")
      expect(answer).toMatchObject({ text: "done", steps: 2, toolCalls: 1 })
    }).pipe(Effect.scoped))
})
