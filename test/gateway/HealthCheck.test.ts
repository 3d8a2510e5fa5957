import { it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect } from "vitest"
import { HealthCheck } from "../../src/gateway/index.ts"

describe("HealthCheck: cached readiness checks with timeouts", () => {
  it.effect("a result is cached for cacheTtl, and probes arriving during a run wait for it (never pile up)", () =>
    Effect.gen(function*() {
      let runs = 0
      const slow: HealthCheck.HealthCheck = {
        name: "slow",
        run: Effect.sleep("100 millis").pipe(Effect.tap(() => Effect.sync(() => runs++)))
      }
      const registry = new HealthCheck.HealthRegistry([slow], { timeoutMillis: 1_000, cacheTtlMillis: 5_000 })
      const probes = yield* Effect.forkChild(
        Effect.all([registry.report, registry.report, registry.report], { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("100 millis")
      const results = yield* Fiber.join(probes)
      expect(runs).toBe(1)
      expect(results.flat().map((r) => r.status)).toEqual(["up", "up", "up"])
      yield* TestClock.adjust("4 seconds")
      yield* registry.report
      expect(runs).toBe(1) // still cached
      yield* TestClock.adjust("2 seconds")
      const again = yield* Effect.forkChild(registry.report)
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(again)
      expect(runs).toBe(2)
    }))

  it.effect("a check that exceeds the timeout is down with its latency and last error", () =>
    Effect.gen(function*() {
      const hang: HealthCheck.HealthCheck = { name: "hang", run: Effect.never }
      const failing: HealthCheck.HealthCheck = {
        name: "failing",
        run: Effect.fail(new Error("connection refused")),
        critical: false
      }
      const registry = new HealthCheck.HealthRegistry([hang, failing], { timeoutMillis: 250, cacheTtlMillis: 0 })
      const fiber = yield* Effect.forkChild(registry.report)
      yield* TestClock.adjust("250 millis")
      const [h, f] = yield* Fiber.join(fiber)
      expect(h).toMatchObject({
        name: "hang",
        status: "down",
        critical: true,
        latencyMs: 250,
        lastError: "timed out after 250 ms"
      })
      expect(f).toMatchObject({ name: "failing", status: "down", critical: false, lastError: "connection refused" })
    }))

  it.live("redisPing and tcp probe real servers (down for a closed port)", () =>
    Effect.gen(function*() {
      const registry = new HealthCheck.HealthRegistry([
        HealthCheck.redisPing(process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"),
        HealthCheck.tcp("postgres", process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"),
        HealthCheck.tcp("closed", "tcp://127.0.0.1:1")
      ], { timeoutMillis: 1_000, cacheTtlMillis: 0 })
      const [redis, postgres, closed] = yield* registry.report
      expect(closed?.status).toBe("down")
      if (process.env["CI"] === "true") {
        expect(redis?.status).toBe("up")
        expect(postgres?.status).toBe("up")
      }
    }))
})
