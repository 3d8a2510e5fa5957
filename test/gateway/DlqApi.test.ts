/**
 * The dead-letter admin endpoints over a gateway whose context holds a memory `DeadLetters`: list (filter),
 * stats, inspect, redrive (one, a filter, all; with a rate) and purge, behind the admin key.
 */
import { Context, Effect, Exit, Layer, Metric, Scope } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Troupe } from "../../src/app/index.ts"
import type { DeadLettersShape } from "../../src/dlq/index.ts"
import { DeadLetters } from "../../src/dlq/index.ts"
import { Gateway } from "../../src/gateway/index.ts"
import { post } from "./support.ts"

const admin = { authorization: "Bearer dlq-secret" }
let url = ""
let dlq: DeadLettersShape
let scope: Scope.Closeable
const redriven: Array<string> = []

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  const dlqLayer = DeadLetters.layerMemory({ redrive: (l) => Effect.sync(() => redriven.push(l.id)) })
  const layer = Gateway.layer({ port: 0 }).pipe(
    Layer.provideMerge(dlqLayer),
    Layer.provide(
      Troupe.layerTest({
        pipeline: { retry: false },
        config: { defaults: { gateway: { auth: { adminKey: "dlq-secret" } } } }
      })
    )
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  url = Context.get(context, Gateway).address.url
  dlq = Context.get(context, DeadLetters)
})
afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

const seed = (n: number, source: string) =>
  Effect.runPromise(
    Effect.forEach(
      Array.from({ length: n }, (_, i) => i),
      (i) =>
        dlq.record({
          id: `${source}-${i}`,
          kind: "request",
          source,
          input: { i },
          error: new Error("boom"),
          attempts: 3
        })
    )
  )

