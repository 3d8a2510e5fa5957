import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { Tokenizer } from "../../src/llm/index.ts"
import { LlmAgent, LlmAgents } from "../../src/llmagent/index.ts"
import { layerMemory } from "../../src/memory/index.ts"
import { type TelemetryEvent, TelemetryHub } from "../../src/telemetry/index.ts"
import { lastUser, recording, settle } from "./support.ts"

describe("LlmAgents: output Schema with repairs", () => {
  const Verdict = Schema.Struct({ verdict: Schema.Literals(["yes", "no"]), score: Schema.Finite })

  it.effect("the answer is decoded with the output Schema (native json_schema mode); a decode failure is sent back for repair", () =>
    Effect.gen(function*() {
      let calls = 0
      const { llm, requests } = recording({
        fallback: () => {
          calls++
          return {
            text: calls === 1 ? `{"verdict":"maybe","score":1}` : "```json\n{\"verdict\":\"yes\",\"score\":0.9}\n```"
          }
        }
      })
      const Judge = LlmAgent.make({ name: "judge", model: "fast", llm, output: Verdict, instructions: "Judge." })
      const agents = yield* LlmAgents.make({ agents: [Judge] })
      const answer = yield* agents.ask("judge:1", "is it good?")
      expect(answer.output).toStrictEqual({ verdict: "yes", score: 0.9 })
      expect(answer.repairs).toBe(1)
      expect(answer.steps).toBe(2)
      // the JSON Schema is in the system prompt; the repair names the bad path
      expect(requests[0]?.messages[0]?.content).toContain("\"verdict\"")
      // the native mode: OpenAI's strict json_schema on every call
      expect(requests[0]?.responseFormat).toMatchObject({ type: "json", name: "output", strict: true })
      expect(lastUser(requests[1]!)).toContain("at verdict")
    }).pipe(Effect.scoped, Effect.provide(layerMemory())))

  it.effect("still undecodable after the repairs: InvalidAgentOutput with the path", () =>
    Effect.gen(function*() {
      const { llm, requests } = recording({ fallback: { text: `{"verdict":"yes","score":"high"}` } })
      const Judge = LlmAgent.make({ name: "judge", model: "fast", llm, output: Verdict, repairs: 2, memory: "none" })
      const agents = yield* LlmAgents.make({ agents: [Judge] })
      const error = yield* Effect.flip(agents.ask("judge:1", "is it good?"))
      expect(error).toMatchObject({ _tag: "InvalidAgentOutput", path: "score", repairs: 2 })
      expect(requests.length).toBe(3)
      // without memory, the repair resends the turn so far
      expect(requests[2]?.messages.map((m) => m.role)).toStrictEqual([
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user"
      ])
    }).pipe(Effect.scoped))
})

describe("LlmAgents: sub-agents as tools", () => {
  it.effect(
    "a sub-agent runs as a child of its parent, with its own conversation, and stops with it",
    () =>
      Effect.gen(function*() {
        const child = recording({ fallback: (req) => ({ text: `researched: ${lastUser(req)}` }) })
        const parent = recording({
          rules: [
            {
              when: { lastUser: "find" },
              reply: { toolCalls: [{ name: "researcher", arguments: { task: "facts about owls" } }] }
            },
            { when: { tool: "researcher" }, reply: (req) => ({ text: `summary of ${req.messages.at(-1)?.content}` }) }
          ]
        })
        const Researcher = LlmAgent.make({ name: "researcher", model: "fast", llm: child.llm })
        const Lead = LlmAgent.make({
          name: "lead",
          model: "fast",
          llm: parent.llm,
          tools: [LlmAgent.asTool(Researcher)]
        })
        const agents = yield* LlmAgents.make({ agents: [Lead] })
        const answer = yield* agents.ask("lead:1", "find owls")
        expect(answer.text).toBe(`summary of researched: facts about owls`)
        expect(answer.toolCalls).toBe(1)
        const childStatus = yield* agents.status("lead:1/researcher")
        expect(childStatus).toMatchObject({ alive: true, turns: 1 })
        // the child's conversation is kept under its own id; only its parent starts it
        expect((yield* agents.history("lead:1/researcher")).map((m) => m.content)).toStrictEqual([
          "facts about owls",
          "researched: facts about owls"
        ])
        expect((yield* Effect.flip(agents.ask("lead:2/researcher", "hi")))._tag).toBe("UnknownAgentKind")
        yield* agents.stop("lead:1")
        yield* settle
        expect((yield* agents.status("lead:1/researcher")).alive).toBe(false)
      }).pipe(Effect.scoped, Effect.provide(layerMemory())),
    { timeout: 10_000 }
  )
})

