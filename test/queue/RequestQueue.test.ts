import { assert, describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, References } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { RequestQueue } from "../../src/queue/index.ts"
import { type Entry, FairQueue } from "../../src/queue/internal/FairQueue.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"

const failureTag = <A, E>(exit: Exit.Exit<A, E>): string | undefined =>
  Exit.isFailure(exit)
    ? (exit.cause.reasons.find((r) => r._tag === "Fail") as { error: { _tag: string } } | undefined)?.error._tag
    : undefined

// fills the queue's only slot with a blocker, returns the gate that frees it
const block = (q: RequestQueue.RequestQueue) =>
  Effect.gen(function*() {
    const gate = yield* Deferred.make<void>()
    const fiber = yield* Effect.forkChild(q.run(Deferred.await(gate)), { startImmediately: true })
    return { gate, fiber }
  })

describe("RequestQueue", () => {
  it.effect("concurrency per queue: at most `concurrency` requests run at once", () =>
    Effect.gen(function*() {
      const q = yield* RequestQueue.make({ name: "c", concurrency: 2 })
      let running = 0
      let peak = 0
      const job = Effect.gen(function*() {
        running++
        peak = Math.max(peak, running)
        yield* Effect.sleep("10 millis")
        running--
      })
      const fiber = yield* Effect.forkChild(
        Effect.all(Array.from({ length: 6 }, () => q.run(job)), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(fiber)
      expect(peak).toBe(2)
    }))

  it.effect("strict priority: critical before high before normal before low", () =>
    Effect.gen(function*() {
      const q = yield* RequestQueue.make({ name: "p", concurrency: 1 })
      const { gate } = yield* block(q)
      const order: Array<string> = []
      const fibers = []
      for (const p of ["low", "normal", "high", "critical"] as const) {
        fibers.push(
          yield* Effect.forkChild(q.run(Effect.sync(() => order.push(p)), { priority: p }), { startImmediately: true })
        )
      }
      expect(q.depth()).toBe(4)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.joinAll(fibers)
      expect(order).toEqual(["critical", "high", "normal", "low"])
    }))

  it.effect("bounded, reject-newest: the arrival fails with QueueFull", () =>
    Effect.gen(function*() {
      const q = yield* RequestQueue.make({ name: "r", concurrency: 1, capacity: 1 })
      yield* block(q)
      yield* Effect.forkChild(q.run(Effect.void), { startImmediately: true })
      const exit = yield* Effect.exit(q.run(Effect.void))
      expect(failureTag(exit)).toBe("QueueFull")
      expect(q.depth()).toBe(1)
    }))

  it.effect("metrics: troupe_queue_depth, troupe_queue_wait_seconds, troupe_queue_shed_total{reason} in the Prometheus text", () =>
    Effect.gen(function*() {
      const q = yield* RequestQueue.make({ name: "metrics-q", concurrency: 1, capacity: 1 })
      const { gate, fiber } = yield* block(q)
      const waiting = yield* Effect.forkChild(q.run(Effect.void), { startImmediately: true })
      expect(failureTag(yield* Effect.exit(q.run(Effect.void)))).toBe("QueueFull")
      const during = yield* (yield* TelemetryHub).prometheus()
      expect(during).toContain(`troupe_queue_depth{queue="metrics-q"} 1`)
      expect(during).toContain(`troupe_queue_shed_total{queue="metrics-q",reason="full"} 1`)
      yield* TestClock.adjust("2 seconds")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(fiber)
      yield* Fiber.join(waiting)
      const after = yield* (yield* TelemetryHub).prometheus()
      expect(after).toContain(`troupe_queue_depth{queue="metrics-q"} 0`)
      expect(after).toMatch(/troupe_queue_wait_seconds_count\{queue="metrics-q"\} [1-9]/)
      expect(after).toContain("# TYPE troupe_queue_wait_seconds histogram")
    }).pipe(Effect.provide(TelemetryHub.layer())))

  it.effect("drop-lowest-priority: a strictly lower waiting request is shed with Shed priority", () =>
    Effect.gen(function*() {
      const q = yield* RequestQueue.make({ name: "d", concurrency: 1, capacity: 1, overflow: "drop-lowest-priority" })
      const { gate } = yield* block(q)
      const low = yield* Effect.forkChild(Effect.exit(q.run(Effect.void, { priority: "low" })), {
        startImmediately: true
      })
      const high = yield* Effect.forkChild(q.run(Effect.succeed("high"), { priority: "high" }), {
        startImmediately: true
      })
      const lowExit = yield* Fiber.join(low)
      expect(lowExit._tag === "Failure" && String(lowExit.cause)).toContain("priority")
      expect(failureTag(lowExit)).toBe("Shed")
      // an equal priority arrival is refused instead
      expect(failureTag(yield* Effect.exit(q.run(Effect.void, { priority: "high" })))).toBe("QueueFull")
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(high)).toBe("high")
    }))

  it.effect("shed-by-deadline: waiting requests past their deadline are shed to make room", () =>
    Effect.gen(function*() {
      const q = yield* RequestQueue.make({ name: "s", concurrency: 1, capacity: 1, overflow: "shed-by-deadline" })
      yield* block(q)
      const late = yield* Effect.forkChild(Effect.exit(q.run(Effect.void, { deadline: 50 })), {
        startImmediately: true
      })
      expect(failureTag(yield* Effect.exit(q.run(Effect.void)))).toBe("QueueFull")
      yield* TestClock.adjust("60 millis")
      yield* Effect.forkChild(q.run(Effect.void), { startImmediately: true })
      expect(failureTag(yield* Fiber.join(late))).toBe("Shed")
      expect(q.depth()).toBe(1)
    }))

  it.effect("deadlines: a request past its deadline when its turn comes is shed", () =>
    Effect.gen(function*() {
      const q = yield* RequestQueue.make({ name: "dl", concurrency: 1 })
      const { gate } = yield* block(q)
      let ran = false
      const f = yield* Effect.forkChild(Effect.exit(q.run(Effect.sync(() => (ran = true)), { deadline: 100 })), {
        startImmediately: true
      })
      yield* TestClock.adjust("200 millis")
      yield* Deferred.succeed(gate, undefined)
      expect(failureTag(yield* Fiber.join(f))).toBe("Shed")
      expect(ran).toBe(false)
    }))

  it.effect("per-request timeout: a request that waits longer than its timeout fails with Shed timeout", () =>
    Effect.gen(function*() {
      const q = yield* RequestQueue.make({ name: "t", concurrency: 1 })
      yield* block(q)
      const f = yield* Effect.forkChild(Effect.exit(q.run(Effect.void, { timeout: "1 second" })), {
        startImmediately: true
      })
      yield* TestClock.adjust("999 millis")
      expect(q.depth()).toBe(1)
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.join(f)
      expect(failureTag(exit)).toBe("Shed")
      expect(String(exit._tag === "Failure" ? exit.cause : "")).toContain("timeout")
      expect(q.depth()).toBe(0)
    }))

  it.effect("cancellation: an interrupted waiter leaves the queue at once", () =>
    Effect.gen(function*() {
      const q = yield* RequestQueue.make({ name: "i", concurrency: 1 })
      const { gate } = yield* block(q)
      let ran = false
      const f = yield* Effect.forkChild(q.run(Effect.sync(() => (ran = true))), { startImmediately: true })
      expect(q.depth()).toBe(1)
      yield* Fiber.interrupt(f)
      expect(q.depth()).toBe(0)
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.yieldNow
      expect(ran).toBe(false)
      expect(q.inFlight()).toBe(0)
      // the slot is free again
      expect(yield* q.run(Effect.succeed(1))).toBe(1)
    }))

  it.effect("cancellation: a waiter interrupted as its turn comes gives its slot back", () =>
    Effect.gen(function*() {
      // a small scheduler budget (and `pad` steps of work) makes the fiber handing the slot over yield at varying
      // points, so the interrupt lands anywhere between the slot leaving the line and its waiter starting
      const once = (ops: number, pad: number, k: number) =>
        Effect.gen(function*() {
          const q = yield* RequestQueue.make({ name: "handover", concurrency: 1 })
          const gate = yield* Deferred.make<void>()
          const work = Effect.andThen(Deferred.await(gate), Effect.repeat(Effect.void, { times: pad }))
          const fiber = yield* Effect.forkChild(q.run(work), { startImmediately: true })
          const waiter = yield* Effect.forkChild(q.run(Effect.void), { startImmediately: true })
          yield* Deferred.succeed(gate, undefined)
          for (let i = 0; i < k; i++) yield* Effect.yieldNow
          yield* Fiber.interrupt(waiter)
          yield* Fiber.join(fiber)
          yield* Effect.repeat(Effect.yieldNow, { times: 20 })
          // nothing runs and nothing waits: the slot is free again
          const next = yield* Effect.forkChild(q.run(Effect.succeed("next")), { startImmediately: true })
          yield* Effect.repeat(Effect.yieldNow, { times: 20 })
          return { ops, pad, k, inFlight: q.inFlight(), depth: q.depth(), next: next.pollUnsafe() !== undefined }
        }).pipe(Effect.provideService(References.MaxOpsBeforeYield, ops))
      const lost = []
      // (below 3 ops effect's scheduler itself never finishes)
      for (let ops = 3; ops <= 16; ops++) {
        for (let pad = 0; pad < 16; pad++) {
          for (let k = 0; k < 4; k++) {
            const r = yield* once(ops, pad, k)
            if (!r.next || r.inFlight !== 0 || r.depth !== 0) lost.push(r)
          }
        }
      }
      expect(lost).toEqual([])
    }))

  it.effect("cancellation: a waiter interrupted as its timeout fires leaves the queue and troupe_queue_depth at 0", () =>
    Effect.gen(function*() {
      let n = 0
      const once = (ops: number, k: number) =>
        Effect.gen(function*() {
          const name = `timeout-interrupt-${n++}`
          const q = yield* RequestQueue.make({ name, concurrency: 1 })
          const gate = yield* Deferred.make<void>()
          const fiber = yield* Effect.forkChild(q.run(Deferred.await(gate)), { startImmediately: true })
          const waiter = yield* Effect.forkChild(q.run(Effect.void, { timeout: "1 second" }), {
            startImmediately: true
          })
          yield* TestClock.adjust("1 second")
          for (let i = 0; i < k; i++) yield* Effect.yieldNow
          yield* Fiber.interrupt(waiter)
          yield* Deferred.succeed(gate, undefined)
          yield* Fiber.join(fiber)
          const text = yield* (yield* TelemetryHub).prometheus()
          const gauge = text.match(new RegExp(`troupe_queue_depth\\{queue="${name}"\\} (\\d+)`))?.[1]
          return { ops, k, depth: q.depth(), gauge: Number(gauge), inFlight: q.inFlight() }
        }).pipe(Effect.provideService(References.MaxOpsBeforeYield, ops))
      const drift = []
      for (const ops of [3, 5, 6, 7, 8, 10, 12, 16]) {
        for (let k = 0; k < 6; k++) {
          const r = yield* once(ops, k)
          if (r.gauge !== 0 || r.depth !== 0 || r.inFlight !== 0) drift.push(r)
        }
      }
      expect(drift).toEqual([])
    }).pipe(Effect.provide(TelemetryHub.layer())))

  it.effect("options are decoded: InvalidOptions names the path", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(RequestQueue.make({ name: "x", concurrency: 0 }))
      assert.isTrue(Exit.isFailure(exit))
      expect(String(exit._tag === "Failure" ? exit.cause : "")).toContain("concurrency")
      const bad = yield* Effect.exit(RequestQueue.make({ name: "x", weights: { a: -1 } }))
      expect(String(bad._tag === "Failure" ? bad.cause : "")).toContain("weights.a")
    }))

  it("fuzz: arbitrary options decode or fail with InvalidOptions, never die", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything(),
          fc.record({
            name: fc.oneof(fc.string(), fc.anything()),
            concurrency: fc.oneof(fc.integer(), fc.anything()),
            capacity: fc.oneof(fc.integer(), fc.anything()),
            overflow: fc.oneof(
              fc.constantFrom("reject-newest", "drop-lowest-priority", "shed-by-deadline"),
              fc.string()
            ),
            weights: fc.anything(),
            timeout: fc.anything(),
            retryAfter: fc.anything()
          }, { requiredKeys: [] })
        ),
        async (input) => {
          const exit = await Effect.runPromise(Effect.exit(RequestQueue.make(input as never)))
          if (Exit.isFailure(exit)) expect(failureTag(exit)).toBe("InvalidOptions")
        }
      ),
      { numRuns: 1_000 }
    )
  })
})

