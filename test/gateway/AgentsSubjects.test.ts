/**
 * The agent routes link the caller's principal to the agent's conversation (AgentRoutes, issue 13 §4): with a
 * `SubjectIndex` in the context, a turn from an issued key's caller links first; a turn whose link cannot be made is
 * refused with 503 (`subject_index_full`) before anything is stored.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { Troupe } from "../../src/app/index.ts"
import { AdminAuth, ApiAuth, Caller } from "../../src/gateway/GatewayAuth.ts"
import { Gateway, GatewayAgents } from "../../src/gateway/index.ts"
import { SubjectIndex, type SubjectIndexShape } from "../../src/identity/SubjectIndex.ts"
import { ScriptedProvider } from "../../src/llm/index.ts"
import { LlmAgent, LlmAgents } from "../../src/llmagent/index.ts"
import { post } from "./support.ts"

const Talker = LlmAgent.make({
  name: "talker",
  model: "fast",
  llm: ScriptedProvider.makeUnsafe({ rules: [{ when: "always", reply: { text: "noted" } }] }),
  memory: "conversation"
})

// every request is an issued key's caller: principal `zed` of tenant `acme`
const asZed = Layer.succeedContext(
  Context.make(
    ApiAuth,
    ApiAuth.of({
      bearer: (effect) =>
        Effect.provideService(effect, Caller, { id: "key:zed", admin: false, tenant: "acme", principal: "zed" })
    })
  ).pipe(
    Context.add(
      AdminAuth,
      AdminAuth.of({ bearer: (effect) => effect as never /* the admin routes are not used here */ })
    )
  )
)

const stops: Array<() => Promise<void>> = []
const start = async (index: SubjectIndexShape) => {
  const scope = Effect.runSync(Scope.make())
  const layer = GatewayAgents.withAgents({ port: 0, auth: asZed }).pipe(
    Layer.provide(LlmAgents.layer({ agents: [Talker], default: "talker" })),
    Layer.provide(Layer.succeed(SubjectIndex, index)),
    Layer.provide(Troupe.layerTest())
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  stops.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  return Context.get(context, Gateway).address.url
}
afterAll(async () => {
  for (const stop of stops) await stop()
})

describe("agent routes: a turn links the caller's principal to the agent's conversation", () => {
  it("a turn from an issued key's caller links its principal to the conversation under the agent id", async () => {
    const index = SubjectIndex.makeMemory(10)
    const url = await start(index)
    const res = await post(`${url}/v1/agents/talker:notes/turns`, { input: "remember this" })
    expect(res.status).toBe(200)
    expect(await Effect.runPromise(index.refs("acme", "zed", "memory"))).toEqual(["talker:notes"])
  })

  it("a turn whose link cannot be made is refused with 503 subject_index_full before anything is stored", async () => {
    const index = SubjectIndex.makeMemory(0)
    const url = await start(index)
    const res = await post(`${url}/v1/agents/talker:full/turns`, { input: "remember this" })
    expect(res.status).toBe(503)
    expect(JSON.stringify(await res.json())).toContain("subject_index_full")
  })
})
