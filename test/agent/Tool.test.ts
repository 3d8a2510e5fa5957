import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Result, Schema, Stream } from "effect"
import { Tool as AiTool } from "effect/ai"
import { TestClock } from "effect/testing"
import { Action, Tool, ToolRunner } from "../../src/agent/index.ts"

const Address = Schema.Struct({
  street: Schema.String,
  zip: Schema.optionalKey(Schema.String)
})
const Booking = Action.make({
  name: "book_trip",
  description: "Books a trip",
  params: Schema.Struct({
    traveller: Schema.Struct({ name: Schema.String.annotate({ description: "full name" }), address: Address }),
    nights: Schema.Finite,
    note: Schema.optionalKey(Schema.String)
  }),
  output: Schema.Struct({ ref: Schema.String }),
  run: (p) => Effect.succeed({ ref: `${p.traveller.name}-${p.nights}` })
})

describe("Tool JSON Schema", () => {
  it("non-strict: open objects stay open, optional fields stay optional, nesting intact", () => {
    expect(Tool.jsonSchema(Booking)).toStrictEqual({
      type: "object",
      properties: {
        traveller: {
          type: "object",
          properties: {
            name: { type: "string", description: "full name" },
            address: {
              type: "object",
              properties: { street: { type: "string" }, zip: { type: "string" } },
              required: ["street"],
              additionalProperties: true
            }
          },
          required: ["name", "address"],
          additionalProperties: true
        },
        nights: { type: "number" },
        note: { type: "string" }
      },
      required: ["traveller", "nights"],
      additionalProperties: true
    })
  })

  it("strict: additionalProperties false everywhere, every field required, optional → nullable", () => {
    expect(Tool.jsonSchema(Booking, { strict: true })).toStrictEqual({
      type: "object",
      properties: {
        traveller: {
          type: "object",
          properties: {
            name: { type: "string", description: "full name" },
            address: {
              type: "object",
              properties: { street: { type: "string" }, zip: { anyOf: [{ type: "string" }, { type: "null" }] } },
              required: ["street", "zip"],
              additionalProperties: false
            }
          },
          required: ["name", "address"],
          additionalProperties: false
        },
        nights: { type: "number" },
        note: { anyOf: [{ type: "string" }, { type: "null" }] }
      },
      required: ["traveller", "nights", "note"],
      additionalProperties: false
    })
  })

  it("strict decoding maps the model's nulls back to absent fields", () => {
    const tool = Tool.fromAction(Booking, { strict: true })
    const decoded = tool.decode({
      traveller: { name: "Ada", address: { street: "x", zip: null } },
      nights: 2,
      note: null
    })
    assert.isTrue(Result.isSuccess(decoded))
    if (Result.isSuccess(decoded)) {
      assert.deepStrictEqual(decoded.success, { traveller: { name: "Ada", address: { street: "x" } }, nights: 2 })
    }
    const bad = tool.decode({ traveller: { name: 1 } })
    assert.isTrue(Result.isFailure(bad))
    if (Result.isFailure(bad)) assert.strictEqual(bad.failure.path, "traveller.name")
  })

  it("bridges to effect/ai: same schema, strict annotation, same JSON Schema", () => {
    const tool = Tool.fromAction(Booking, { strict: true })
    assert.strictEqual(tool.ai.name, "book_trip")
    assert.strictEqual(AiTool.getStrictMode(tool.ai), true)
    assert.strictEqual(tool.ai.parametersSchema, Booking.params)
    expect(AiTool.getJsonSchema(tool.ai)).toStrictEqual(Tool.jsonSchema(Booking))
  })

  it.effect("toolkitLayer: effect/ai's Toolkit runs the action; failures come back as values", () =>
    Effect.gen(function*() {
      const failing = Action.make({
        name: "explode",
        params: Schema.Struct({}),
        output: Schema.String,
        retries: 0,
        run: () => Effect.fail("kaboom")
      })
      const tools = [Tool.fromAction(Booking), Tool.fromAction(failing)] as const
      const kit = Tool.toolkit(...tools)
      const handler = yield* kit.pipe(Effect.provide(Tool.toolkitLayer(...tools)))
      const ok = yield* handler.handle("book_trip", { traveller: { name: "Ada", address: { street: "s" } }, nights: 1 })
        .pipe(
          Effect.flatMap(Stream.runCollect)
        )
      assert.deepStrictEqual(ok[0]?.result, { ref: "Ada-1" })
      const ko = yield* handler.handle("explode", {}).pipe(Effect.flatMap(Stream.runCollect))
      assert.isTrue(ko[0]?.isFailure)
      assert.strictEqual((ko[0]?.result as { tag: string }).tag, "ActionFailed")
    }))
})

