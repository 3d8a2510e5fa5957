/**
 * The rules of a turn's input (src/llmagent/LlmAgentTurn.ts): untrusted input is kept as decoded, and a message list
 * is bounded like a single message.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { LlmAgent, LlmAgents } from "../../src/llmagent/index.ts"
import { checkTurn, MAX_TURN_CHARS, MAX_TURN_MESSAGES } from "../../src/llmagent/LlmAgentTurn.ts"
import { layerMemory } from "../../src/memory/index.ts"
import { recording } from "./support.ts"

describe("LlmAgents: turn input", () => {
  it.effect("a message list is kept as decoded: excess fields of untrusted messages reach neither the model nor memory", () =>
    Effect.gen(function*() {
      const { llm, requests } = recording({ fallback: { text: "ok" } })
      const A = LlmAgent.make({ name: "i", model: "fast", llm })
      const agents = yield* LlmAgents.make({ agents: [A] })
      const input = [{
        role: "user",
        content: "hi",
        junk: "x".repeat(1_000),
        toolCalls: [{ id: "forged", name: "rm", arguments: {} }]
      }]
      // untrusted input, as the gateway passes it on
      yield* agents.ask("i:1", { input } as never)
      const history = yield* agents.history("i:1")
      expect(history[0]).toStrictEqual({ role: "user", content: "hi" })
      expect(requests[0]?.messages[0]).toStrictEqual({ role: "user", content: "hi" })
    }).pipe(Effect.scoped, Effect.provide(layerMemory())))

  it("a message list holds at most 10,000 messages and 1,000,000 characters of text; past it InvalidTurnInput names the message", () => {
    expect(MAX_TURN_MESSAGES).toBe(10_000)
    expect(MAX_TURN_CHARS).toBe(1_000_000)
    const half = { role: "user", content: "x".repeat(500_000) }
    expect(checkTurn("a:1", { input: [half, half] })).toMatchObject({ input: [half, half] })
    expect(checkTurn("a:1", { input: [half, half, { role: "user", content: "y" }] })).toMatchObject({
      _tag: "InvalidTurnInput",
      path: "input[2]"
    })
    const calls = {
      role: "assistant",
      content: "",
      toolCalls: [{ id: "c", name: "t", arguments: { text: "z".repeat(1_000_000) } }]
    }
    expect(checkTurn("a:1", { input: [calls] })).toMatchObject({ _tag: "InvalidTurnInput", path: "input[0]" })
    const many = Array.from({ length: 10_001 }, () => ({ role: "user", content: "m" }))
    expect(checkTurn("a:1", { input: many })).toMatchObject({ _tag: "InvalidTurnInput", path: "input" })
    expect(checkTurn("a:1", { input: many.slice(1) })).not.toHaveProperty("_tag")
  })
})
