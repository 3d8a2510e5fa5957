/**
 * TelemetryHub benchmarks (issue 4). All rows are measured in-fiber with `timeEffectBatch`: one Effect runs `ops`
 * operations per sample, so fiber start-up is not in the figures.
 *
 * - `floor.metric-counter`: one Effect `Metric` counter update (`Metric.update(counter, 1)`), the floor for emits.
 * - `telemetry.emit.no-handler`: `hub.emit` of an event no handler is attached to (baseline the floor).
 * - `telemetry.emit.one-handler`: `hub.emit` with one attached synchronous handler (target ≤ 3× the floor).
 * - `telemetry.emit.metric-definition`: `hub.emit` of an event bound to one default counter definition (the hub's own
 *   recorder handler updates an Effect counter with tags), baseline the floor.
 * - `telemetry.emit.masked` / `telemetry.emit.unmasked`: `hub.emit` with one synchronous handler and LLM-call-like
 *   metadata (four strings), on the default hub (every metadata string masked) and on one built with
 *   `maskSecrets: false` (the hub before masking), interleaved; the ratio is masking's cost per emit.
 * - `floor.bare-effect`: the trivial effect (`Effect.succeed(1)`) run bare.
 * - `telemetry.span`: `hub.span(prefix)` around the trivial effect (start + stop events, reporter, tracing span).
 * - `telemetry.span.untraced`: the same with `traceName: false` (no Effect tracing span).
 */
import { Effect, Layer, ManagedRuntime, Metric } from "effect"
import { Events, TelemetryHub } from "../src/telemetry/index.ts"
import { type BenchRow, timeEffectBatch, timeInterleaved } from "./harness.ts"

const ops = 10_000
const samples = 30
const spanOps = 1_000

const repeat = <E>(op: Effect.Effect<unknown, E>, n: number = ops): Effect.Effect<void, E> =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* op
  })

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const runtime = ManagedRuntime.make(
    TelemetryHub.layer().pipe(Layer.provide(Layer.sync(Metric.MetricRegistry, () => new Map())))
  )
  try {
    const hub = await runtime.runPromise(Effect.gen(function*() {
      return yield* TelemetryHub
    }))
    const counter = Metric.counter("bench_floor_total", { description: "bench floor", incremental: true })
    const noHandlerName = Object.freeze(["bench", "nobody", "listens"])
    const oneHandlerName = Object.freeze(["bench", "one", "handler"])
    const measurements = { count: 1 }
    const metadata = { source: "bench" }
    let received = 0
    await runtime.runPromise(hub.attach("bench-handler", [oneHandlerName], () => {
      received++
    }))
    const trivial = Effect.succeed(1)
    const spanned = trivial.pipe(hub.span(["bench", "span"]))
    const untraced = trivial.pipe(hub.span(["bench", "span", "untraced"], undefined, { traceName: false }))

    // warm every code path once before any timed row, so the first row (the floor) is not measured colder
    await Effect.runPromise(Effect.all([
      repeat(Metric.update(counter, 1)),
      repeat(hub.emit(noHandlerName, measurements, metadata)),
      repeat(hub.emit(oneHandlerName, measurements, metadata)),
      repeat(trivial),
      repeat(spanned, spanOps),
      repeat(untraced, spanOps)
    ], { discard: true }))
    const rows: Array<BenchRow> = []
    rows.push(await timeEffectBatch("floor.metric-counter", repeat(Metric.update(counter, 1)), { ops, samples }))
    rows.push(
      await timeEffectBatch("telemetry.emit.no-handler", repeat(hub.emit(noHandlerName, measurements, metadata)), {
        ops,
        samples,
        baseline: "floor.metric-counter"
      })
    )
    rows.push(
      await timeEffectBatch("telemetry.emit.one-handler", repeat(hub.emit(oneHandlerName, measurements, metadata)), {
        ops,
        samples,
        baseline: "floor.metric-counter",
        note: "target ≤ 3× floor.metric-counter"
      })
    )
    rows.push(
      await timeEffectBatch(
        "telemetry.emit.metric-definition",
        repeat(hub.emit(Events.configChanged, { changed_paths: 1 }, { source: "patch" })),
        {
          ops,
          samples,
          baseline: "floor.metric-counter",
          note: "hub's own recorder updates a tagged Effect counter"
        }
      )
    )
    rows.push(await timeEffectBatch("floor.bare-effect", repeat(trivial), { ops, samples }))
    rows.push(
      await timeEffectBatch("telemetry.span", repeat(spanned, spanOps), {
        ops: spanOps,
        samples,
        baseline: "floor.bare-effect"
      })
    )
    rows.push(
      await timeEffectBatch("telemetry.span.untraced", repeat(untraced, spanOps), {
        ops: spanOps,
        samples,
        baseline: "floor.bare-effect",
        note: "traceName: false (no Effect tracing span)"
      })
    )
    rows.push(
      ...await timeInterleaved(
        Effect.gen(function*() {
          const name = Object.freeze(["bench", "masked"])
          const llmMetadata = {
            provider: "openai",
            model: "gpt-4o-mini",
            route: "chat.completions",
            finish_reason: "stop"
          }
          const registry = Layer.sync(Metric.MetricRegistry, () => new Map())
          const masked = yield* Layer.build(TelemetryHub.layer().pipe(Layer.provide(registry)))
          const unmasked = yield* Layer.build(TelemetryHub.layer({ maskSecrets: false }).pipe(Layer.provide(registry)))
          const batch = (context: typeof masked) =>
            Effect.gen(function*() {
              const h = yield* TelemetryHub
              yield* h.attach("bench-masking", [name], () => {
                received++
              })
              return repeat(h.emit(name, measurements, llmMetadata))
            }).pipe(Effect.provide(context))
          return [
            {
              id: "telemetry.emit.unmasked",
              batch: yield* batch(unmasked),
              ops,
              note: "hub built with maskSecrets: false"
            },
            {
              id: "telemetry.emit.masked",
              batch: yield* batch(masked),
              ops,
              baseline: "telemetry.emit.unmasked",
              note: "four metadata strings masked per emit"
            }
          ]
        }),
        { samples }
      )
    )
    if (received === 0) throw new Error("the one-handler bench never reached its handler")
    return rows
  } finally {
    await runtime.dispose()
  }
}
