/**
 * `HedgeStep` under `TestClock`: every timing rule of the module doc (fixed delay, percentile delay after enough
 * samples, the initial delay before, no hedge when the primary answers or fails before the delay, the first
 * success wins and the loser is interrupted, the hedging budget and its window), the loser's cost on the `Costs`
 * ledger, the metrics, and a fuzz test of the hedge options (the layer's and the call's).
 */
import { assert, describe, it } from "@effect/vitest"
import type { Duration } from "effect"
import { Effect, Exit, Fiber, Layer, Metric, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { Budgets } from "../../src/budget/index.ts"
import { Costs } from "../../src/costs/index.ts"
import type { LlmProviderShape, LlmRequest } from "../../src/llm/index.ts"
import { ProviderServerError, ScriptedProvider } from "../../src/llm/index.ts"
import type { HedgeStepOptions, LlmCallInput, LlmPipelineOptions } from "../../src/pipeline/index.ts"
import { BudgetStep, decodeLlmCall, HedgeStep, Llm, LlmPipeline } from "../../src/pipeline/index.ts"
import { withPipelineDeps } from "./support.ts"

/** One scripted answer: after `ms` (TestClock), an answer or a failure. */
interface Step {
  readonly ms: number
  readonly fail?: boolean
}

/** A provider whose n-th call (1-based) follows `script(n, request)`; counts started, answered and interrupted calls. */
class TimedProvider {
  started = 0
  answered = 0
  interrupted = 0
  readonly provider: LlmProviderShape
  constructor(name: string, script: (call: number, request: LlmRequest) => Step) {
    const scripted = ScriptedProvider.makeUnsafe({
      name,
      rules: [{ when: "always", reply: (r) => ({ text: `answer from ${name} ${r.model}` }) }]
    })
    this.provider = {
      ...scripted,
      generate: (request, options) =>
        Effect.suspend(() => {
          const step = script(++this.started, request)
          const answer = step.fail === true
            ? Effect.fail(
              new ProviderServerError({ provider: name, status: 500, description: "boom", retryable: true })
            )
            : scripted.generate(request, options)
          return Effect.sleep(step.ms).pipe(
            Effect.andThen(answer),
            Effect.tap(() => Effect.sync(() => this.answered++)),
            Effect.onInterrupt(() => Effect.sync(() => this.interrupted++))
          )
        })
    }
  }
}

const prices = {
  "primary:model-a": { input: 10, output: 20 },
  "primary:model-z": { input: 10, output: 20 },
  "backup:model-b": { input: 1, output: 2 }
}

const ask = (content: string, options?: Record<string, unknown>): LlmCallInput =>
  ({ model: "fast", messages: [{ role: "user", content }], ...(options ? { options } : {}) }) as LlmCallInput

const critical = (content: string, extra: Record<string, unknown> = {}) => ask(content, { hedge: true, ...extra })

// `Llm.layer` over the steps, the HedgeStep and a Costs ledger kept in the output; `fast` falls back to `cheap`
const layerFor = (providers: ReadonlyArray<TimedProvider>, hedge: HedgeStepOptions, options: LlmPipelineOptions = {}) =>
  Llm.layer.pipe(
    Layer.provideMerge(HedgeStep.layer(hedge)),
    Layer.provide(LlmPipeline.layerSteps({
      cache: false,
      retry: { jitter: 0, retries: 0 },
      fallback: { chains: { fast: ["cheap"] } },
      usage: { prices },
      ...options
    })),
    withPipelineDeps(providers.map((p) => p.provider), { extra: Costs.layerMemory() })
  )

const fork = (call: LlmCallInput) =>
  Effect.gen(function*() {
    const llm = yield* Llm
    return yield* Effect.forkChild(llm.generate(call), { startImmediately: true })
  })

/** Runs `n` calls one after another, each answering in its scripted time. */
const sequential = (n: number, call: (i: number) => LlmCallInput, each: Duration.Input) =>
  Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) =>
    Effect.gen(function*() {
      const fiber = yield* fork(call(i))
      yield* TestClock.adjust(each)
      return yield* Fiber.join(fiber)
    }), { discard: true })