describe("weighted fair queuing across tenants", () => {
  it("no tenant starves another: while two tenants both wait, services / weight differ by at most 1/w_i + 1/w_j", () => {
    // bursts of arrivals, services, and removals (waiters interrupted, timed out or shed) of any waiting entries
    const op = fc.oneof(
      fc.record({ push: fc.nat(3), n: fc.integer({ min: 1, max: 4 }) }),
      fc.constant({ pop: true as const }),
      fc.record({ remove: fc.nat(), n: fc.integer({ min: 1, max: 4 }) })
    )
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 4, maxLength: 4 }),
        // `size: "max"`: runs of up to 300 operations (the default size keeps arrays short, and the queue shallow)
        fc.array(op, { maxLength: 300, size: "max" }),
        (w, ops) => {
          const q = new FairQueue<number>(1, (t) => w[Number(t)]!)
          const waiting = [0, 0, 0, 0]
          const entries: Array<Entry<number>> = []
          const since: Array<number | undefined> = [undefined, undefined, undefined, undefined]
          const served: Array<number> = []
          const check = () => {
            for (let i = 0; i < 4; i++) {
              for (let j = i + 1; j < 4; j++) {
                const si = since[i]
                const sj = since[j]
                if (si === undefined || sj === undefined) continue
                const from = Math.max(si, sj)
                const part = served.slice(from)
                const ni = part.filter((t) => t === i).length / w[i]!
                const nj = part.filter((t) => t === j).length / w[j]!
                expect(Math.abs(ni - nj)).toBeLessThanOrEqual(1 / w[i]! + 1 / w[j]! + 1e-9)
              }
            }
          }
          const left = (t: number) => {
            waiting[t]!--
            if (waiting[t] === 0) since[t] = undefined
          }
          for (const o of ops) {
            if ("push" in o) {
              for (let k = 0; k < o.n; k++) {
                if (waiting[o.push] === 0) since[o.push] = served.length
                waiting[o.push]!++
                entries.push(q.push(o.push, 0, String(o.push), Infinity))
              }
            } else if ("remove" in o) {
              // the `n` newest waiting entries of the tenant of a random one (its latest tags first)
              const live = entries.filter((e) => e.live)
              const first = live[o.remove % Math.max(1, live.length)]
              if (first === undefined) continue
              const victims = live.filter((e) => e.value === first.value).slice(-o.n)
              for (const e of victims) {
                expect(q.remove(e)).toBe(true)
                left(e.value)
              }
            } else {
              const e = q.pop()
              if (e === undefined) continue
              check()
              served.push(e.value)
              left(e.value)
              check()
            }
          }
          expect(q.size).toBe(waiting.reduce((a, b) => a + b, 0))
        }
      ),
      { numRuns: 500 }
    )
  })

  it.effect("a tenant named like an Object.prototype property (constructor, __proto__, toString) weighs 1 like any other and keeps fair queuing", () =>
    Effect.gen(function*() {
      const q = yield* RequestQueue.make({ name: "tenant-proto", concurrency: 1, weights: { heavy: 2 } })
      // runs one request per tenant, in this arrival order, behind a blocker; the order they are served in
      const round = (tenants: ReadonlyArray<string>) =>
        Effect.gen(function*() {
          const { fiber, gate } = yield* block(q)
          const order: Array<string> = []
          const fibers = []
          for (const t of tenants) {
            fibers.push(
              yield* Effect.forkChild(q.run(Effect.sync(() => order.push(t)), { tenant: t }), {
                startImmediately: true
              })
            )
          }
          yield* Deferred.succeed(gate, undefined)
          yield* Fiber.join(fiber)
          yield* Fiber.joinAll(fibers)
          return order
        })
      for (const odd of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
        yield* round([odd])
        // equal weights, one request each: served in arrival order (a NaN weight would scramble it)
        expect(yield* round(["b", "c", odd, "d", "e"])).toEqual(["b", "c", odd, "d", "e"])
      }
      // an own weight still counts: heavy (2) is served before an equal-arrival tenant of weight 1
      expect(yield* round(["b", "heavy"])).toEqual(["heavy", "b"])
    }))

  it("removal at once: a tenant's removed waiters no longer count against its later requests", () => {
    const q = new FairQueue<string>(1, () => 1)
    // tenant a's 50 waiters leave (interrupted, timed out or shed) before any is served
    const gone = Array.from({ length: 50 }, () => q.push("a", 0, "a", Infinity))
    for (const e of gone) q.remove(e)
    for (let i = 0; i < 50; i++) q.push("b", 0, "b", Infinity)
    q.push("a", 0, "a", Infinity)
    const order: Array<string> = []
    for (let e = q.pop(); e !== undefined; e = q.pop()) order.push(e.value)
    // the WFQ bound with weights 1: at most 1/1 + 1/1 services of b before a's request
    expect(order.indexOf("a")).toBeLessThanOrEqual(2)
  })
})

describe("RequestQueue fuzz", () => {
  it("fuzz: arbitrary tenants, priorities and deadlines through run fail typed or as the documented defect, never hang", async () => {
    const q = await Effect.runPromise(
      RequestQueue.make({ name: "fz", concurrency: 1, capacity: 4, overflow: "drop-lowest-priority" })
    )
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            tenant: fc.string(),
            priority: fc.oneof(fc.constantFrom("critical", "high", "normal", "low"), fc.string()),
            deadline: fc.oneof(fc.double(), fc.constant(Infinity))
          }),
          { maxLength: 10 }
        ),
        async (requests) => {
          const exits = await Effect.runPromise(Effect.all(
            requests.map((r) => Effect.exit(q.run(Effect.yieldNow, r as never))),
            { concurrency: "unbounded" }
          ))
          for (const exit of exits) {
            if (Exit.isSuccess(exit)) continue
            const tag = failureTag(exit)
            if (tag !== undefined) expect(["QueueFull", "Shed"]).toContain(tag)
            else expect(String(exit.cause)).toContain("priority")
          }
          expect(q.depth()).toBe(0)
          expect(q.inFlight()).toBe(0)
        }
      ),
      { numRuns: 300 }
    )
  })
})
