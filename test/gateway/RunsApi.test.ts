/**
 * The durable-run admin endpoints through real HTTP: behind the admin credential, `GET /admin/runs/{id}` is one run's
 * journal (steps in order, outcome), 404 for an unknown id; `GET /admin/runs` lists recent runs; without a
 * `RunJournal` both answer 501; fuzzed queries never cause a 5xx.
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Troupe } from "../../src/app/index.ts"
import { Gateway } from "../../src/gateway/index.ts"
import { RunJournal } from "../../src/llmagent/index.ts"

const admin = { authorization: "Bearer runs-secret" }
const troupe = () =>
  Troupe.layerTest({
    pipeline: { retry: false },
    config: { defaults: { gateway: { auth: { adminKey: "runs-secret" } } } }
  })
let url = ""
let bare = ""
let journal: RunJournal["Service"]
let scope: Scope.Closeable

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  const withJournal = Gateway.layer({ port: 0 }).pipe(
    Layer.provideMerge(RunJournal.layerMemory()),
    Layer.provide(troupe())
  )
  const context = await Effect.runPromise(Layer.buildWithScope(withJournal, scope))
  url = Context.get(context, Gateway).address.url
  journal = Context.get(context, RunJournal)
  const without = await Effect.runPromise(
    Layer.buildWithScope(Gateway.layer({ port: 0 }).pipe(Layer.provide(troupe())), scope)
  )
  bare = Context.get(without, Gateway).address.url
  await Effect.runPromise(Effect.gen(function*() {
    for (const [i, agent] of ["shop", "shop", "help"].entries()) {
      yield* journal.start({
        runId: `run-${i}`,
        agent,
        agentId: `${agent}:${i}`,
        workflow: `wf-${agent}`,
        executionId: `e${i}`,
        input: `task ${i}`,
        startedAt: 1_000 + i
      })
    }
    yield* journal.step("run-0", {
      seq: 1,
      name: "model/1",
      kind: "model",
      value: { text: "", toolCalls: [{ id: "c1", name: "charge", arguments: {} }] }
    })
    yield* journal.step("run-0", {
      seq: 2,
      name: "tool/1/c1",
      kind: "tool",
      value: { _tag: "ToolSuccess", id: "c1", name: "charge", output: "ok" }
    })
    yield* journal.step("run-0", { seq: 3, name: "model/2", kind: "model", value: { text: "refunded", toolCalls: [] } })
    yield* journal.finish("run-0", "answered", { text: "refunded", runId: "run-0" })
  }))
})
afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

describe("runs admin API", () => {
  it("the run endpoints refuse a request without the admin credential", async () => {
    expect((await fetch(`${url}/admin/runs`)).status).toBe(401)
    expect((await fetch(`${url}/admin/runs/run-0`)).status).toBe(401)
  })

  it("GET /admin/runs/{id} is the run's journal: its steps in order and its outcome; 404 for an unknown run", async () => {
    const res = await fetch(`${url}/admin/runs/run-0`, { headers: admin })
    expect(res.status).toBe(200)
    const run = await res.json()
    expect(run).toMatchObject({
      runId: "run-0",
      agent: "shop",
      agentId: "shop:0",
      outcome: "answered",
      input: "task 0",
      stepCount: 3
    })
    expect(run.steps.map((s: { name: string }) => s.name)).toStrictEqual(["model/1", "tool/1/c1", "model/2"])
    expect(run.result).toStrictEqual({ text: "refunded", runId: "run-0" })
    const missing = await fetch(`${url}/admin/runs/nope`, { headers: admin })
    expect(missing.status).toBe(404)
    expect((await missing.json()).error.type).toBe("not_found_error")
  })

  it("GET /admin/runs lists the most recent runs first, of one agent or agent id, at most limit", async () => {
    const all = await (await fetch(`${url}/admin/runs`, { headers: admin })).json()
    expect(all.runs.map((r: { runId: string }) => r.runId)).toStrictEqual(["run-2", "run-1", "run-0"])
    expect(all.runs[0].steps).toBeUndefined()
    const shop = await (await fetch(`${url}/admin/runs?agent=shop&limit=1`, { headers: admin })).json()
    expect(shop.runs.map((r: { runId: string }) => r.runId)).toStrictEqual(["run-1"])
    const one = await (await fetch(`${url}/admin/runs?agentId=shop:0`, { headers: admin })).json()
    expect(one.runs.map((r: { runId: string }) => r.runId)).toStrictEqual(["run-0"])
    expect((await fetch(`${url}/admin/runs?limit=0`, { headers: admin })).status).toBe(400)
  })

  it("without a RunJournal both routes answer 501 not_configured", async () => {
    for (const path of ["/admin/runs", "/admin/runs/run-0"]) {
      const res = await fetch(`${bare}${path}`, { headers: admin })
      expect(res.status).toBe(501)
      expect((await res.json()).error.code).toBe("not_configured")
    }
  })

  it("fuzz: any run id or query string gets a 2xx or 4xx, never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), fc.string(), async (id, agent, limit) => {
        const a = await fetch(`${url}/admin/runs/${encodeURIComponent(id)}`, { headers: admin })
        expect(a.status).toBeLessThan(500)
        const q = new URLSearchParams({ agent, limit }).toString()
        const b = await fetch(`${url}/admin/runs?${q}`, { headers: admin })
        expect(b.status).toBeLessThan(500)
      }),
      { numRuns: 40 }
    )
  })
})