const counter = (name: string, model: string, description: string) =>
  Metric.value(Metric.counter(name, { description, attributes: { model }, incremental: true }))
const sentMetric = (model: string) =>
  counter("troupe_hedge_sent_total", model, "Hedged requests sent (attribute: model)")
const wonMetric = (model: string) =>
  counter("troupe_hedge_won_total", model, "Hedged calls the hedge answered (attribute: model)")
const exhaustedMetric = (model: string) =>
  counter(
    "troupe_hedge_budget_exhausted_total",
    model,
    "Hedges not sent because the hedging budget was spent (attribute: model)"
  )

describe("HedgeStep", () => {
  it.effect("a critical call whose primary answers before the delay sends no hedge", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 50 }))
    const backup = new TimedProvider("backup", () => ({ ms: 10 }))
    return Effect.gen(function*() {
      const fiber = yield* fork(critical("q"))
      yield* TestClock.adjust("50 millis")
      const result = yield* Fiber.join(fiber)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(result.meta.model, "model-a")
      assert.isUndefined(result.meta.hedge)
      assert.strictEqual(backup.started, 0)
      assert.strictEqual((yield* HedgeStep).stats().sent, 0)
    }).pipe(Effect.provide(layerFor([primary, backup], { delay: 100, budget: { percent: 100 } })))
  })

  it.effect("after a fixed delay the hedge is sent to the next target of the chain; the first success wins and the primary is interrupted", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 1000 }))
    const backup = new TimedProvider("backup", () => ({ ms: 50 }))
    return Effect.gen(function*() {
      const sentBefore = (yield* sentMetric("primary:model-a")).count
      const wonBefore = (yield* wonMetric("primary:model-a")).count
      const fiber = yield* fork(critical("q", { tenant: "acme" }))
      yield* TestClock.adjust("99 millis")
      assert.strictEqual(backup.started, 0)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(backup.started, 1)
      yield* TestClock.adjust("50 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.meta.model, "model-b")
      assert.strictEqual(result.meta.fallbackIndex, 1)
      assert.strictEqual(result.meta.attempts, 2)
      assert.strictEqual(result.meta.hedge, "won")
      assert.strictEqual(primary.interrupted, 1)
      assert.strictEqual(primary.answered, 0)
      const stats = (yield* HedgeStep).stats()
      assert.deepStrictEqual([stats.sent, stats.won], [1, 1])
      assert.strictEqual((yield* sentMetric("primary:model-a")).count - sentBefore, 1)
      assert.strictEqual((yield* wonMetric("primary:model-a")).count - wonBefore, 1)
    }).pipe(Effect.provide(layerFor([primary, backup], { delay: "100 millis", budget: { percent: 100 } })))
  })

  it.effect("the loser's cost (its estimated input, if interrupted) is recorded on the Costs ledger, tagged as a hedge", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 1000 }))
    const backup = new TimedProvider("backup", () => ({ ms: 50 }))
    return Effect.gen(function*() {
      const fiber = yield* fork(critical("a question of some length", { tenant: "acme" }))
      yield* TestClock.adjust("150 millis")
      const result = yield* Fiber.join(fiber)
      const estimated = result.meta.estimatedInputTokens ?? 0
      assert.isAbove(estimated, 0)
      // the interrupted primary: its estimated input tokens at its input price ($10 per million)
      const loserCost = (estimated * 10) / 1_000_000
      assert.closeTo(result.meta.hedgeCostUsd ?? -1, loserCost, 1e-12)
      const costs = yield* Costs
      const hedged = yield* costs.stats({ period: "day", where: { hedge: "true" }, groupBy: "model" })
      assert.strictEqual(hedged.count, 1)
      assert.closeTo(hedged.groups["primary:model-a"] ?? -1, loserCost, 1e-12)
      const all = yield* costs.stats({ period: "day", groupBy: "hedge", where: { tenant: "acme" } })
      assert.strictEqual(all.count, 2) // the winner's record and the loser's
      assert.closeTo(all.groups["-"] ?? -1, result.meta.costUsd ?? -1, 1e-12)
    }).pipe(Effect.provide(layerFor([primary, backup], { delay: 100, budget: { percent: 100 } })))
  })

  it.effect("the loser's cost is charged to the call's budgets beside the winner's", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 1000 }))
    const backup = new TimedProvider("backup", () => ({ ms: 50 }))
    return Effect.gen(function*() {
      const budgets = yield* Budgets
      yield* budgets.set({ scope: "tenant:acme", limit: 10, period: "month" })
      const fiber = yield* fork(critical("q", { tenant: "acme" }))
      yield* TestClock.adjust("150 millis")
      const result = yield* Fiber.join(fiber)
      const status = yield* budgets.get("tenant:acme")
      assert.isTrue(status._tag === "Some")
      if (status._tag !== "Some") return
      assert.strictEqual(status.value.reserved, 0)
      assert.isAbove(result.meta.hedgeCostUsd ?? 0, 0)
      assert.closeTo(status.value.spent, (result.meta.costUsd ?? 0) + (result.meta.hedgeCostUsd ?? 0), 1e-12)
    }).pipe(Effect.provide(
      LlmPipeline.layerWith({
        cache: false,
        retry: { retries: 0 },
        fallback: { chains: { fast: ["cheap"] } },
        usage: { prices },
        steps: Layer.mergeAll(HedgeStep.layer({ delay: 100, budget: { percent: 100 } }), BudgetStep.layer())
      }).pipe(withPipelineDeps([primary.provider, backup.provider], { extra: Budgets.layerMemory() }))
    ))
  })

  it.effect("the primary answering after the hedge was sent wins and the hedge is interrupted", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 150 }))
    const backup = new TimedProvider("backup", () => ({ ms: 1000 }))
    return Effect.gen(function*() {
      const fiber = yield* fork(critical("q"))
      yield* TestClock.adjust("150 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.meta.model, "model-a")
      assert.strictEqual(result.meta.fallbackIndex, 0)
      assert.strictEqual(result.meta.hedge, "lost")
      assert.strictEqual(backup.started, 1)
      assert.strictEqual(backup.interrupted, 1)
      assert.deepStrictEqual([(yield* HedgeStep).stats().sent, (yield* HedgeStep).stats().won], [1, 0])
    }).pipe(Effect.provide(layerFor([primary, backup], { delay: 100, budget: { percent: 100 } })))
  })

  it.effect("a failure of the primary before the delay does not start a hedge: the fallback chain handles it", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 20, fail: true }))
    const backup = new TimedProvider("backup", () => ({ ms: 30 }))
    return Effect.gen(function*() {
      const fiber = yield* fork(critical("q"))
      yield* TestClock.adjust("20 millis")
      assert.strictEqual(backup.started, 1) // the fallback, at once
      yield* TestClock.adjust("30 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.meta.model, "model-b")
      assert.strictEqual(result.meta.fallbackIndex, 1)
      assert.isUndefined(result.meta.hedge)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(backup.started, 1)
      assert.strictEqual((yield* HedgeStep).stats().sent, 0)
    }).pipe(Effect.provide(layerFor([primary, backup], { delay: 100, budget: { percent: 100 } })))
  })

  it.effect("when one leg fails the other decides: a failed hedge leaves the call to the primary", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 300 }))
    const backup = new TimedProvider("backup", () => ({ ms: 20, fail: true }))
    return Effect.gen(function*() {
      const fiber = yield* fork(critical("q"))
      yield* TestClock.adjust("300 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.meta.model, "model-a")
      assert.strictEqual(result.meta.hedge, "lost")
      assert.strictEqual(primary.interrupted, 0)
    }).pipe(Effect.provide(layerFor([primary, backup], { delay: 100, budget: { percent: 100 } })))
  })

  it.effect("when both legs fail the call falls over with the primary's error, and the hedge target is not asked twice", () => {
    const primary = new TimedProvider(
      "primary",
      (_n, request) => request.model === "model-z" ? { ms: 10 } : { ms: 150, fail: true }
    )
    const backup = new TimedProvider("backup", () => ({ ms: 20, fail: true }))
    return Effect.gen(function*() {
      const fiber = yield* fork(critical("q", { fallbacks: ["cheap", "primary:model-z"] }))
      yield* TestClock.adjust("150 millis")
      yield* TestClock.adjust("10 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.meta.model, "model-z")
      assert.strictEqual(result.meta.fallbackIndex, 2)
      assert.strictEqual(backup.started, 1)
    }).pipe(Effect.provide(layerFor([primary, backup], { delay: 100, budget: { percent: 100 } })))
  })

  it.effect("a percentile delay uses the fixed initial delay until minSamples latencies are known", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 10 }))
    const backup = new TimedProvider("backup", () => ({ ms: 10 }))
    return Effect.gen(function*() {
      const hedge = yield* HedgeStep
      const call = yield* decodeLlmCall(critical("q"))
      const target = {
        provider: "primary",
        route: "primary",
        model: "model-a",
        spec: "primary:model-a",
        requested: "fast",
        defaults: {}
      }
      assert.strictEqual(hedge.delayOf(call, target), 300)
      yield* sequential(4, (i) => ask(`warm ${i}`), "10 millis")
      assert.strictEqual(hedge.delayOf(call, target), 300)
      yield* sequential(1, () => ask("warm 5"), "10 millis")
      assert.strictEqual(hedge.delayOf(call, target), 10)
      assert.isUndefined(hedge.delayOf(yield* decodeLlmCall(ask("not critical")), target))
    }).pipe(Effect.provide(layerFor([primary, backup], { delay: "p95", initialDelay: "300 millis", minSamples: 5 })))
  })

  it.effect("bounded: past maxTargets a target keeps no latency window and uses the initial delay", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 10 }))
    const backup = new TimedProvider("backup", () => ({ ms: 10 }))
    return Effect.gen(function*() {
      const hedge = yield* HedgeStep
      yield* sequential(2, (i) => ask(`a ${i}`), "10 millis")
      yield* sequential(2, (i) => ({ ...ask(`b ${i}`), model: "cheap" }), "10 millis")
      const call = yield* decodeLlmCall(critical("q"))
      const target = (provider: string, model: string) => ({
        provider,
        route: provider,
        model,
        spec: `${provider}:${model}`,
        requested: "fast",
        defaults: {}
      })
      assert.strictEqual(hedge.delayOf(call, target("primary", "model-a")), 10)
      assert.strictEqual(hedge.delayOf(call, target("backup", "model-b")), 300)
    }).pipe(
      Effect.provide(layerFor([primary, backup], { delay: "p50", initialDelay: 300, minSamples: 1, maxTargets: 1 }))
    )
  })

  it.effect("a p95 delay after enough samples: the hedge is sent at the primary's observed p95 latency", () => {
    // calls 1..20 answer in 10, 20, …, 200 ms; call 21 would take 5 seconds
    const primary = new TimedProvider("primary", (n) => ({ ms: n <= 20 ? n * 10 : 5000 }))
    const backup = new TimedProvider("backup", () => ({ ms: 10 }))
    return Effect.gen(function*() {
      yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i + 1), (n) =>
        Effect.gen(function*() {
          const fiber = yield* fork(ask(`warm ${n}`))
          yield* TestClock.adjust(n * 10)
          yield* Fiber.join(fiber)
        }), { discard: true })
      const fiber = yield* fork(critical("slow"))
      // nearest rank of 20 samples: the 19th, 190 ms
      yield* TestClock.adjust("189 millis")
      assert.strictEqual(backup.started, 0)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(backup.started, 1)
      yield* TestClock.adjust("10 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.meta.hedge, "won")
    }).pipe(Effect.provide(layerFor([primary, backup], { minSamples: 20, budget: { percent: 100 } })))
  })

  it.effect("the budget spent, no hedge is sent: the call waits for its primary", () => {
    // 9 quick calls, then slow ones; 10 % of the calls may be hedged
    const primary = new TimedProvider("primary", (n) => ({ ms: n <= 9 ? 10 : 1000 }))
    const backup = new TimedProvider("backup", () => ({ ms: 10 }))
    return Effect.gen(function*() {
      const before = (yield* exhaustedMetric("primary:model-a")).count
      yield* sequential(9, (i) => critical(`quick ${i}`), "10 millis")
      // call 10: 1 hedge allowed (10 % of 10 calls)
      yield* sequential(1, () => critical("slow 1"), "110 millis")
      assert.strictEqual(backup.started, 1)
      // call 11: a second hedge would pass 10 % of 11 calls
      const fiber = yield* fork(critical("slow 2"))
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(backup.started, 1)
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.meta.model, "model-a")
      assert.isUndefined(result.meta.hedge)
      assert.strictEqual((yield* HedgeStep).stats().budgetExhausted, 1)
      assert.strictEqual((yield* exhaustedMetric("primary:model-a")).count - before, 1)
    }).pipe(Effect.provide(layerFor([primary, backup], { delay: 100, budget: { percent: 10, window: "10 seconds" } })))
  })

  it.effect("when the window rolls over, the old hedges drop out and the budget comes back", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 1000 }))
    const backup = new TimedProvider("backup", () => ({ ms: 10 }))
    return Effect.gen(function*() {
      // one hedge per 10-second window (10 buckets of 1 second), whatever the traffic
      yield* sequential(1, () => critical("slow 1"), "110 millis") // hedged at 100 ms
      assert.strictEqual(backup.started, 1)
      yield* sequential(1, () => critical("slow 2"), "1 second") // spent: waits for the primary
      yield* TestClock.setTime(9_400)
      yield* sequential(1, () => critical("slow 3"), "1 second") // at 9.5 s the first hedge is still in the window
      assert.strictEqual(backup.started, 1)
      assert.strictEqual((yield* HedgeStep).stats().budgetExhausted, 2)
      yield* sequential(1, () => critical("slow 4"), "110 millis") // at 10.5 s it has dropped out
      assert.strictEqual(backup.started, 2)
      assert.strictEqual((yield* HedgeStep).stats().sent, 2)
    }).pipe(
      Effect.provide(
        layerFor([primary, backup], { delay: 100, budget: { percent: 0, reserve: 1, window: "10 seconds" } })
      )
    )
  })

  it.effect("a budget reserve allows hedges before the percentage does", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 1000 }))
    const backup = new TimedProvider("backup", () => ({ ms: 10 }))
    return Effect.gen(function*() {
      yield* sequential(2, (i) => critical(`slow ${i}`), "110 millis")
      assert.strictEqual(backup.started, 2)
      yield* sequential(1, () => critical("slow 3"), "1 second")
      assert.strictEqual(backup.started, 2)
    }).pipe(Effect.provide(layerFor([primary, backup], { delay: 100, budget: { percent: 0, reserve: 2 } })))
  })

  it.effect("a model named in models is critical by default; options.hedge: false turns it off for one call", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 1000 }))
    const backup = new TimedProvider("backup", () => ({ ms: 10 }))
    return Effect.gen(function*() {
      yield* sequential(1, () => ask("by default"), "110 millis")
      assert.strictEqual(backup.started, 1)
      yield* sequential(1, () => ask("off", { hedge: false }), "1 second")
      assert.strictEqual(backup.started, 1)
      // the call's own delay wins over the model's
      const fiber = yield* fork(ask("own delay", { hedge: { delay: "500 millis" } }))
      yield* TestClock.adjust("499 millis")
      assert.strictEqual(backup.started, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(backup.started, 2)
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(fiber)
    }).pipe(
      Effect.provide(layerFor([primary, backup], { delay: 100, budget: { percent: 100 }, models: { fast: true } }))
    )
  })

  it.effect("a call that is not critical, or whose chain has one target, is never hedged", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 1000 }))
    const backup = new TimedProvider("backup", () => ({ ms: 10 }))
    return Effect.gen(function*() {
      yield* sequential(1, () => ask("not critical"), "1 second")
      yield* sequential(1, () => ({ ...critical("no chain"), model: "primary:model-a" }), "1 second")
      assert.strictEqual(backup.started, 0)
    }).pipe(Effect.provide(layerFor([primary, backup], { delay: 100, budget: { percent: 100 } })))
  })

  it.effect("streams are not hedged", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 0 }))
    const backup = new TimedProvider("backup", () => ({ ms: 0 }))
    return Effect.gen(function*() {
      const parts = yield* Stream.runCollect((yield* Llm).stream(critical("stream")))
      assert.isAbove(parts.length, 0)
      assert.strictEqual(backup.started + backup.answered, 0)
    }).pipe(Effect.provide(layerFor([primary, backup], { delay: 0, budget: { percent: 100 } })))
  })

  it.effect("an embedding is never hedged, even for a model hedged by default", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 0 }))
    const backup = new TimedProvider("backup", () => ({ ms: 0 }))
    const embeds = { primary: 0, backup: 0 }
    const counted = (p: TimedProvider, name: "primary" | "backup"): LlmProviderShape => ({
      ...p.provider,
      embed: (request, options) =>
        Effect.suspend(() => {
          embeds[name]++
          const embed = p.provider.embed
          return embed === undefined
            ? Effect.die("no embed")
            : Effect.andThen(Effect.sleep("1 second"), embed(request, options))
        })
    })
    return Effect.gen(function*() {
      const llm = yield* Llm
      const fiber = yield* Effect.forkChild(llm.embed({ model: "fast", input: "hello" }), { startImmediately: true })
      yield* TestClock.adjust("1 second") // ten times the hedge delay: a generate would have been hedged
      const result = yield* Fiber.join(fiber)
      assert.lengthOf(result.embeddings, 1)
      assert.deepStrictEqual(embeds, { primary: 1, backup: 0 })
    }).pipe(Effect.provide(
      Llm.layer.pipe(
        Layer.provideMerge(HedgeStep.layer({ delay: 100, budget: { percent: 100 }, models: { fast: true } })),
        Layer.provide(LlmPipeline.layerSteps({
          cache: false,
          retry: { jitter: 0, retries: 0 },
          fallback: { chains: { fast: ["cheap"] } },
          usage: { prices }
        })),
        withPipelineDeps([counted(primary, "primary"), counted(backup, "backup")], { extra: Costs.layerMemory() })
      )
    ))
  })

  it.effect("an interrupted caller interrupts both legs", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 1000 }))
    const backup = new TimedProvider("backup", () => ({ ms: 1000 }))
    return Effect.gen(function*() {
      const fiber = yield* fork(critical("q"))
      yield* TestClock.adjust("200 millis")
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual([primary.interrupted, backup.interrupted], [1, 1])
    }).pipe(Effect.provide(layerFor([primary, backup], { delay: 100, budget: { percent: 100 } })))
  })

  it.effect("LlmPipeline.layerWithHedging hedges the models its options name", () => {
    const primary = new TimedProvider("primary", () => ({ ms: 1000 }))
    const backup = new TimedProvider("backup", () => ({ ms: 10 }))
    return Effect.gen(function*() {
      const fiber = yield* fork(ask("q"))
      yield* TestClock.adjust("110 millis")
      assert.strictEqual((yield* Fiber.join(fiber)).meta.hedge, "won")
    }).pipe(Effect.provide(
      LlmPipeline.layerWithHedging({
        cache: false,
        retry: { retries: 0 },
        fallback: { chains: { fast: ["cheap"] } },
        hedge: { delay: 100, budget: { reserve: 1 }, models: { fast: true } }
      }).pipe(withPipelineDeps([primary.provider, backup.provider]))
    ))
  })

  it.effect("bad options fail the layer with InvalidPipelineOptions naming the path", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        [{ delay: "p100" }, "delay"],
        [{ delay: -1 }, "delay"],
        [{ budget: { percent: 150 } }, "budget.percent"],
        [{ budget: { window: 0 } }, "budget.window"],
        [{ minSamples: 50, samples: 10 }, "minSamples"],
        [{ models: { fast: { delay: "soon" } } }, "models.fast.delay"]
      ]
      for (const [options, path] of cases) {
        // deliberately malformed input: the decoder must reject it
        const e = yield* Effect.flip(Layer.build(HedgeStep.layer(options as HedgeStepOptions)))
        assert.strictEqual(e._tag, "InvalidPipelineOptions")
        assert.strictEqual(e.path, path, JSON.stringify(options))
      }
    }).pipe(Effect.scoped))

  it.effect("a bad options.hedge fails the call with InvalidLlmRequest naming the path", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(decodeLlmCall(ask("q", { hedge: { delay: "p0" } })))
      assert.strictEqual(e._tag, "InvalidLlmRequest")
      assert.strictEqual(e.path, "options.hedge.delay")
      const ok = yield* decodeLlmCall(ask("q", { hedge: { delay: "p99" } }))
      assert.deepStrictEqual(ok.options?.hedge, { delay: "p99" })
    }))

  it("fuzz: any hedge options either build the step or fail with InvalidPipelineOptions naming a path", () =>
    fc.assert(
      fc.asyncProperty(
        fc.record({
          delay: fc.oneof(
            fc.constantFrom("p95", "p0", "p50", "p100", "100 millis", "soon", "-1 millis", "Infinity"),
            fc.double(),
            fc.anything()
          ),
          initialDelay: fc.oneof(fc.integer({ min: -10, max: 10_000 }), fc.string()),
          minSamples: fc.oneof(fc.integer({ min: -5, max: 2000 }), fc.double()),
          samples: fc.oneof(fc.integer({ min: -5, max: 200_000 }), fc.string()),
          budget: fc.oneof(
            fc.record({ percent: fc.double(), window: fc.oneof(fc.integer(), fc.string()), reserve: fc.integer() }, {
              requiredKeys: []
            }),
            fc.anything()
          ),
          models: fc.oneof(
            fc.dictionary(
              fc.string(),
              fc.oneof(fc.boolean(), fc.record({ delay: fc.oneof(fc.string(), fc.double()) }), fc.anything())
            ),
            fc.anything()
          )
        }, { requiredKeys: [] }),
        async (options) => {
          // arbitrary (often malformed) input: the decoder must classify it
          const exit = await Effect.runPromiseExit(
            Effect.scoped(Layer.build(HedgeStep.layer(options as HedgeStepOptions)))
          )
          if (Exit.isSuccess(exit)) return true
          const error = exit.cause.reasons[0]
          return error?._tag === "Fail" && error.error._tag === "InvalidPipelineOptions" &&
            typeof error.error.path === "string"
        }
      ),
      { numRuns: 300 }
    ))

  it("fuzz: any options.hedge either decodes or fails with InvalidLlmRequest under options.hedge", () =>
    fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.boolean(),
          fc.record({ delay: fc.oneof(fc.string(), fc.double(), fc.constantFrom("p1", "p99", "p100", "1 second")) }),
          fc.anything()
        ),
        async (hedge) => {
          const exit = await Effect.runPromiseExit(decodeLlmCall(ask("q", { hedge })))
          if (Exit.isSuccess(exit)) return exit.value.options?.hedge !== undefined
          const error = exit.cause.reasons[0]
          return error?._tag === "Fail" && error.error._tag === "InvalidLlmRequest" &&
            error.error.path.startsWith("options.hedge")
        }
      ),
      { numRuns: 300 }
    ))
})