describe("ToolRunner", () => {
  const Slow = Action.make({
    name: "slow",
    params: Schema.Struct({ ms: Schema.Number }),
    output: Schema.Number,
    run: ({ ms }) => Effect.sleep(ms).pipe(Effect.as(ms))
  })
  const Crash = Action.make({
    name: "crash",
    params: Schema.Struct({}),
    output: Schema.Number,
    retries: 0,
    run: () => Effect.die(new Error("segfault"))
  })

  it.effect("bad calls become tool errors (unknown, denied, bad JSON, bad params, crash), never failures", () =>
    Effect.gen(function*() {
      const runner = yield* ToolRunner.make({
        tools: [Tool.fromAction(Booking), Tool.fromAction(Crash), Tool.fromAction(Slow)],
        policy: { deny: ["slow"] }
      })
      assert.deepStrictEqual(runner.definitions.map((d) => d.name), ["book_trip", "crash"])
      const results = yield* runner.handleAll([
        { id: "1", name: "nope", params: {} },
        { id: "2", name: "slow", params: { ms: 1 } },
        { id: "3", name: "book_trip", params: "{not json" },
        { id: "4", name: "book_trip", params: { traveller: { name: "A", address: {} }, nights: 1 } },
        { id: "5", name: "crash", params: {} },
        {
          id: "6",
          name: "book_trip",
          params: JSON.stringify({ traveller: { name: "A", address: { street: "s" } }, nights: 3 })
        }
      ])
      const summary = results.map((r) =>
        r._tag === "ToolSuccess" ? ["ok", r.output] : [r.error.tag, r.error.path ?? ""]
      )
      assert.deepStrictEqual(summary, [
        ["UnknownTool", ""],
        ["ToolDenied", ""],
        ["InvalidParams", ""],
        ["InvalidParams", "traveller.address.street"],
        ["ActionFailed", ""],
        ["ok", { ref: "A-3" }]
      ])
    }))

  it.effect("a failure with no string form becomes a ToolFailure returned to the model, never a failure of the caller", () =>
    Effect.gen(function*() {
      const values: ReadonlyArray<unknown> = [
        Object.create(null),
        {
          toString: () => {
            throw new Error("toString throws")
          }
        },
        { _tag: "Odd", message: Object.create(null) }
      ]
      const tools = values.map((value, i) =>
        Tool.fromAction(Action.make({
          name: `fails_${i}`,
          params: Schema.Struct({}),
          output: Schema.Number,
          retries: 0,
          run: () => Effect.fail(value)
        }))
      )
      const runner = yield* ToolRunner.make({ tools })
      for (const [i] of values.entries()) {
        const result = yield* runner.handle({ id: String(i), name: `fails_${i}`, params: "{}" })
        assert.strictEqual(result._tag, "ToolFailure")
        if (result._tag === "ToolFailure") {
          assert.strictEqual(result.error.tag, "ActionFailed")
          assert.include(result.error.message, "[object Object]")
        }
      }
      const odd = Tool.toToolError({ _tag: Object.create(null), message: Object.create(null) })
      assert.deepStrictEqual([typeof odd.tag, typeof odd.message], ["string", "string"])
    }))

  it.effect("timeout and concurrency limit", () =>
    Effect.gen(function*() {
      const runner = yield* ToolRunner.make({ tools: [Tool.fromAction(Slow)], concurrency: 2, timeout: "5 seconds" })
      const fiber = yield* Effect.forkChild(
        runner.handleAll([1, 2, 3].map((i) => ({ id: String(i), name: "slow", params: { ms: 1000 } }))),
        { startImmediately: true }
      )
      yield* TestClock.adjust("1 second") // two run at once
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 second") // the third ran after a permit freed
      const results = yield* Fiber.join(fiber)
      assert.deepStrictEqual(results.map((r) => r._tag), ["ToolSuccess", "ToolSuccess", "ToolSuccess"])
      const late = yield* Effect.forkChild(runner.handle({ id: "x", name: "slow", params: { ms: 60_000 } }), {
        startImmediately: true
      })
      yield* TestClock.adjust("5 seconds")
      const timedOut = yield* Fiber.join(late)
      assert.strictEqual(timedOut._tag === "ToolFailure" ? timedOut.error.tag : "", "ToolTimeout")
    }))
})
