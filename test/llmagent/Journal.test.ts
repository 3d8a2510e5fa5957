import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Schema } from "effect"
import { Workflow, WorkflowEngine } from "effect/workflow"
import * as fc from "fast-check"
import { Journal } from "../../src/llmagent/index.ts"

const counts = { model: 0, tool: 0, idem: 0 }
const reset = () => {
  counts.model = 0
  counts.tool = 0
  counts.idem = 0
}

const Run = Workflow.make("JournalTestRun", {
  payload: { runId: Schema.String, steps: Schema.Int },
  success: Schema.Array(Schema.String),
  error: Schema.Union([Journal.ToolOutcomeUnknown, Journal.LedgerFull]),
  idempotencyKey: (p) => p.runId
})

const RunLive = Run.toLayer(Effect.fn(function*({ runId, steps }) {
  const out: Array<string> = []
  for (let i = 1; i <= steps; i++) {
    out.push(
      yield* Journal.model({
        step: `${i}`,
        success: Schema.String,
        call: Effect.sync(() => `answer-${i}-${++counts.model}`)
      })
    )
    out.push(
      yield* Journal.tool({
        step: `${i}`,
        tool: "send-mail",
        key: `${runId}/${i}`,
        idempotent: false,
        success: Schema.String,
        run: Effect.sync(() => `sent-${i}-${++counts.tool}`)
      })
    )
    out.push(
      yield* Journal.tool({
        step: `${i}-lookup`,
        tool: "lookup",
        key: `${runId}/${i}-lookup`,
        idempotent: true,
        success: Schema.String,
        run: Effect.sync(() => `found-${i}-${++counts.idem}`)
      })
    )
  }
  return out
}))

const layer = (capacity?: number) =>
  RunLive.pipe(
    Layer.provideMerge(WorkflowEngine.layerMemory),
    Layer.provideMerge(Journal.ToolLedger.layerMemory(capacity === undefined ? undefined : { capacity }))
  )

describe("Journal: every model response and every tool result is journaled before the next step", () => {
  it.effect("answered model calls are not repeated and not paid twice when the run is executed again", () =>
    Effect.gen(function*() {
      reset()
      const first = yield* Run.execute({ runId: "r1", steps: 3 })
      expect(first).toHaveLength(9)
      expect(counts).toStrictEqual({ model: 3, tool: 3, idem: 3 })
      const again = yield* Run.execute({ runId: "r1", steps: 3 })
      expect(again).toStrictEqual(first)
      expect(counts).toStrictEqual({ model: 3, tool: 3, idem: 3 })
    }).pipe(Effect.provide(layer())))

  it.effect("a non-idempotent tool whose result was not journaled is reported as ToolOutcomeUnknown, not re-run", () =>
    Effect.gen(function*() {
      reset()
      const ledger = yield* Journal.ToolLedger
      // a previous incarnation claimed the key and died before the journal write
      assert.isTrue(yield* ledger.claim("r2/2"))
      const exit = yield* Effect.exit(Run.execute({ runId: "r2", steps: 3 }))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(Run.execute({ runId: "r2", steps: 3 }))
      expect(error).toMatchObject({ _tag: "ToolOutcomeUnknown", step: "2", tool: "send-mail", key: "r2/2" })
      // step 1 ran once, step 2's model call ran, its tool did not run; the replay repeated nothing
      expect(counts).toStrictEqual({ model: 2, tool: 1, idem: 1 })
    }).pipe(Effect.provide(layer())))

  it.effect("a tool call runs at most once per idempotency key across runs", () =>
    Effect.gen(function*() {
      reset()
      yield* Run.execute({ runId: "r3", steps: 1 })
      const ledger = yield* Journal.ToolLedger
      assert.isFalse(yield* ledger.claim("r3/1"))
      expect(counts.tool).toBe(1)
    }).pipe(Effect.provide(layer())))

  it.effect("the ledger is bounded: at capacity a claim fails LedgerFull rather than forgetting a key", () =>
    Effect.gen(function*() {
      const ledger = yield* Journal.ToolLedger
      assert.isTrue(yield* ledger.claim("a"))
      assert.isTrue(yield* ledger.claim("b"))
      const full = yield* Effect.flip(ledger.claim("c"))
      expect(full).toMatchObject({ _tag: "LedgerFull", capacity: 2 })
      assert.isFalse(yield* ledger.claim("a"))
      expect(yield* ledger.size).toBe(2)
      expect(Journal.DEFAULT_LEDGER_CAPACITY).toBe(100_000)
    }).pipe(Effect.provide(Journal.ToolLedger.layerMemory({ capacity: 2 }))))

  it.effect("fuzz: any claim sequence — a key is claimed true exactly once, never beyond capacity", () =>
    Effect.gen(function*() {
      const samples = fc.sample(fc.array(fc.string({ maxLength: 4 }), { maxLength: 40 }), 50)
      for (const keys of samples) {
        const results = yield* Effect.forEach(
          keys,
          (k) => Effect.flatMap(Journal.ToolLedger, (l) => Effect.result(l.claim(k)))
        ).pipe(
          Effect.provide(Journal.ToolLedger.layerMemory({ capacity: 8 }))
        )
        const firsts = new Set<string>()
        results.forEach((r, i) => {
          if (r._tag === "Success" && r.success) {
            expect(firsts.has(keys[i]!)).toBe(false)
            firsts.add(keys[i]!)
          }
        })
        expect(firsts.size).toBeLessThanOrEqual(8)
      }
    }))
})

const FuzzRun = Workflow.make("JournalFuzzRun", {
  payload: { runId: Schema.String, plan: Schema.Array(Schema.Boolean) },
  success: Schema.Array(Schema.String),
  error: Schema.Union([Journal.ToolOutcomeUnknown, Journal.LedgerFull]),
  idempotencyKey: (p) => p.runId
})
const fuzzRuns = new Map<string, number>()
const FuzzLive = FuzzRun.toLayer(Effect.fn(function*({ runId, plan }) {
  const out: Array<string> = []
  for (const [i, idempotent] of plan.entries()) {
    out.push(
      yield* Journal.tool({
        step: `${i}`,
        tool: "t",
        key: `${runId}/${i}`,
        idempotent,
        success: Schema.String,
        run: Effect.sync(() => {
          fuzzRuns.set(`${runId}/${i}`, (fuzzRuns.get(`${runId}/${i}`) ?? 0) + 1)
          return `${i}`
        })
      })
    )
  }
  return out
}))

describe("Journal fuzz", () => {
  it.effect("fuzz: any plan of idempotent and non-idempotent tools, executed twice: each tool runs once, the replay is equal", () =>
    Effect.gen(function*() {
      const plans = fc.sample(fc.array(fc.boolean(), { maxLength: 12 }), 30)
      for (const [n, plan] of plans.entries()) {
        const first = yield* FuzzRun.execute({ runId: `f${n}`, plan })
        const again = yield* FuzzRun.execute({ runId: `f${n}`, plan })
        expect(again).toStrictEqual(first)
        expect(first).toHaveLength(plan.length)
        plan.forEach((_, i) => expect(fuzzRuns.get(`f${n}/${i}`)).toBe(1))
      }
    }).pipe(Effect.provide(FuzzLive.pipe(
      Layer.provideMerge(WorkflowEngine.layerMemory),
      Layer.provideMerge(Journal.ToolLedger.layerMemory())
    ))))
})
