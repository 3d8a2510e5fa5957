/**
 * Budgets from issued keys at the gateway (`GatewayKeyAuth` with `budgets`): a key's budget is set on `Budgets`, every
 * call of the key is charged to its budget scope (and its cost tagged with the key), an over-budget key is refused
 * with a 402, a rotation never resets the spend, and a budget store failure is a 503, never a pass.
 */
import { Context, Effect, Exit, Layer, Option, Redacted, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Troupe } from "../../src/app/index.ts"
import type { BudgetsShape } from "../../src/budget/index.ts"
import { Budgets, BudgetStoreError } from "../../src/budget/index.ts"
import { Costs } from "../../src/costs/index.ts"
import { Gateway } from "../../src/gateway/index.ts"
import type { KeysShape } from "../../src/identity/index.ts"
import { GatewayKeyAuth, Keys, KeyStore } from "../../src/identity/index.ts"
import { post } from "../gateway/support.ts"
import { PEPPER } from "./support.ts"

const keys: KeysShape = Effect.runSync(Keys.make({ pepper: PEPPER }).pipe(Effect.provide(KeyStore.layerMemory())))
const principal = { kind: "user" as const, id: "alice", tenant: "acme" }

const gatewayOver = (budgets: (real: BudgetsShape) => BudgetsShape) =>
  Layer.unwrap(
    Effect.map(Effect.service(Budgets), (real) =>
      Gateway.layer({ port: 0, auth: GatewayKeyAuth.layer({ keys, budgets: budgets(real) }) }))
  ).pipe(
    Layer.provideMerge(Troupe.layerTest({ budgets: true, costs: true }))
  )

const chat = (url: string, key: string, content = "hi") =>
  post(`${url}/v1/chat/completions`, { model: "fast", messages: [{ role: "user", content }] }, {
    authorization: `Bearer ${key}`
  })

let scope: Scope.Closeable
let url = ""
let budgets: BudgetsShape
let costs: Costs["Service"]

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(gatewayOver((real) => real), scope))
  url = Context.get(context, Gateway).address.url
  budgets = Context.get(context, Budgets)
  costs = Context.get(context, Costs)
})
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

const issue = (budget?: { readonly limitUsd: number; readonly period: "day" | "month" | "total" }) =>
  Effect.runPromise(
    keys.create({ principal, name: "budgeted", scopes: ["gateway:use"], ...(budget ? { budget } : {}) })
  )

/** Spends `usd` on `scope` at once (a reservation of nothing settled at `usd`: an overcharge is charged in full). */
const spend = (scope: string, usd: number) =>
  Effect.runPromise(Effect.flatMap(budgets.reserve({ scopes: [scope], amount: 0 }), (r) => budgets.settle(r, usd)))

describe("budgets from issued keys", () => {
  it("budgets from issued keys: a key's budget is set on Budgets and every call of the key is charged to its budget scope", async () => {
    const created = await issue({ limitUsd: 0.5, period: "day" })
    const response = await chat(url, Redacted.value(created.key))
    expect(response.status).toBe(200)
    const status = Option.getOrThrow(await Effect.runPromise(budgets.get(`key:${created.id}`)))
    expect([status.limit, status.period, status.reserved]).toEqual([0.5, "day", 0])
    const byKey = await Effect.runPromise(costs.stats({ period: "day", where: { key: created.id } }))
    expect(byKey.count).toBe(1)
  })

  it("budgets from issued keys: an over-budget key is refused with a 402 naming its scope", async () => {
    const created = await issue({ limitUsd: 0.5, period: "month" })
    const key = Redacted.value(created.key)
    expect((await chat(url, key)).status).toBe(200)
    await spend(`key:${created.id}`, 0.75)
    const refused = await chat(url, key, "again")
    expect(refused.status).toBe(402)
    const body = await refused.json()
    expect(body.error.code).toBe("budget_exceeded")
    expect(JSON.stringify(body)).toContain(`key:${created.id}`)
    expect(JSON.stringify(body)).not.toContain(key)
  })

  it("a rotation never resets the spend: the successor is charged to the same budget scope", async () => {
    const created = await issue({ limitUsd: 1, period: "total" })
    expect((await chat(url, Redacted.value(created.key))).status).toBe(200)
    await spend(`key:${created.id}`, 2)
    const successor = await Effect.runPromise(keys.rotate("acme", created.id, { grace: "1 minute" }))
    const validated = await Effect.runPromise(keys.validate(successor.key))
    expect(validated.budgetScope).toBe(`key:${created.id}`)
    expect((await chat(url, Redacted.value(successor.key), "rotated")).status).toBe(402)
  })

  it("budgets from issued keys: a key without a budget is still charged to its scope (a budget set later applies)", async () => {
    const created = await issue()
    const key = Redacted.value(created.key)
    expect((await chat(url, key)).status).toBe(200)
    await Effect.runPromise(budgets.set({ scope: `key:${created.id}`, limit: 0.1, period: "day" }))
    await spend(`key:${created.id}`, 0.2)
    expect((await chat(url, key, "later")).status).toBe(402)
  })

  it("budgets from issued keys: a budget store failure is a 503, never a pass", async () => {
    const local = Effect.runSync(Scope.make())
    const failing = (real: BudgetsShape): BudgetsShape => ({
      ...real,
      set: () => Effect.fail(new BudgetStoreError({ operation: "set", detail: "connection refused" }))
    })
    try {
      const context = await Effect.runPromise(Layer.buildWithScope(gatewayOver(failing), local))
      const base = Context.get(context, Gateway).address.url
      const created = await issue({ limitUsd: 1, period: "day" })
      const response = await chat(base, Redacted.value(created.key))
      expect(response.status).toBe(503)
      expect((await response.json()).error.code).toBe("unavailable")
    } finally {
      await Effect.runPromise(Scope.close(local, Exit.void))
    }
  })
})
