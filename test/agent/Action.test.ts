import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Ref, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Action, ActionRunner, StateOp } from "../../src/agent/index.ts"

const Params = Schema.Struct({
  user: Schema.Struct({ name: Schema.String, age: Schema.Number }),
  tags: Schema.Array(Schema.String)
})

class Flaky extends Schema.TaggedError<Flaky>()("Flaky", { attempt: Schema.Number }) {}

describe("Action", () => {
  it.effect("decodes params; a bad field fails with InvalidParams naming its path", () =>
    Effect.gen(function*() {
      const echo = Action.make({
        name: "echo",
        params: Params,
        output: Schema.String,
        run: (p) => Effect.succeed(p.user.name)
      })
      const ok = yield* ActionRunner.execute(echo, { user: { name: "ada", age: 36 }, tags: [] })
      assert.strictEqual(ok.output, "ada")
      const error = yield* Effect.flip(ActionRunner.execute(echo, { user: { name: "ada", age: "x" }, tags: [1] }))
      assert.strictEqual(error._tag, "InvalidParams")
      if (error._tag === "InvalidParams") {
        assert.strictEqual(error.path, "user.age")
        assert.include(error.detail, "tags[0]")
      }
    }))

  it.effect("checks the output: a wrong output is InvalidOutput with a path, not retried", () =>
    Effect.gen(function*() {
      let runs = 0
      const bad = Action.make({
        name: "bad",
        params: Schema.Struct({}),
        output: Schema.Struct({ n: Schema.Number }),
        run: () => Effect.sync(() => ({ n: String(++runs) } as unknown as { n: number })),
        retries: 3
      })
      const error = yield* Effect.flip(ActionRunner.execute(bad, {}))
      assert.strictEqual(error._tag, "InvalidOutput")
      if (error._tag === "InvalidOutput") assert.strictEqual(error.path, "n")
      assert.strictEqual(runs, 1)
    }))

  it.effect("retries with 250 ms doubling backoff under TestClock, then succeeds", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const flaky = Action.make({
        name: "flaky",
        params: Schema.Struct({}),
        output: Schema.Number,
        retries: 3,
        run: () =>
          Ref.updateAndGet(attempts, (n) => n + 1).pipe(
            Effect.flatMap((n) => n < 4 ? Effect.fail(new Flaky({ attempt: n })) : Effect.succeed(n))
          )
      })
      const fiber = yield* Effect.forkChild(ActionRunner.execute(flaky, {}), { startImmediately: true })
      assert.strictEqual(yield* Ref.get(attempts), 1)
      yield* TestClock.adjust("249 millis")
      assert.strictEqual(yield* Ref.get(attempts), 1)
      yield* TestClock.adjust("1 millis") // 250
      assert.strictEqual(yield* Ref.get(attempts), 2)
      yield* TestClock.adjust("500 millis") // +500
      assert.strictEqual(yield* Ref.get(attempts), 3)
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(yield* Ref.get(attempts), 3)
      yield* TestClock.adjust("1 millis") // +1000
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.output, 4)
    }))

  it.effect("backoff is capped at maxBackoff (default 30 s)", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const always = Action.make({
        name: "always_fails",
        params: Schema.Struct({}),
        output: Schema.Number,
        retries: 10,
        backoff: "10 seconds",
        run: () => Effect.andThen(Ref.update(attempts, (n) => n + 1), Effect.fail("nope"))
      })
      yield* Effect.forkChild(ActionRunner.execute(always, {}), { startImmediately: true })
      yield* TestClock.adjust("10 seconds") // 2
      yield* TestClock.adjust("20 seconds") // 3
      assert.strictEqual(yield* Ref.get(attempts), 3)
      yield* TestClock.adjust("30 seconds") // capped: 40 → 30
      assert.strictEqual(yield* Ref.get(attempts), 4)
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual(yield* Ref.get(attempts), 5)
    }))

  it.effect("the retryable predicate stops retries; the default is 1 retry", () =>
    Effect.gen(function*() {
      let runs = 0
      const fatal = Action.make({
        name: "fatal",
        params: Schema.Struct({}),
        output: Schema.Number,
        retries: 5,
        retryable: (e) => !(e instanceof Flaky && e.attempt === 1),
        run: () => Effect.fail(new Flaky({ attempt: ++runs }))
      })
      const error = yield* Effect.flip(ActionRunner.execute(fatal, {}))
      assert.strictEqual(error._tag, "ActionFailed")
      assert.strictEqual(runs, 1)
      let defaults = 0
      const twice = Action.make({
        name: "twice",
        params: Schema.Struct({}),
        output: Schema.Number,
        run: () => Effect.fail(++defaults)
      })
      const f = yield* Effect.forkChild(Effect.flip(ActionRunner.execute(twice, {})), { startImmediately: true })
      yield* TestClock.adjust("250 millis")
      const e2 = yield* Fiber.join(f)
      assert.strictEqual(defaults, 2)
      if (e2._tag === "ActionFailed") assert.strictEqual(e2.attempts, 2)
    }))

  it.effect("times out each attempt (default 30 s) and compensates once, supervised, with its own timeout", () =>
    Effect.gen(function*() {
      const undone = yield* Ref.make<Array<string>>([])
      const slow = Action.make({
        name: "slow",
        params: Schema.Struct({ id: Schema.String }),
        output: Schema.Number,
        retries: 0,
        run: () => Effect.never,
        compensate: ({ id }, error) => Ref.update(undone, (xs) => [...xs, `${id}:${(error as { _tag: string })._tag}`])
      })
      const fiber = yield* Effect.forkChild(Effect.flip(ActionRunner.execute(slow, { id: "a" })), {
        startImmediately: true
      })
      yield* TestClock.adjust("30 seconds")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "ActionFailed")
      if (error._tag === "ActionFailed") {
        assert.strictEqual(error.compensation, "succeeded")
        assert.strictEqual((error.error as { _tag: string })._tag, "ActionTimeout")
      }
      assert.deepStrictEqual(yield* Ref.get(undone), ["a:ActionTimeout"])

      const stuck = Action.make({
        name: "stuck_undo",
        params: Schema.Struct({}),
        output: Schema.Number,
        retries: 0,
        run: () => Effect.fail("boom"),
        compensate: () => Effect.never,
        compensateTimeout: "2 seconds"
      })
      const f2 = yield* Effect.forkChild(Effect.flip(ActionRunner.execute(stuck, {})), { startImmediately: true })
      yield* TestClock.adjust("2 seconds")
      const e2 = yield* Fiber.join(f2)
      if (e2._tag === "ActionFailed") assert.strictEqual(e2.compensation, "timedOut")
    }))

  it.effect("a compensation keeps running when the caller is interrupted", () =>
    Effect.gen(function*() {
      const done = yield* Ref.make(false)
      const a = Action.make({
        name: "undo_outlives",
        params: Schema.Struct({}),
        output: Schema.Number,
        retries: 0,
        run: () => Effect.fail("x"),
        compensate: () => Effect.sleep("1 second").pipe(Effect.andThen(Ref.set(done, true)))
      })
      const fiber = yield* Effect.forkChild(ActionRunner.execute(a, {}), { startImmediately: true })
      yield* Effect.yieldNow
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("1 second")
      assert.isTrue(yield* Ref.get(done))
    }))

  it.effect("chains: outputs merge into the next params; state ops accumulate", () =>
    Effect.gen(function*() {
      const parse = Action.pure({
        name: "parse",
        params: Schema.Struct({ raw: Schema.String }),
        output: Schema.Struct({ n: Schema.Number }),
        run: ({ raw }) => Action.withOps({ n: Number(raw) }, StateOp.set({ parsed: true }))
      })
      const double = Action.make({
        name: "double",
        params: Schema.Struct({ n: Schema.Number, raw: Schema.String }),
        output: Schema.Struct({ doubled: Schema.Number }),
        run: ({ n }, { state }) =>
          Effect.succeed(
            Action.withOps({ doubled: n * 2 }, StateOp.setPath(["seen"], (state as { parsed?: boolean }).parsed))
          )
      })
      const result = yield* ActionRunner.chain([parse, double], { raw: "21" }, { state: {} })
      assert.deepStrictEqual(result.output, { doubled: 42 })
      assert.deepStrictEqual(StateOp.apply({}, result.ops), { parsed: true, seen: true })
    }))
})

describe("StateOp", () => {
  it("set deep-merges, replace replaces, delete keys / paths, set path creates", () => {
    const s0 = { a: { b: 1, c: [1, 2] }, d: 1 }
    assert.deepStrictEqual(StateOp.apply(s0, [StateOp.set({ a: { b: 2 } })]), { a: { b: 2, c: [1, 2] }, d: 1 })
    assert.deepStrictEqual(StateOp.apply(s0, [StateOp.replace({ z: 1 })]), { z: 1 })
    assert.deepStrictEqual(StateOp.apply(s0, [StateOp.deleteKeys("d")]), { a: { b: 1, c: [1, 2] } })
    assert.deepStrictEqual(StateOp.apply(s0, [StateOp.setPath(["x", "y"], 3)]), { ...s0, x: { y: 3 } })
    assert.deepStrictEqual(StateOp.apply(s0, [StateOp.deletePath(["a", "c", 0])]), { a: { b: 1, c: [2] }, d: 1 })
    assert.deepStrictEqual(StateOp.apply(s0, [StateOp.deletePath(["nope", "x"])]), s0)
    assert.deepStrictEqual(s0, { a: { b: 1, c: [1, 2] }, d: 1 }) // untouched
  })
})
