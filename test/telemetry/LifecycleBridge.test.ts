import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Metric } from "effect"
import { ChildSpec, ExitReason, Lifecycle, Supervisor } from "../../src/runtime/index.ts"
import { type TelemetryEvent, TelemetryHub } from "../../src/telemetry/index.ts"
import { layerLifecycleBridge, toTelemetryEvent } from "../../src/telemetry/LifecycleBridge.ts"
import { hubLayer } from "./support/hubLayer.ts"

describe("lifecycle bridge", () => {
  it("maps lifecycle events to troupe.supervisor.* events with low-cardinality reasons", () => {
    const e = toTelemetryEvent({
      _tag: "ChildExited",
      supervisor: "cache",
      childId: "sweeper",
      reason: ExitReason.die(new Error("disk full")),
      timestamp: 42
    })
    assert.deepStrictEqual(e.name, ["troupe", "supervisor", "child", "exited"])
    assert.deepStrictEqual(e.measurements, { system_time: 42 })
    assert.strictEqual(e.metadata.reason, "failure")
    assert.include(String(e.metadata.reason_detail), "disk full")
    const restarted = toTelemetryEvent({
      _tag: "ChildRestarted",
      supervisor: "s",
      childId: "c",
      delayMillis: 5,
      timestamp: 1
    })
    assert.deepStrictEqual(restarted.measurements, { system_time: 1, delay_millis: 5 })
  })

  const Live = layerLifecycleBridge.pipe(Layer.provideMerge(hubLayer()), Layer.provideMerge(Lifecycle.layer))

  it.effect("a crashing supervised child shows up as exit and restart events and metrics", () =>
    Effect.gen(function*() {
      const hub = yield* TelemetryHub
      const seen: Array<TelemetryEvent> = []
      yield* hub.attach("watch", [["troupe", "supervisor"]], (e) => void seen.push(e))
      let attempts = 0
      const flaky = Effect.suspend(() => ++attempts === 1 ? Effect.die(new Error("boom")) : Effect.never)
      yield* Supervisor.start({ name: "workers", children: [ChildSpec.task({ id: "flaky", run: flaky })] })
      for (let i = 0; i < 200 && !seen.some((e) => e.name.join(".") === "troupe.supervisor.child.restarted"); i++) {
        yield* Effect.yieldNow
      }
      const workers = seen.filter((e) => e.metadata.supervisor === "workers").map((e) => e.name.slice(2).join("."))
      assert.includeMembers(workers, ["started", "child.started", "child.exited", "child.restarted"])
      const exited = seen.find((e) =>
        e.name.join(".") === "troupe.supervisor.child.exited" && e.metadata.supervisor === "workers"
      )
      assert.strictEqual(exited?.metadata.reason, "failure")
      const restarts = yield* Metric.value(Metric.counter("troupe_supervisor_child_restarts_total", {
        description: "Supervised children restarted",
        attributes: { supervisor: "workers" },
        incremental: true
      }))
      assert.strictEqual(restarts.count, 1)
    }).pipe(Effect.provide(Live)))
})