describe("dead-letter admin API", () => {
  it("the dlq routes refuse a request without the admin key", async () => {
    expect((await fetch(`${url}/admin/dlq`)).status).toBe(401)
  })

  it("list (filter), inspect one, redrive one, a filter and all with a rate, purge", async () => {
    await seed(2, "fast")
    await seed(1, "slow")
    const all = await (await fetch(`${url}/admin/dlq`, { headers: admin })).json()
    expect(all.letters.length).toBe(3)
    const slow = await (await fetch(`${url}/admin/dlq?source=slow`, { headers: admin })).json()
    expect(slow.letters.map((l: { id: string }) => l.id)).toEqual(["slow-0"])
    const one = await (await fetch(`${url}/admin/dlq/fast-0`, { headers: admin })).json()
    expect(one).toMatchObject({ id: "fast-0", attempts: 3, status: "dead", error: { tag: "Error", message: "boom" } })
    expect((await fetch(`${url}/admin/dlq/nope`, { headers: admin })).status).toBe(404)
    const r1 = await (await post(`${url}/admin/dlq/redrive`, { id: "fast-0" }, admin)).json()
    expect(r1.outcomes).toEqual([{ id: "fast-0", result: "redriven" }])
    const again = await (await post(`${url}/admin/dlq/redrive`, { id: "fast-0" }, admin)).json()
    expect(again.outcomes).toEqual([{ id: "fast-0", result: "skipped" }])
    const byFilter =
      await (await post(`${url}/admin/dlq/redrive`, { filter: { source: "slow" }, ratePerSecond: 1000 }, admin)).json()
    expect(byFilter.outcomes).toEqual([{ id: "slow-0", result: "redriven" }])
    const rest = await (await post(`${url}/admin/dlq/redrive`, { all: true, ratePerSecond: 1000 }, admin)).json()
    expect(rest.outcomes).toEqual([{ id: "fast-1", result: "redriven" }])
    expect(redriven).toEqual(["fast-0", "slow-0", "fast-1"])
    const purged = await (await fetch(`${url}/admin/dlq?source=fast`, { method: "DELETE", headers: admin })).json()
    expect(purged.purged).toBe(2)
    const purgedAll = await (await fetch(`${url}/admin/dlq?all=true`, { method: "DELETE", headers: admin })).json()
    expect(purgedAll.purged).toBe(1)
  })

  it("stats: depth, oldest age, by kind and status after records, redrive and purge; the gauges agree", async () => {
    const stats = async () => {
      const r = await fetch(`${url}/admin/dlq/stats`, { headers: admin })
      expect(r.status).toBe(200)
      return r.json()
    }
    expect((await fetch(`${url}/admin/dlq/stats`)).status).toBe(401)
    expect(await stats()).toEqual({
      depth: 0,
      oldestAgeSeconds: 0,
      total: 0,
      byKind: { request: 0, turn: 0 },
      byStatus: { dead: 0, redriving: 0, redriven: 0 }
    })
    await seed(2, "age")
    await Effect.runPromise(
      dlq.record({ id: "turn-0", kind: "turn", source: "agent", input: {}, error: new Error("x"), attempts: 1 })
    )
    const oldest = await Effect.runPromise(dlq.inspect("age-0"))
    await new Promise((r) => {
      setTimeout(r, 30)
    })
    const before = Date.now()
    const seeded = await stats()
    const after = Date.now()
    expect(seeded).toMatchObject({
      depth: 3,
      total: 3,
      byKind: { request: 2, turn: 1 },
      byStatus: { dead: 3, redriving: 0, redriven: 0 }
    })
    expect(seeded.oldestAgeSeconds).toBeGreaterThanOrEqual((before - oldest.deadAt) / 1000)
    expect(seeded.oldestAgeSeconds).toBeLessThanOrEqual((after - oldest.deadAt) / 1000)
    const gauge = (id: string) =>
      Effect.runPromise(Effect.map(Metric.snapshot, (all) => {
        const found = all.find((m) => m.id === id && m.attributes?.["queue"] === "default")
        return found === undefined ? undefined : (found.state as { readonly value: number }).value // a gauge's state
      }))
    expect(await gauge("troupe_dlq_depth")).toBe(3)
    expect(await gauge("troupe_dlq_oldest_age_seconds")).toBe(seeded.oldestAgeSeconds)
    await post(`${url}/admin/dlq/redrive`, { id: "age-0" }, admin)
    const redrivenOne = await stats()
    expect(redrivenOne).toMatchObject({ depth: 2, total: 3, byKind: { request: 1, turn: 1 } })
    expect(redrivenOne.byStatus).toEqual({ dead: 2, redriving: 0, redriven: 1 })
    expect(await gauge("troupe_dlq_depth")).toBe(2)
    await fetch(`${url}/admin/dlq?all=true`, { method: "DELETE", headers: admin })
    expect(await stats()).toMatchObject({ depth: 0, oldestAgeSeconds: 0, total: 0 })
    expect(await gauge("troupe_dlq_oldest_age_seconds")).toBe(0)
  })

  it("an unknown query parameter or body field is a 400 naming it: DELETE /admin/dlq?id=a purges nothing, a redrive with ids at the top level redrives nothing", async () => {
    await seed(3, "strict")
    redriven.length = 0
    const bad = async (res: Response, param: string) => {
      expect(res.status).toBe(400)
      const body = await res.json()
      expect(body.error).toMatchObject({ type: "invalid_request_error" })
      expect(body.error.param).toBe(param)
    }
    await bad(await fetch(`${url}/admin/dlq?id=strict-0`, { method: "DELETE", headers: admin }), "query.id")
    await bad(await fetch(`${url}/admin/dlq?source=strict&limit=5&bogus=1`, { headers: admin }), "query.bogus")
    await bad(await post(`${url}/admin/dlq/redrive`, { ids: ["strict-0"], ratePerSecond: 1000 }, admin), "ids")
    const nested = await post(`${url}/admin/dlq/redrive`, { filter: { source: "strict", sorce: "x" } }, admin)
    await bad(nested, "filter.sorce")
    expect(redriven).toEqual([])
    expect((await Effect.runPromise(dlq.list({ source: "strict" }))).length).toBe(3)
    expect(await Effect.runPromise(dlq.purge({ source: "strict" }))).toBe(3)
  })

  it("an empty filter purges or redrives every letter only with all true: without it the answer is a 400, and all beside a filter or an id is a 400 too", async () => {
    await seed(2, "every")
    redriven.length = 0
    const refused = [
      await fetch(`${url}/admin/dlq`, { method: "DELETE", headers: admin }),
      await fetch(`${url}/admin/dlq?all=true&source=every`, { method: "DELETE", headers: admin }),
      await post(`${url}/admin/dlq/redrive`, {}, admin),
      await post(`${url}/admin/dlq/redrive`, { filter: {}, ratePerSecond: 1000 }, admin),
      await post(`${url}/admin/dlq/redrive`, { all: true, filter: { source: "every" } }, admin),
      await post(`${url}/admin/dlq/redrive`, { all: true, id: "every-0" }, admin)
    ]
    expect(refused.map((r) => r.status)).toEqual([400, 400, 400, 400, 400, 400])
    for (const r of refused) expect((await r.json()).error.param).toBe("all")
    const both = await post(`${url}/admin/dlq/redrive`, { id: "every-0", filter: { source: "every" } }, admin)
    expect({ status: both.status, param: (await both.json()).error.param }).toEqual({ status: 400, param: "filter" })
    expect(redriven).toEqual([])
    expect((await Effect.runPromise(dlq.list())).length).toBe(2)
    const all = await (await post(`${url}/admin/dlq/redrive`, { all: true, ratePerSecond: 1000 }, admin)).json()
    expect(all.outcomes).toEqual([{ id: "every-0", result: "redriven" }, { id: "every-1", result: "redriven" }])
    const purged = await (await fetch(`${url}/admin/dlq?all=true`, { method: "DELETE", headers: admin })).json()
    expect(purged).toEqual({ purged: 2 })
  })

  it("fuzz: arbitrary redrive bodies and list queries answer 2xx or 4xx, never 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.anything(), fc.string(), async (body, q) => {
        const r = await post(
          `${url}/admin/dlq/redrive`,
          body === undefined ? "{}" : JSON.stringify(body) ?? "{}",
          admin
        )
        const l = await fetch(`${url}/admin/dlq?status=${encodeURIComponent(q)}`, { headers: admin })
        return r.status < 500 && l.status < 500
      }),
      { numRuns: 50 }
    )
  })
})
