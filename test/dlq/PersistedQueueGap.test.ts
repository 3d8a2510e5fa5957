/** What effect's PersistedQueue lacks, shown: a re-offered id is a silent no-op, so a failed element cannot be re-run under its id. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Schema } from "effect"
import { PersistedQueue } from "effect/persistence"
import { TestClock } from "effect/testing"

describe("PersistedQueue gap", () => {
  it.effect("offering an id the queue has seen again is a silent no-op (returns the id, queues nothing)", () =>
    Effect.gen(function*() {
      const q = yield* PersistedQueue.make({ name: "gap", schema: Schema.String })
      yield* q.offer("first", { id: "j1" })
      let taken: Array<string> = []
      yield* q.take((v) =>
        Effect.sync(() => {
          taken.push(v)
        })
      )
      const id = yield* q.offer("second", { id: "j1" })
      assert.strictEqual(id, "j1")
      taken = []
      // the memory store's take waits on a latch, not on time: the timeout runs on the TestClock
      const waiting = yield* q.take((v) =>
        Effect.sync(() => {
          taken.push(v)
        })
      ).pipe(Effect.timeoutOption("200 millis"), Effect.forkChild)
      yield* TestClock.adjust("200 millis")
      const again = yield* Fiber.join(waiting)
      assert.strictEqual(again._tag, "None")
      assert.deepStrictEqual(taken, [])
    }).pipe(Effect.provide(PersistedQueue.layer.pipe(Layer.provide(PersistedQueue.layerStoreMemory)))))
})
