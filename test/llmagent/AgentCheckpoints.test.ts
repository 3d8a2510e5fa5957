import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Checkpoints, LlmAgent, LlmAgents } from "../../src/llmagent/index.ts"
import { ConversationMemory, layerMemory } from "../../src/memory/index.ts"
import { lastUser, recording, settle } from "./support.ts"

describe("LlmAgents checkpoints: the agent's state is saved after each turn and the latest restored on start", () => {
  it.effect("each answered turn saves { turns, messages, runId }; an agent whose memory is empty gets its conversation back from the latest checkpoint", () =>
    Effect.gen(function*() {
      const { llm, requests } = recording({ fallback: (req) => ({ text: `echo ${lastUser(req)}` }) })
      const Echo = LlmAgent.make({ name: "echo", model: "fast", llm })
      const checkpoints = yield* Checkpoints
      // first life: two turns
      yield* Effect.scoped(Effect.gen(function*() {
        const agents = yield* LlmAgents.make({ agents: [Echo] })
        yield* agents.ask("echo:1", "one")
        yield* agents.ask("echo:1", "two")
        yield* settle
      })).pipe(Effect.provide(layerMemory()))
      const saved = yield* checkpoints.list("echo:1")
      expect(saved.map((c) => (c.state as { turns: number }).turns)).toStrictEqual([2, 1])
      expect((saved[0]?.state as { messages: ReadonlyArray<unknown> }).messages).toHaveLength(4)
      // second life: a fresh (empty) memory; the conversation comes back from the checkpoint
      yield* Effect.scoped(Effect.gen(function*() {
        const agents = yield* LlmAgents.make({ agents: [Echo] })
        const status = yield* agents.ensureStarted("echo:1")
        expect(status.historyAtStart).toBe(4)
        yield* agents.ask("echo:1", "three")
        expect(requests.at(-1)?.messages.map((m) => m.content)).toStrictEqual([
          "one",
          "echo one",
          "two",
          "echo two",
          "three"
        ])
        expect((yield* ConversationMemory.use((m) => m.messages("echo:1"))).length).toBe(6)
        yield* settle
      })).pipe(Effect.provide(layerMemory()))
      expect((Option.getOrThrow(yield* checkpoints.latest("echo:1")).state as { turns: number }).turns).toBe(3)
      // the retention of the store applies
      expect(yield* checkpoints.list("echo:1")).toHaveLength(2)
    }).pipe(Effect.provide(Checkpoints.layerMemory({ keep: 2 }))))

  it.effect("a checkpoint of another shape restores nothing (the agent starts with its memory as it is)", () =>
    Effect.gen(function*() {
      const { llm } = recording({ fallback: { text: "ok" } })
      const Echo = LlmAgent.make({ name: "echo", model: "fast", llm })
      yield* Checkpoints.use((c) => c.save("echo:2", { something: "else" }))
      const agents = yield* LlmAgents.make({ agents: [Echo] })
      expect((yield* agents.ensureStarted("echo:2")).historyAtStart).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(Checkpoints.layerMemory(), layerMemory()))))
})
