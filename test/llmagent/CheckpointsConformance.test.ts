/**
 * One conformance suite for every `Checkpoints` backend (memory, PostgreSQL), under `TestClock` for the age rule.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { afterAll } from "vitest"
import { Checkpoints, type RetentionOptions } from "../../src/llmagent/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"

const conformance = (name: string, layer: (options: RetentionOptions) => Layer.Layer<Checkpoints, unknown>) => {
  const agent = (label: string) => `${name}-${label}-${Math.random().toString(36).slice(2, 8)}`
  it.effect(`${name}: save appends a checkpoint with the next sequence number; latest is the newest; list is newest first`, () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000)
      const checkpoints = yield* Checkpoints
      const id = agent("a")
      expect(Option.isNone(yield* checkpoints.latest(id))).toBe(true)
      const first = yield* checkpoints.save(id, { turns: 1 })
      yield* TestClock.adjust(5)
      const second = yield* checkpoints.save(id, { turns: 2, messages: [{ role: "user", content: "hi" }] })
      expect([first.seq, first.at, second.seq, second.at]).toStrictEqual([1, 1_000, 2, 1_005])
      expect(Option.getOrThrow(yield* checkpoints.latest(id))).toStrictEqual({
        agentId: id,
        seq: 2,
        at: 1_005,
        state: { turns: 2, messages: [{ role: "user", content: "hi" }] }
      })
      expect((yield* checkpoints.list(id)).map((c) => c.seq)).toStrictEqual([2, 1])
      expect(yield* checkpoints.list(agent("other"))).toHaveLength(0)
    }).pipe(Effect.provide(layer({}))))

  it.effect(`${name}: retention keeps the last keep checkpoints per agent`, () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000)
      const checkpoints = yield* Checkpoints
      const id = agent("keep")
      for (let i = 1; i <= 5; i++) yield* checkpoints.save(id, i)
      expect((yield* checkpoints.list(id)).map((c) => c.state)).toStrictEqual([5, 4, 3])
      expect(Option.getOrThrow(yield* checkpoints.latest(id)).seq).toBe(5)
    }).pipe(Effect.provide(layer({ keep: 3 }))))

  it.effect(`${name}: retention drops checkpoints older than maxAge; latest never returns an expired one`, () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(10_000)
      const checkpoints = yield* Checkpoints
      const id = agent("age")
      yield* checkpoints.save(id, "old")
      yield* TestClock.adjust("30 seconds")
      yield* checkpoints.save(id, "new")
      expect((yield* checkpoints.list(id)).map((c) => c.state)).toStrictEqual(["new", "old"])
      yield* TestClock.adjust("31 seconds")
      expect((yield* checkpoints.list(id)).map((c) => c.state)).toStrictEqual(["new"])
      yield* TestClock.adjust("30 seconds")
      expect(Option.isNone(yield* checkpoints.latest(id))).toBe(true)
      // a save after expiry still counts on
      expect((yield* checkpoints.save(id, "again")).seq).toBe(3)
    }).pipe(Effect.provide(layer({ maxAge: "1 minute" }))))

  it.effect(`${name}: every backend keeps a JSON copy of the state`, () =>
    Effect.gen(function*() {
      const checkpoints = yield* Checkpoints
      const id = agent("copy")
      const state = { n: -0, list: [1] as Array<number>, gone: undefined }
      yield* checkpoints.save(id, state)
      state.list.push(2)
      expect(Option.getOrThrow(yield* checkpoints.latest(id)).state).toStrictEqual({ n: 0, list: [1] })
      yield* checkpoints.save(id, undefined)
      expect(Option.getOrThrow(yield* checkpoints.latest(id)).state).toBeNull()
    }).pipe(Effect.provide(layer({}))))

  it.effect(`${name}: fuzz: any JSON state round-trips`, () =>
    Effect.gen(function*() {
      const checkpoints = yield* Checkpoints
      const id = agent("fuzz")
      for (const value of fc.sample(fc.jsonValue(), 15)) {
        yield* checkpoints.save(id, value)
        expect(Option.getOrThrow(yield* checkpoints.latest(id)).state).toStrictEqual(JSON.parse(JSON.stringify(value)))
      }
    }).pipe(Effect.provide(layer({}))))
}

describe("Checkpoints conformance (memory)", () => {
  conformance("memory", (options) => Checkpoints.layerMemory(options))

  it.effect("memory: the memory backend is bounded: at most maxAgents agents (the one saved least recently dropped first)", () =>
    Effect.gen(function*() {
      const checkpoints = yield* Checkpoints
      yield* checkpoints.save("a", 1)
      yield* checkpoints.save("b", 1)
      yield* checkpoints.save("a", 2)
      yield* checkpoints.save("c", 1)
      expect(Option.isNone(yield* checkpoints.latest("b"))).toBe(true)
      expect(Option.getOrThrow(yield* checkpoints.latest("a")).state).toBe(2)
      expect(() => Checkpoints.layerMemory({ keep: 0 })).not.toThrow()
    }).pipe(Effect.provide(Checkpoints.layerMemory({ maxAgents: 2 }))))

  it("keep and maxAge must be positive", () => {
    expect(() => Effect.runSync(Effect.provide(Effect.void, Checkpoints.layerMemory({ keep: 0 })))).toThrow(/keep/)
    expect(() => Effect.runSync(Effect.provide(Effect.void, Checkpoints.layerMemory({ maxAge: 0 })))).toThrow(/maxAge/)
  })
})

describePostgres("Checkpoints conformance (postgres)", () => {
  const schema = uniqueSchema("checkpoints")
  afterAll(() => dropSchemaPromise(schema))
  conformance("postgres", (options) => Checkpoints.layerPostgres({ ...options, schema }).pipe(Layer.provide(pgLayer)))
})
