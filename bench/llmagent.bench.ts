/**
 * Supervised LLM agent benchmarks (scripted zero-latency model, so the figures are the machinery's own cost):
 * - `agent.turn`: one `LlmAgents.ask` turn (mailbox, turn fiber, loop, conversation memory, answer), interleaved
 *   with its baseline `agent.loop-run`, a bare `AgentLoop.run` of the same turn with the same memory in the caller's
 *   fiber (target ratio ≤ 1.2).
 * - `agent.idle-bytes`: heap bytes per idle agent after 10,000 concurrent conversations have each answered one turn
 *   (conversation memory off, so the figure is the agent process, not its stored messages), beside
 *   `floor.registered-actor-idle-bytes`: 10,000 idle plain actors registered by name under one DynamicSupervisor,
 *   the least an agent process can be.
 */
import { Effect, Exit, Scope } from "effect"
import { AgentLoop } from "../src/agent/index.ts"
import { ScriptedProvider } from "../src/llm/index.ts"
import { LlmAgent, LlmAgents } from "../src/llmagent/index.ts"
import { ConversationMemory, makeMemory } from "../src/memory/index.ts"
import { Actor, Behaviour, DynamicSupervisor, Registry } from "../src/runtime/index.ts"
import type { BenchRow } from "./harness.ts"
import { bytesPer, timeInterleaved } from "./harness.ts"

const OPS = 200
const CONVERSATIONS = 10_000

const llm = ScriptedProvider.makeUnsafe({ fallback: { text: "ok" } })

const Idle = Behaviour.make<{ readonly call: "ping"; readonly reply: "pong" }>()({
  init: () => Behaviour.ok(null, { hibernate: true }),
  handleCall: (_r, _f, s) => Behaviour.reply("pong" as const, s)
})

const inScope = async <A>(
  effect: Effect.Effect<A, unknown, Scope.Scope>
): Promise<{ readonly value: A; readonly scope: Scope.Closeable }> => {
  const scope = Scope.makeUnsafe()
  const value = await Effect.runPromise(Effect.orDie(Scope.provide(effect, scope)))
  return { value, scope }
}

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const rows: Array<BenchRow> = []

  rows.push(
    ...await timeInterleaved(
      Effect.gen(function*() {
        const memory = yield* makeMemory({ maxMessages: 20 })
        const loop = yield* AgentLoop.make({ llm, model: "fast", memory, agent: "bench" })
        const Bench = LlmAgent.make({ name: "bench", model: "fast", llm, idleTimeout: "infinity" })
        const agents = yield* LlmAgents.make({ agents: [Bench] }).pipe(
          Effect.provideService(ConversationMemory, memory)
        )
        const bare = Effect.gen(function*() {
          for (let i = 0; i < OPS; i++) yield* loop.run({ input: "hello", conversationId: "bare" })
        })
        const turn = Effect.gen(function*() {
          for (let i = 0; i < OPS; i++) yield* agents.ask("bench:1", "hello")
        })
        return [
          {
            id: "agent.loop-run",
            batch: bare,
            ops: OPS,
            note: "bare AgentLoop.run, one step, conversation memory (20 kept), scripted zero-latency model"
          },
          {
            id: "agent.turn",
            batch: turn,
            ops: OPS,
            baseline: "agent.loop-run",
            note: "LlmAgents.ask of the same turn: mailbox, turn fiber, loop, memory, answer (target ≤ 1.2)"
          }
        ]
      }),
      { samples: 15, warmup: 3 }
    )
  )

  rows.push(
    await bytesPer(
      "floor.registered-actor-idle-bytes",
      CONVERSATIONS,
      (n) =>
        inScope(Effect.gen(function*() {
          const registry = yield* Registry.make<string, unknown>({ keys: "unique", name: "bench" })
          const sup = yield* DynamicSupervisor.start({ name: "bench" })
          for (let i = 0; i < n; i++) {
            yield* DynamicSupervisor.startChild(sup, {
              id: `a${i}`,
              restart: "transient",
              start: Actor.start(Idle, undefined, { name: Registry.via(registry, `a:${i}`) })
            })
          }
          return sup
        })),
      async ({ scope }) => Effect.runPromise(Scope.close(scope, Exit.void)),
      {
        note: "10k idle plain actors, hibernated, registered by name under one DynamicSupervisor"
      }
    )
  )

  let answered = 0
  rows.push(
    await bytesPer(
      "agent.idle-bytes",
      CONVERSATIONS,
      (n) =>
        inScope(Effect.gen(function*() {
          const Chat = LlmAgent.make({ name: "chat", model: "fast", llm, memory: "none", idleTimeout: "infinity" })
          const agents = yield* LlmAgents.make({ agents: [Chat], maxLive: n })
          const ids = Array.from({ length: n }, (_, i) => `chat:${i}`)
          const answers = yield* Effect.forEach(ids, (id) => agents.ask(id, "hello"), { concurrency: "unbounded" })
          answered = answers.filter((a) => a.text === "ok").length
          if ((yield* agents.live).length !== n) throw new Error("not every agent is live")
          return agents
        })),
      async ({ scope }) => Effect.runPromise(Scope.close(scope, Exit.void)),
      {
        baseline: "floor.registered-actor-idle-bytes",
        note: "10,000 concurrent conversations, each answered one turn, then idle (hibernated); memory off"
      }
    )
  )
  if (answered !== CONVERSATIONS) throw new Error(`only ${answered} of ${CONVERSATIONS} conversations answered`)
  return rows
}
