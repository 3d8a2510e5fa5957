/**
 * One conformance suite for every `RunJournal` backend (memory, PostgreSQL).
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { afterAll } from "vitest"
import { RunJournal } from "../../src/llmagent/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"

const start = (runId: string, agent = "shop", agentId = "shop:1", startedAt = 1_000) => ({
  runId,
  agent,
  agentId,
  workflow: `wf-${agent}`,
  executionId: `exec-${runId}`,
  input: { text: "refund", n: 1 },
  startedAt
})

const conformance = (name: string, layer: () => Layer.Layer<RunJournal, unknown>) => {
  const prefix = `${name}-${Math.random().toString(36).slice(2, 8)}`
  it.effect(`${name}: a run is recorded when it starts; every journaled step is recorded in order; the first record of a step wins`, () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(5_000)
      const journal = yield* RunJournal
      const id = `${prefix}-a`
      yield* journal.start(start(id))
      yield* journal.start({ ...start(id), agent: "other" })
      yield* journal.step(id, { seq: 2, name: "tool/1/c1", kind: "tool", value: { _tag: "ToolSuccess", output: "ok" } })
      yield* journal.step(id, {
        seq: 1,
        name: "model/1",
        kind: "model",
        value: { text: "", toolCalls: [{ id: "c1" }] }
      })
      yield* TestClock.adjust(10)
      yield* journal.step(id, { seq: 9, name: "model/1", kind: "model", value: { text: "replayed" } })
      const run = Option.getOrThrow(yield* journal.get(id))
      expect(run).toMatchObject({
        runId: id,
        agent: "shop",
        agentId: "shop:1",
        workflow: "wf-shop",
        executionId: `exec-${id}`,
        startedAt: 1_000,
        stepCount: 2
      })
      expect(run.input).toStrictEqual({ text: "refund", n: 1 })
      expect(run.outcome).toBeUndefined()
      expect(run.finishedAt).toBeUndefined()
      expect(run.steps.map((s) => [s.seq, s.name, s.kind, s.at])).toStrictEqual([[1, "model/1", "model", 5_000], [
        2,
        "tool/1/c1",
        "tool",
        5_000
      ]])
      expect(run.steps[0]?.value).toStrictEqual({ text: "", toolCalls: [{ id: "c1" }] })
      expect(Option.isNone(yield* journal.get(`${prefix}-missing`))).toBe(true)
    }).pipe(Effect.provide(layer())))

  it.effect(`${name}: the first outcome wins; a run that did not finish is listed by unfinished`, () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(7_000)
      const journal = yield* RunJournal
      const a = `${prefix}-u1`, b = `${prefix}-u2`
      yield* journal.start({ ...start(a, `u${prefix}`), startedAt: 1 })
      yield* journal.start({ ...start(b, `u${prefix}`), startedAt: 2 })
      expect((yield* journal.unfinished(`wf-u${prefix}`, 10)).map((r) => r.runId)).toStrictEqual([a, b])
      yield* journal.finish(a, "answered", { text: "hi" })
      yield* journal.finish(a, "failed", { _tag: "X" })
      const run = Option.getOrThrow(yield* journal.get(a))
      expect(run).toMatchObject({ outcome: "answered", result: { text: "hi" }, finishedAt: 7_000 })
      expect((yield* journal.unfinished(`wf-u${prefix}`, 10)).map((r) => r.runId)).toStrictEqual([b])
      expect(yield* journal.unfinished(`wf-u${prefix}`, 0)).toHaveLength(0)
    }).pipe(Effect.provide(layer())))

  it.effect(`${name}: list returns the most recent runs first, of one agent or agent id, at most limit`, () =>
    Effect.gen(function*() {
      const journal = yield* RunJournal
      const agent = `l${prefix}`
      for (let i = 0; i < 5; i++) yield* journal.start(start(`${prefix}-l${i}`, agent, `${agent}:${i % 2}`, 100 + i))
      expect((yield* journal.list({ agent, limit: 3 })).map((r) => r.runId)).toStrictEqual([
        `${prefix}-l4`,
        `${prefix}-l3`,
        `${prefix}-l2`
      ])
      expect((yield* journal.list({ agentId: `${agent}:1`, limit: 10 })).map((r) => r.runId)).toStrictEqual([
        `${prefix}-l3`,
        `${prefix}-l1`
      ])
      expect(yield* journal.list({ agent: "nobody", limit: 10 })).toHaveLength(0)
    }).pipe(Effect.provide(layer())))

  it.effect(`${name}: every value round-trips exactly: NUL characters, lone surrogates and the escape character, in strings and keys`, () =>
    Effect.gen(function*() {
      const journal = yield* RunJournal
      const id = `${prefix}-exact`
      const input = "hi\u0000there \ud83d \u0001e \u0001"
      const value = {
        text: "PK\u0003\u0004\u0000\u0000binary",
        cut: "emoji \ud83d",
        low: "\udc00 alone",
        pair: "\ud83d\ude00",
        escape: "\u0001 \u00010 \u0001u0000 \u0001e",
        "key\u0000with nul": ["\u0000", "\udfff\ud800"],
        "\u0001": 1
      }
      yield* journal.start({ ...start(id, `x${prefix}`), input })
      yield* journal.step(id, { seq: 1, name: "model/1", kind: "model", value })
      const unfinished = yield* journal.unfinished(`wf-x${prefix}`, 10)
      expect(unfinished.map((r) => r.input)).toStrictEqual([input])
      yield* journal.finish(id, "answered", { text: value.cut, list: [input] })
      const run = Option.getOrThrow(yield* journal.get(id))
      expect(run.input).toStrictEqual(input)
      expect(run.steps[0]?.value).toStrictEqual(value)
      expect(run.result).toStrictEqual({ text: value.cut, list: [input] })
      expect((yield* journal.list({ agent: `x${prefix}`, limit: 1 }))[0]?.input).toStrictEqual(input)
    }).pipe(Effect.provide(layer())))

  it.effect(`${name}: fuzz: any UTF-16 string round-trips exactly, as a value and as a key`, () =>
    Effect.gen(function*() {
      const journal = yield* RunJournal
      const raw = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 12 }).map((codes) =>
        String.fromCharCode(...codes)
      )
      const values = fc.sample(
        fc.dictionary(raw, fc.array(raw, { maxLength: 4 }), { maxKeys: 4, noNullPrototype: true }),
        30
      )
      const id = `${prefix}-utf16`
      yield* journal.start(start(id))
      for (const [i, value] of values.entries()) {
        yield* journal.step(id, { seq: i + 1, name: `model/${i + 1}`, kind: "model", value })
      }
      const run = Option.getOrThrow(yield* journal.get(id))
      run.steps.forEach((s, i) => expect(s.value).toStrictEqual(values[i]))
    }).pipe(Effect.provide(layer())))

  it.effect(`${name}: a value that is not JSON (a bigint, a cycle) is recorded as unserialisable, not a crash`, () =>
    Effect.gen(function*() {
      const journal = yield* RunJournal
      const id = `${prefix}-nojson`
      const cycle: Record<string, unknown> = { a: 1 }
      cycle["self"] = cycle
      yield* journal.start({ ...start(id), input: 10n })
      yield* journal.step(id, { seq: 1, name: "tool/1/1", kind: "tool", value: cycle })
      const run = Option.getOrThrow(yield* journal.get(id))
      expect(run.input).toMatchObject({ unserialisable: expect.stringContaining("BigInt") })
      expect(run.steps[0]?.value).toMatchObject({ unserialisable: expect.stringContaining("circular") })
    }).pipe(Effect.provide(layer())))

  it.effect(`${name}: recording a deeply nested value never fails: 2,400 levels round-trip exactly, one too deep for JSON is unserialisable`, () =>
    Effect.gen(function*() {
      const journal = yield* RunJournal
      const id = `${prefix}-deep`
      const nested = (depth: number): unknown => JSON.parse("[{\"a\\u0000\":".repeat(depth) + "1" + "}]".repeat(depth))
      yield* journal.start({ ...start(id), input: nested(1_200) })
      yield* journal.step(id, {
        seq: 1,
        name: "model/1",
        kind: "model",
        value: { toolCalls: [{ arguments: nested(1_200) }] }
      })
      // deeper than JSON.stringify can go: a crash of the turn before, `{ unserialisable }` now
      let tooDeep: unknown = 1
      for (let i = 0; i < 200_000; i++) tooDeep = [tooDeep]
      yield* journal.step(id, { seq: 2, name: "model/2", kind: "model", value: tooDeep })
      yield* journal.finish(id, "answered", nested(1_200))
      const run = Option.getOrThrow(yield* journal.get(id))
      expect(run.input).toStrictEqual(nested(1_200))
      expect(run.result).toStrictEqual(nested(1_200))
      expect(run.steps[0]?.value).toStrictEqual({ toolCalls: [{ arguments: nested(1_200) }] })
      expect(run.steps[1]?.value).toMatchObject({ unserialisable: expect.stringContaining("stack") })
    }).pipe(Effect.provide(layer())))

  it.effect(`${name}: fuzz: any values round-trip as JSON through steps and outcomes`, () =>
    Effect.gen(function*() {
      const journal = yield* RunJournal
      const values = fc.sample(fc.jsonValue(), 20)
      const id = `${prefix}-fuzz`
      yield* journal.start(start(id))
      for (const [i, value] of values.entries()) {
        yield* journal.step(id, { seq: i + 1, name: `model/${i + 1}`, kind: "model", value })
      }
      const run = Option.getOrThrow(yield* journal.get(id))
      // JSON semantics: -0 is 0, and PostgreSQL's jsonb keeps the last of duplicate keys like JSON.parse
      run.steps.forEach((s, i) => expect(s.value).toStrictEqual(JSON.parse(JSON.stringify(values[i]))))
    }).pipe(Effect.provide(layer())))
}

describe("RunJournal conformance (memory)", () => {
  conformance("memory", () => RunJournal.layerMemory())

  it.effect("memory: values are kept as JSON copies: -0 is 0, and a caller mutating its object later changes nothing", () =>
    Effect.gen(function*() {
      const journal = yield* RunJournal
      const value = { n: -0, list: [1] }
      yield* journal.start(start("copy"))
      yield* journal.step("copy", { seq: 1, name: "model/1", kind: "model", value })
      value.list.push(2)
      const run = Option.getOrThrow(yield* journal.get("copy"))
      expect(run.steps[0]?.value).toStrictEqual({ n: 0, list: [1] })
    }).pipe(Effect.provide(RunJournal.layerMemory())))

  it.effect("memory: the memory backend is bounded: at most maxRuns runs (oldest dropped first) and maxStepsPerRun steps per run", () =>
    Effect.gen(function*() {
      const journal = yield* RunJournal
      for (let i = 0; i < 4; i++) yield* journal.start(start(`r${i}`))
      assert.isTrue(Option.isNone(yield* journal.get("r0")))
      assert.isTrue(Option.isNone(yield* journal.get("r1")))
      for (let i = 1; i <= 5; i++) yield* journal.step("r3", { seq: i, name: `model/${i}`, kind: "model", value: i })
      const run = Option.getOrThrow(yield* journal.get("r3"))
      expect(run.steps.map((s) => s.value)).toStrictEqual([1, 2, 3])
      expect(run.droppedSteps).toBe(2)
      expect(run.stepCount).toBe(5)
    }).pipe(Effect.provide(RunJournal.layerMemory({ maxRuns: 2, maxStepsPerRun: 3 }))))
})

describePostgres("RunJournal conformance (postgres)", () => {
  const schema = uniqueSchema("runjournal")
  afterAll(() => dropSchemaPromise(schema))
  conformance("postgres", () => RunJournal.layerPostgres({ schema }).pipe(Layer.provide(pgLayer)))
})
