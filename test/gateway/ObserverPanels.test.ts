/**
 * The observer's snapshot panels over a gateway with every optional service (request queues, budgets, supervised LLM
 * agents, an audit log): queues, budgets, agents with their current step, the LLM history per provider and model,
 * and the audit of every admin action (restart, stop, maintenance on and off).
 */
import { Context, Effect, Exit, Layer, Schema, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Action, Tool } from "../../src/agent/index.ts"
import { Troupe } from "../../src/app/index.ts"
import { Gateway, GatewayAgents } from "../../src/gateway/index.ts"
import type { AuditShape } from "../../src/identity/Audit.ts"
import { Audit, AuditStore } from "../../src/identity/index.ts"
import { ScriptedProvider } from "../../src/llm/index.ts"
import { LlmAgent, LlmAgents } from "../../src/llmagent/index.ts"
import { readSse } from "./support.ts"

const admin = { authorization: "Bearer panels-secret" }
const json = { ...admin, "content-type": "application/json" }

// a tool the test holds open, so a turn stays in its tool phase while the snapshot is read
let release: () => void = () => {}
const gate = () =>
  new Promise<void>((resolve) => {
    release = resolve
  })
let held = gate()
const Wait = Action.make({
  name: "wait",
  description: "Waits for the test",
  params: Schema.Struct({}),
  output: Schema.String,
  timeout: "1 minute",
  retries: 0,
  run: () => Effect.as(Effect.promise(() => held), "released")
})
const provider = ScriptedProvider.makeUnsafe({
  rules: [
    { when: { lastUser: "wait" }, reply: { toolCalls: [{ name: "wait", arguments: {} }] } },
    { when: { tool: "wait" }, reply: { text: "done waiting" } }
  ]
})
const Waiter = LlmAgent.make({
  name: "waiter",
  model: "fast",
  llm: provider,
  memory: "none",
  tools: [Tool.fromAction(Wait)]
})

let url = ""
let audit: AuditShape
let scope: Scope.Closeable

