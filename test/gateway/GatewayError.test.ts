import { describe, expect, it } from "@effect/vitest"
import { BudgetExceeded, BudgetStoreError } from "../../src/budget/index.ts"
import { fromFailure } from "../../src/gateway/index.ts"
import { QueueFull, Shed } from "../../src/queue/index.ts"

describe("gateway errors for budgets", () => {
  it("a budget that cannot hold the call is 402 budget_exceeded, naming the scope, its limit, spend and reservations", () => {
    const e = fromFailure(
      new BudgetExceeded({ scope: "tenant:acme", limit: 10, spent: 9.5, reserved: 0.4, requested: 0.2 })
    )
    expect(e.status).toBe(402)
    expect(e.code).toBe("budget_exceeded")
    expect(e.description).toContain("tenant:acme")
    expect(e.description).toContain("limit $10.00")
    expect(e.description).toContain("spent $9.50")
  })

  it("the budget store down is 503 with retry-after", () => {
    const e = fromFailure(new BudgetStoreError({ operation: "reserve", detail: "ECONNREFUSED" }))
    expect(e.status).toBe(503)
    expect(e.retryAfterSeconds).toBe(1)
  })
})

describe("gateway errors for queues", () => {
  it("a full request queue (QueueFull) or a request shed from it (Shed) is 503 queue_full / request_shed with retry-after", () => {
    const full = fromFailure(new QueueFull({ queue: "openai", capacity: 10, retryAfterMillis: 2500 }))
    expect(full.status).toBe(503)
    expect(full.code).toBe("queue_full")
    expect(full.retryAfterSeconds).toBe(3)
    const shed = fromFailure(new Shed({ queue: "openai", reason: "deadline", retryAfterMillis: 1000 }))
    expect(shed.status).toBe(503)
    expect(shed.code).toBe("request_shed")
    expect(shed.retryAfterSeconds).toBe(1)
  })
})
