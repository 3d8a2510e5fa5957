/** What effect's PersistedQueue lacks, shown: a re-offered id is a silent no-op, so a failed element cannot be re-run under its id. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { PersistedQueue } from "effect/persistence"

describe("PersistedQueue gap", () => {
  it.live("offering an id the queue has seen again is a silent no-op (returns the id, queues nothing)", () =>
    Effect.gen(function*() {
      const q = yield* PersistedQueue.make({ name: "gap", schema: Schema.String })
      yield* q.offer("first", { id: "j1" })
      let taken: Array<string> = []
      yield* q.take((v) => Effect.sync(() => { taken.push(v) }))
      const id = yield* q.offer("second", { id: "j1" })
      assert.strictEqual(id, "j1")
      taken = []
      const again = yield* q.take((v) => Effect.sync(() => { taken.push(v) })).pipe(Effect.timeoutOption("200 millis"))
      assert.strictEqual(again._tag, "None")
      assert.deepStrictEqual(taken, [])
    }).pipe(Effect.provide(PersistedQueue.layer.pipe(Layer.provide(PersistedQueue.layerStoreMemory)))))
})