beforeAll(async () => {
  audit = await Effect.runPromise(Audit.make.pipe(Effect.provide(AuditStore.layerMemory())))
  scope = Effect.runSync(Scope.make())
  const layer = GatewayAgents.withAgents({ port: 0, access: { audit } }).pipe(
    Layer.provide(LlmAgents.layer({ agents: [Waiter], default: "waiter" })),
    Layer.provide(Troupe.layerTest({
      budgets: true,
      queues: { default: { capacity: 100 } },
      config: { defaults: { gateway: { auth: { adminKey: "panels-secret" } } } }
    }))
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  url = Context.get(context, Gateway).address.url
})
afterAll(async () => {
  release()
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

interface Snapshot {
  readonly stats: {
    readonly queues: ReadonlyArray<{ route: string; depth: number; inFlight: number }> | null
    readonly budgets: ReadonlyArray<{ scope: string; limit: number; spent: number; used: number }> | null
    readonly agents:
      | ReadonlyArray<{ id: string; state: string; step: number | null; phase: string | null; tools: Array<string> }>
      | null
  }
  readonly llm: ReadonlyArray<{
    provider: string
    model: string
    calls: number
    p50Ms: number | null
    p95Ms: number | null
    tokens: number
    points: ReadonlyArray<{ t: number; calls: number }>
  }>
}

/** Reads `/admin/events` snapshots until one satisfies `until` (or 5 seconds pass). */
const snapshotWhere = async (until: (s: Snapshot) => boolean): Promise<Snapshot> => {
  let last: Snapshot | undefined
  const found = await readSse(`${url}/admin/events?interval=100&filter=troupe.none`, admin, (f) => {
    if (f.event !== "snapshot") return false
    last = f.data as Snapshot // a snapshot frame's data is a Snapshot
    return until(last)
  })
  if (!found || last === undefined) throw new Error(`no snapshot matched; the last: ${JSON.stringify(last)}`)
  return last
}

describe("observer panels", () => {
  it(
    "a snapshot has the request queues, the budgets, the agents with their current step and the LLM history per provider and model",
    async () => {
      expect(
        (await fetch(`${url}/costs/budget`, {
          method: "POST",
          headers: json,
          body: JSON.stringify({ scope: "tenant:panels", limit: 10, period: "month" })
        })).status
      ).toBe(200)
      const chat = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hello" }] })
      })
      expect(chat.status).toBe(200)
      // a turn held in its tool: the agent is running, at step 1, running `wait`
      const turn = fetch(`${url}/v1/agents/waiter-1/turns`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ input: "wait" })
      })
      const snap = await snapshotWhere((s) =>
        s.stats.agents?.some((a) => a.id === "waiter-1" && a.phase === "tools") === true && s.llm.length > 0
      )
      expect(snap.stats.agents?.find((a) => a.id === "waiter-1")).toMatchObject({
        state: "running",
        step: 1,
        phase: "tools",
        tools: ["wait"]
      })
      expect(snap.stats.budgets).toContainEqual(expect.objectContaining({ scope: "tenant:panels", limit: 10 }))
      expect(snap.stats.queues?.length).toBeGreaterThan(0)
      expect(snap.stats.queues?.[0]).toMatchObject({ depth: 0 })
      const series = snap.llm.find((s) => s.provider === "scripted")
      expect(series).toBeDefined()
      expect(series!.calls).toBeGreaterThanOrEqual(1)
      expect(series!.p50Ms).not.toBeNull()
      expect(series!.points.length).toBeGreaterThanOrEqual(1)
      release()
      expect((await turn).status).toBe(200)
      const idle = await snapshotWhere((s) =>
        s.stats.agents?.some((a) => a.id === "waiter-1" && a.state === "idle") === true
      )
      expect(idle.stats.agents?.find((a) => a.id === "waiter-1")?.step).toBeNull()
      held = gate()
    },
    20_000
  )

  it("every admin action is audited: restart, stop and the maintenance toggle are audit entries with the caller, a refused one as a failure", async () => {
    const path = encodeURIComponent("ratelimiter/sweeper")
    expect((await fetch(`${url}/admin/supervision/${path}/restart`, { method: "POST", headers: admin })).status).toBe(
      200
    )
    expect((await fetch(`${url}/admin/supervision/${path}/stop`, { method: "POST", headers: admin })).status).toBe(200)
    expect((await fetch(`${url}/admin/supervision/${path}/restart`, { method: "POST", headers: admin })).status).toBe(
      200
    )
    // refused: an unknown child (404) and the gateway's own server (409)
    expect((await fetch(`${url}/admin/supervision/nope%2Fmissing/restart`, { method: "POST", headers: admin })).status)
      .toBe(404)
    expect(
      (await fetch(`${url}/admin/supervision/gateway%2Fhttp-server/stop`, { method: "POST", headers: admin })).status
    ).toBe(409)
    for (const enabled of [true, false]) {
      const r = await fetch(`${url}/admin/maintenance`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ enabled })
      })
      expect(r.status).toBe(200)
    }
    const entries = await Effect.runPromise(audit.query({ tenant: "_", limit: 100 }))
    const admins = entries.filter((e) => e.action.startsWith("admin."))
    expect(admins.map((e) => [e.action, e.resource, e.status, e.actor, e.metadata?.["outcome"]])).toEqual([
      ["admin.restart", "ratelimiter/sweeper", "success", "admin", "killed"],
      ["admin.stop", "ratelimiter/sweeper", "success", "admin", "stopped"],
      ["admin.restart", "ratelimiter/sweeper", "success", "admin", "restarted"],
      ["admin.restart", "nope/missing", "failure", "admin", "refused (404)"],
      ["admin.stop", "gateway/http-server", "failure", "admin", "refused (409)"],
      ["admin.maintenance.on", "maintenance", "success", "admin", "on"],
      ["admin.maintenance.off", "maintenance", "success", "admin", "off"]
    ])
    expect(admins.every((e) => e.ip !== undefined)).toBe(true)
  })

  it("an event filter of more than three segments still delivers the admin action events", async () => {
    let sent = false
    const seen = await readSse(`${url}/admin/events?filter=troupe.gateway.admin.action`, admin, async (f) => {
      if (f.event === "telemetry") return (f.data as { name: string }).name === "troupe.gateway.admin.action" // a telemetry frame
      if (!sent && f.event === "snapshot") {
        sent = true
        await fetch(`${url}/admin/maintenance`, {
          method: "POST",
          headers: json,
          body: JSON.stringify({ enabled: false })
        })
      }
      return false
    })
    expect(seen).toBe(true)
  })
})
