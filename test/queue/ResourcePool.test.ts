import { assert, describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { ResourcePool } from "../../src/queue/index.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"

const failureTag = <A, E>(exit: Exit.Exit<A, E>): string | undefined =>
  Exit.isFailure(exit)
    ? (exit.cause.reasons.find((r) => r._tag === "Fail") as { error: { _tag: string } } | undefined)?.error._tag
    : undefined

const settle = Effect.repeat(Effect.yieldNow, { times: 50 })

// items are numbered by creation; `released` records what was closed
const counter = () => {
  let next = 0
  const released: Array<number> = []
  const acquire = Effect.acquireRelease(Effect.sync(() => next++), (n) => Effect.sync(() => void released.push(n)))
  return { acquire, released, made: () => next }
}

describe("ResourcePool", () => {
  it.effect("health check on acquire: an unhealthy item is invalidated and another is taken", () =>
    Effect.scoped(Effect.gen(function*() {
      const c = counter()
      const pool = yield* ResourcePool.make({
        name: "h",
        max: 2,
        acquire: c.acquire,
        healthCheck: (n) => Effect.succeed(n !== 0)
      })
      const item = yield* Effect.scoped(pool.get)
      expect(item).toBe(1)
      expect(c.released).toContain(0)
    })))

  it.effect("health check on acquire: no healthy item after max + 1 tries fails with PoolUnhealthy", () =>
    Effect.scoped(Effect.gen(function*() {
      const c = counter()
      const pool = yield* ResourcePool.make({
        name: "u",
        max: 2,
        acquire: c.acquire,
        healthCheck: () => Effect.succeed(false)
      })
      expect(failureTag(yield* Effect.exit(Effect.scoped(pool.get)))).toBe("PoolUnhealthy")
    })))

  it.effect("health check on idle: idle items are checked every idleCheckInterval and the unhealthy invalidated", () =>
    Effect.scoped(Effect.gen(function*() {
      const c = counter()
      let sick = false
      const pool = yield* ResourcePool.make({
        name: "i",
        min: 1,
        max: 1,
        idleCheckInterval: "1 second",
        acquire: c.acquire,
        healthCheck: () => Effect.succeed(!sick)
      })
      yield* Effect.scoped(pool.get)
      sick = true
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(c.released).toContain(0)
    })))

  it.effect("health check on idle: a check that never answers is cut at healthCheckTimeout (default acquireTimeout, else idleCheckInterval), its item invalidated, and the other items are still checked", () =>
    Effect.scoped(Effect.gen(function*() {
      // three pools: an explicit healthCheckTimeout, the acquireTimeout default, the idleCheckInterval default
      const variants = [
        { name: "hang-explicit", healthCheckTimeout: "200 millis" },
        { name: "hang-acquire", acquireTimeout: "500 millis" },
        { name: "hang-interval" }
      ] as const
      const runs = []
      const sicks: Array<Set<number>> = []
      for (const variant of variants) {
        const c = counter()
        const sick = new Set<number>()
        sicks.push(sick)
        yield* ResourcePool.make({
          ...variant,
          min: 2,
          max: 2,
          idleCheckInterval: "1 second",
          acquire: c.acquire,
          // item 0's connection is dead: its ping never answers
          healthCheck: (n) => n === 0 ? Effect.never : Effect.succeed(!sick.has(n))
        })
        yield* settle
        expect(c.made()).toBe(2)
        sick.add(1)
        runs.push(c)
      }
      for (let i = 0; i < 4; i++) {
        yield* TestClock.adjust("1 second")
        yield* settle
      }
      for (const c of runs) {
        // the hung item is dropped, and the check of item 1 (unhealthy) was not held up behind it
        expect(c.released).toContain(0)
        expect(c.released).toContain(1)
        // their replacements (min 2) are checked by the later sweeps
        expect(c.made()).toBe(4)
      }
      for (const s of sicks) s.add(2)
      for (let i = 0; i < 2; i++) {
        yield* TestClock.adjust("1 second")
        yield* settle
      }
      for (const c of runs) expect(c.released).toContain(2)
    })))

  it.effect("at most max items exist at once, under concurrent load with failing health checks", () =>
    Effect.scoped(Effect.gen(function*() {
      let made = 0
      let live = 0
      let peak = 0
      const acquire = Effect.acquireRelease(
        Effect.sync(() => {
          made++
          live++
          peak = Math.max(peak, live)
          return made
        }),
        () => Effect.sync(() => void live--)
      )
      const pool = yield* ResourcePool.make({
        name: "bound",
        max: 3,
        acquire,
        healthCheck: (n) => Effect.succeed(n % 3 !== 0)
      })
      const gate = yield* Deferred.make<void>()
      const fibers = []
      for (let i = 0; i < 10; i++) {
        fibers.push(
          yield* Effect.forkChild(Effect.scoped(Effect.andThen(pool.get, Deferred.await(gate))), {
            startImmediately: true
          })
        )
      }
      yield* settle
      yield* Deferred.succeed(gate, undefined)
      for (const f of fibers) yield* Effect.exit(Fiber.join(f))
      expect(made).toBeGreaterThan(3)
      expect(peak).toBeLessThanOrEqual(3)
    })))

  it.effect("recycling after N uses: an item used maxUses times is invalidated when released", () =>
    Effect.scoped(Effect.gen(function*() {
      const c = counter()
      const pool = yield* ResourcePool.make({ name: "n", max: 1, maxUses: 2, acquire: c.acquire })
      expect(yield* Effect.scoped(pool.get)).toBe(0)
      expect(yield* Effect.scoped(pool.get)).toBe(0)
      expect(yield* Effect.scoped(pool.get)).toBe(1)
      expect(c.released).toEqual([0])
    })))

  it.effect("recycling after an age: an item older than maxAge is never handed out", () =>
    Effect.scoped(Effect.gen(function*() {
      const c = counter()
      const pool = yield* ResourcePool.make({ name: "a", max: 1, maxAge: "10 seconds", acquire: c.acquire })
      expect(yield* Effect.scoped(pool.get)).toBe(0)
      yield* TestClock.adjust("10 seconds")
      expect(yield* Effect.scoped(pool.get)).toBe(1)
      expect(c.released).toContain(0)
    })))

  it.effect("acquire timeout: waiting longer than acquireTimeout fails with PoolTimeout", () =>
    Effect.scoped(Effect.gen(function*() {
      const c = counter()
      const pool = yield* ResourcePool.make({ name: "t", max: 1, acquireTimeout: "500 millis", acquire: c.acquire })
      const gate = yield* Deferred.make<void>()
      yield* Effect.forkChild(Effect.scoped(Effect.andThen(pool.get, Deferred.await(gate))), { startImmediately: true })
      yield* settle
      expect(pool.stats().inUse).toBe(1)
      const waiter = yield* Effect.forkChild(Effect.exit(Effect.scoped(pool.get)), { startImmediately: true })
      yield* TestClock.adjust("500 millis")
      const exit = yield* Fiber.join(waiter)
      expect(failureTag(exit)).toBe("PoolTimeout")
      yield* Deferred.succeed(gate, undefined)
    })))

  it.effect("acquire timeout: a health check that outlasts acquireTimeout fails with PoolTimeout and its item is invalidated", () =>
    Effect.scoped(Effect.gen(function*() {
      const c = counter()
      const pool = yield* ResourcePool.make({
        name: "slow-check",
        max: 1,
        acquireTimeout: "1 second",
        acquire: c.acquire,
        healthCheck: () => Effect.as(Effect.sleep("1 hour"), true) // a ping that never answers in time
      })
      const waiter = yield* Effect.forkChild(Effect.exit(Effect.scoped(pool.get)), { startImmediately: true })
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      const done = waiter.pollUnsafe() !== undefined
      const released = [...c.released]
      const stats = pool.stats()
      yield* TestClock.adjust("2 hours") // a check still running ends, so the test's scope can close
      const exit = yield* Fiber.join(waiter)
      assert.isTrue(done, "still waiting after acquireTimeout")
      expect(failureTag(exit)).toBe("PoolTimeout")
      // the item whose check was cut short is not kept (released, its lease given back: nothing in use)
      expect(released).toEqual([0])
      expect(stats.inUse).toBe(0)
    })))

  it.effect("metrics: troupe_pool_size, troupe_pool_idle, troupe_pool_in_use, troupe_pool_wait_seconds, troupe_pool_timeouts_total in the Prometheus text", () =>
    Effect.scoped(Effect.gen(function*() {
      const c = counter()
      const pool = yield* ResourcePool.make({
        name: "metrics-p",
        max: 1,
        acquireTimeout: "500 millis",
        acquire: c.acquire
      })
      const gate = yield* Deferred.make<void>()
      yield* Effect.forkChild(Effect.scoped(Effect.andThen(pool.get, Deferred.await(gate))), { startImmediately: true })
      yield* settle
      const waiter = yield* Effect.forkChild(Effect.exit(Effect.scoped(pool.get)), { startImmediately: true })
      yield* TestClock.adjust("500 millis")
      expect(failureTag(yield* Fiber.join(waiter))).toBe("PoolTimeout")
      const text = yield* (yield* TelemetryHub).prometheus()
      expect(text).toContain(`troupe_pool_size{pool="metrics-p"} 1`)
      expect(text).toContain(`troupe_pool_in_use{pool="metrics-p"} 1`)
      expect(text).toContain(`troupe_pool_idle{pool="metrics-p"} 0`)
      expect(text).toContain(`troupe_pool_timeouts_total{pool="metrics-p"} 1`)
      expect(text).toMatch(/troupe_pool_wait_seconds_count\{pool="metrics-p"\} [1-9]/)
      yield* Deferred.succeed(gate, undefined)
    })).pipe(Effect.provide(TelemetryHub.layer())))

  it.effect("dynamic sizing between min and max by load: grows to max under load, back to min when idle", () =>
    Effect.scoped(Effect.gen(function*() {
      const c = counter()
      const pool = yield* ResourcePool.make({
        name: "d",
        min: 1,
        max: 3,
        idleTimeToLive: "1 second",
        acquire: c.acquire
      })
      const gate = yield* Deferred.make<void>()
      const users = yield* Effect.forkChild(
        Effect.all(Array.from({ length: 5 }, () => Effect.scoped(Effect.andThen(pool.get, Deferred.await(gate)))), {
          concurrency: "unbounded"
        })
      )
      yield* settle
      expect(pool.stats()).toEqual({ size: 3, idle: 0, inUse: 3 })
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(users)
      yield* TestClock.adjust("5 seconds")
      yield* settle
      expect(pool.stats().size).toBe(1)
    })))

  it("fuzz: arbitrary options decode or fail with InvalidOptions, never die", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything(),
          fc.record({
            name: fc.oneof(fc.string(), fc.anything()),
            min: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.anything()),
            max: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.anything()),
            maxUses: fc.anything(),
            maxAge: fc.oneof(fc.nat(), fc.anything()),
            acquireTimeout: fc.anything(),
            idleCheckInterval: fc.anything(),
            idleTimeToLive: fc.anything()
          }, { requiredKeys: [] })
        ),
        async (input) => {
          const options: object = typeof input === "object" && input !== null ? input : {}
          // untrusted options on purpose: the cast feeds arbitrary values to the decoder
          const exit = await Effect.runPromise(
            Effect.exit(Effect.scoped(ResourcePool.make({ ...options, acquire: Effect.succeed(1) } as never)))
          )
          if (Exit.isFailure(exit)) expect(failureTag(exit)).toBe("InvalidOptions")
        }
      ),
      { numRuns: 500 }
    )
  })
})
