/**
 * The dead-letter admin endpoints over a gateway whose context holds a memory `DeadLetters`: list (filter),
 * inspect, redrive (one, a filter, all; with a rate) and purge, behind the admin key.
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
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
    const rest = await (await post(`${url}/admin/dlq/redrive`, { ratePerSecond: 1000 }, admin)).json()
    expect(rest.outcomes).toEqual([{ id: "fast-1", result: "redriven" }])
    expect(redriven).toEqual(["fast-0", "slow-0", "fast-1"])
    const purged = await (await fetch(`${url}/admin/dlq?source=fast`, { method: "DELETE", headers: admin })).json()
    expect(purged.purged).toBe(2)
    const purgedAll = await (await fetch(`${url}/admin/dlq`, { method: "DELETE", headers: admin })).json()
    expect(purgedAll.purged).toBe(1)
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