describe("LlmAgents: telemetry", () => {
  it.effect("turn started/finished/failed events carry agent, steps, tool calls, tokens, cost, duration; metrics in Prometheus", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const seen: Array<TelemetryEvent> = []
      yield* hub.attach("turns", [["troupe", "agent", "turn"]], (e) => {
        seen.push(e)
      })
      const { llm } = recording({ latency: "2 seconds", die: /crash/ })
      const Echo = LlmAgent.make({ name: "echo", model: "openai:gpt-4o-mini", llm, memory: "none" })
      const agents = yield* LlmAgents.make({ agents: [Echo] })
      const fiber = yield* Effect.forkChild(agents.ask("echo:1", "hello"), { startImmediately: true })
      yield* TestClock.adjust("2 seconds")
      const answer = yield* Fiber.join(fiber)
      expect(answer.costUsd).toBeGreaterThan(0)
      expect(answer.durationMillis).toBe(2000)
      yield* Effect.flip(agents.ask("echo:1", "crash"))
      const names = seen.map((e) => e.name.join("."))
      expect(names).toStrictEqual([
        "troupe.agent.turn.start",
        "troupe.agent.turn.stop",
        "troupe.agent.turn.start",
        "troupe.agent.turn.exception"
      ])
      expect(seen[1]?.metadata).toMatchObject({
        agent: "echo",
        agent_id: "echo:1",
        mode: "ask",
        stop_reason: "answered"
      })
      expect(seen[1]?.measurements).toMatchObject({
        steps: 1,
        tool_calls: 0,
        total_tokens: answer.usage.totalTokens,
        cost: answer.costUsd
      })
      // the estimate and the actual usage are both recorded: on the answer and on the turn's stop event
      expect(answer.estimatedInputTokens).toBe(
        Tokenizer.charEstimate.countRequest({
          model: "openai:gpt-4o-mini",
          messages: [{ role: "user", content: "hello" }]
        })
      )
      expect(seen[1]?.measurements).toMatchObject({
        input_tokens: answer.usage.inputTokens,
        estimated_input_tokens: answer.estimatedInputTokens
      })
      expect(seen[3]?.metadata).toMatchObject({ kind: "defect", agent: "echo" })
      const text = yield* hub.prometheus()
      expect(text).toMatch(/troupe_agent_turns_total\{[^}]*agent="echo"[^}]*\} 1/)
      expect(text).toMatch(/troupe_agent_turn_exceptions_total\{[^}]*kind="defect"[^}]*\} 1/)
      expect(text).toContain("troupe_agent_turn_duration_seconds")
      expect(text).not.toContain("echo:1") // agent ids never become metric labels
    }).pipe(Effect.scoped, Effect.provide(TelemetryHub.layer())))
})

describe("LlmAgents: untrusted input (fuzz)", () => {
  it.effect("any id and any input: a typed error or an answer, never a crash of the service", () =>
    Effect.gen(function*() {
      const { llm } = recording()
      const A = LlmAgent.make({ name: "a", model: "fast", llm, memory: "none" })
      const agents = yield* LlmAgents.make({ agents: [A], default: "a", maxLive: 50 })
      const samples = fc.sample(
        fc.tuple(
          fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom("", "a:1", "\u0000x", "x".repeat(300))),
          fc.oneof(fc.anything(), fc.string(), fc.record({ input: fc.anything(), maxSteps: fc.anything() }))
        ),
        { numRuns: 200, seed: 12 }
      )
      for (const [id, input] of samples) {
        const exit = yield* Effect.exit(agents.ask(id, input as never))
        if (exit._tag === "Failure") {
          const error = exit.cause.reasons[0]
          expect(error?._tag).toBe("Fail")
          const tag = error?._tag === "Fail" ? (error.error as { _tag: string })._tag : ""
          expect(["InvalidAgentId", "InvalidTurnInput"]).toContain(tag)
        }
      }
      expect((yield* agents.live).length).toBeLessThanOrEqual(50)
      expect((yield* agents.ask("a:1", "still fine")).steps).toBe(1)
    }).pipe(Effect.scoped))
})
