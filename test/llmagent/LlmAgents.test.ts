import { assert, describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Option, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Action, Tool } from "../../src/agent/index.ts"
import { ProviderOverloaded } from "../../src/llm/index.ts"
import { Checkpoints, type CheckpointsShape, LlmAgent, LlmAgents, TurnCrashed } from "../../src/llmagent/index.ts"
import { ConversationMemory, layerMemory } from "../../src/memory/index.ts"
import { lastUser, recording, settle } from "./support.ts"

const memory = layerMemory()

describe("LlmAgents: one actor per agent, turns in its mailbox", () => {
  it.effect("ask answers; the conversation is kept in memory under the agent id", () =>
    Effect.gen(function*() {
      const { llm, requests } = recording({ fallback: (req) => ({ text: `echo ${lastUser(req)}` }) })
      const Echo = LlmAgent.make({ name: "echo", model: "fast", llm, instructions: "Echo." })
      const agents = yield* LlmAgents.make({ agents: [Echo] })
      const first = yield* agents.ask("echo:a", "hello")
      expect(first.text).toBe("echo hello")
      expect(first.output).toBe("echo hello")
      expect(first.steps).toBe(1)
      expect(first.usage.totalTokens).toBeGreaterThan(0)
      yield* agents.ask("echo:a", "again")
      // the second request carried the first exchange
      expect(requests[1]?.messages.map((m) => m.content)).toStrictEqual(["Echo.", "hello", "echo hello", "again"])
      const history = yield* agents.history("echo:a")
      expect(history.map((m) => m.role)).toStrictEqual(["user", "assistant", "user", "assistant"])
      const status = yield* agents.status("echo:a")
      expect(status).toMatchObject({ alive: true, state: "idle", turns: 2, incarnation: 1 })
    }).pipe(Effect.scoped, Effect.provide(memory)))

  it.effect("turns to one agent run one at a time in arrival order; different agents run concurrently", () =>
    Effect.gen(function*() {
      const { llm, requests } = recording({ latency: "1 second", fallback: (req) => ({ text: lastUser(req) }) })
      const Slow = LlmAgent.make({ name: "slow", model: "fast", llm, memory: "none" })
      const agents = yield* LlmAgents.make({ agents: [Slow] })
      const order: Array<string> = []
      const ask = (id: string, text: string) =>
        Effect.forkChild(Effect.tap(agents.ask(id, text), (a) => Effect.sync(() => order.push(`${id}:${a.text}`))), {
          startImmediately: true
        })
      const fibers = [
        yield* ask("slow:a", "1"),
        yield* ask("slow:a", "2"),
        yield* ask("slow:b", "x"),
        yield* ask("slow:a", "3")
      ]
      yield* settle
      expect(requests.map(lastUser)).toStrictEqual(["1", "x"]) // one in flight per agent, both agents at once
      expect((yield* agents.status("slow:a")).queued).toBe(2)
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(order).toStrictEqual(["slow:a:1", "slow:b:x"])
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      yield* Fiber.joinAll(fibers)
      expect(order).toStrictEqual(["slow:a:1", "slow:b:x", "slow:a:2", "slow:a:3"])
      expect(requests.map(lastUser)).toStrictEqual(["1", "x", "2", "3"])
    }).pipe(Effect.scoped))

  it.effect("the type carries the requirements: conversation memory needs ConversationMemory", () =>
    Effect.gen(function*() {
      const { llm } = recording()
      const WithMemory = LlmAgent.make({ name: "m", model: "fast", llm })
      const WithoutMemory = LlmAgent.make({ name: "n", model: "fast", llm, memory: "none" })
      const withMemory: Layer.Layer<LlmAgents, unknown, ConversationMemory> = LlmAgents.layer({ agents: [WithMemory] })
      const withoutMemory: Layer.Layer<LlmAgents, unknown, never> = LlmAgents.layer({ agents: [WithoutMemory] })
      // @ts-expect-error ConversationMemory is required
      const missing: Layer.Layer<LlmAgents, unknown, never> = LlmAgents.layer({ agents: [WithMemory] })
      void missing
      const answer = yield* LlmAgents.ask("n:1", "hi").pipe(Effect.provide(withoutMemory))
      expect(answer.steps).toBe(1)
      const remembered = yield* Effect.gen(function*() {
        yield* LlmAgents.ask("m:1", "hi")
        return yield* LlmAgents.history("m:1")
      }).pipe(Effect.provide(withMemory.pipe(Layer.provideMerge(memory))))
      expect(remembered.length).toBe(2)
    }))

  it.effect("a full turn queue refuses turns with AgentBusy (ask and tell); accepted turns still complete", () =>
    Effect.gen(function*() {
      const { llm, requests } = recording({ latency: "1 second" })
      const Busy = LlmAgent.make({ name: "b", model: "fast", llm, memory: "none", maxQueuedTurns: 1 })
      const agents = yield* LlmAgents.make({ agents: [Busy] })
      const first = yield* Effect.forkChild(agents.ask("b:1", "one"), { startImmediately: true })
      yield* settle
      yield* agents.tell("b:1", "two") // queued behind the running turn
      yield* settle
      expect((yield* Effect.flip(agents.tell("b:1", "three")))._tag).toBe("AgentBusy")
      expect((yield* Effect.flip(agents.ask("b:1", "four")))._tag).toBe("AgentBusy")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(first)
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(requests.map(lastUser)).toStrictEqual(["one", "two"])
    }).pipe(Effect.scoped))

  it.effect("askStream's onAccepted is called once when the agent takes the turn, never for a refused turn", () =>
    Effect.gen(function*() {
      const { llm } = recording({ latency: "1 second" })
      const Busy = LlmAgent.make({ name: "b", model: "fast", llm, memory: "none", maxQueuedTurns: 1 })
      const agents = yield* LlmAgents.make({ agents: [Busy] })
      const accepted: Array<string> = []
      const streamed = (input: string) =>
        Stream.runDrain(agents.askStream("b:1", input, { onAccepted: () => accepted.push(input) }))
      const first = yield* Effect.forkChild(streamed("one"), { startImmediately: true })
      yield* settle
      const second = yield* Effect.forkChild(streamed("two"), { startImmediately: true })
      yield* settle
      expect(accepted).toStrictEqual(["one", "two"])
      expect((yield* Effect.flip(streamed("three")))._tag).toBe("AgentBusy")
      expect(accepted).toStrictEqual(["one", "two"])
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      expect(accepted).toStrictEqual(["one", "two"])
    }).pipe(Effect.scoped))

  it.effect("askStream's onAccepted is called once per turn, also when a crashed agent hands the queued turn on", () =>
    Effect.gen(function*() {
      const { llm } = recording({ latency: "1 second", die: /crash/ })
      const Fragile = LlmAgent.make({ name: "f", model: "fast", llm, memory: "none", maxQueuedTurns: 4 })
      const agents = yield* LlmAgents.make({ agents: [Fragile] })
      const accepted: Array<string> = []
      const streamed = (input: string) =>
        Effect.forkChild(
          Effect.exit(Stream.runDrain(agents.askStream("f:1", input, { onAccepted: () => accepted.push(input) }))),
          { startImmediately: true }
        )
      const first = yield* streamed("one")
      yield* settle
      const crash = yield* streamed("crash") // queued behind "one"; dies when it runs
      const handed = yield* streamed("two") // queued behind it: handed to the next incarnation
      yield* settle
      expect(accepted).toStrictEqual(["one", "crash", "two"])
      yield* TestClock.adjust("1 second") // "one" answers, "crash" crashes the agent
      yield* settle
      expect((yield* agents.status("f:1")).incarnation).toBe(2)
      yield* TestClock.adjust("1 second") // "two" answers on the restarted agent
      assert.isTrue(Exit.isSuccess(yield* Fiber.join(first)))
      assert.isTrue(Exit.isFailure(yield* Fiber.join(crash)))
      assert.isTrue(Exit.isSuccess(yield* Fiber.join(handed)))
      expect(accepted).toStrictEqual(["one", "crash", "two"])
    }).pipe(Effect.scoped))

  it.effect("unknown definitions and bad ids fail with typed errors", () =>
    Effect.gen(function*() {
      const { llm } = recording()
      const A = LlmAgent.make({ name: "a", model: "fast", llm, memory: "none" })
      const agents = yield* LlmAgents.make({ agents: [A] })
      const unknown = yield* Effect.flip(agents.ask("b:1", "hi"))
      expect(unknown._tag).toBe("UnknownAgentKind")
      const empty = yield* Effect.flip(agents.ask("", "hi"))
      expect(empty._tag).toBe("InvalidAgentId")
      const badInput = yield* Effect.flip(agents.ask("a:1", { input: "" }))
      expect(badInput._tag).toBe("InvalidTurnInput")
      expect((yield* agents.status("a:1")).alive).toBe(false)
    }).pipe(Effect.scoped))
})

const sleepy = (log: Array<string>) =>
  Action.make({
    name: "sleepy",
    description: "Sleeps for a minute",
    params: Schema.Struct({}),
    output: Schema.String,
    timeout: "10 minutes",
    retries: 0,
    run: () =>
      Effect.sleep("1 minute").pipe(
        Effect.as("rested"),
        Effect.onInterrupt(() => Effect.sync(() => log.push("tool interrupted")))
      )
  })

const toolRules = [
  { when: { lastUser: "rest" }, reply: { toolCalls: [{ name: "sleepy", arguments: {} }] } },
  { when: { tool: "sleepy" }, reply: { text: "done resting" } }
] as const

describe("LlmAgents: cancellation", () => {
  it.effect("cancel(id) interrupts the in-flight turn mid-tool; the caller gets TurnCancelled; nothing is recorded", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const { llm } = recording({ rules: toolRules })
      const Rester = LlmAgent.make({ name: "r", model: "fast", llm, tools: [Tool.fromAction(sleepy(log))] })
      const agents = yield* LlmAgents.make({ agents: [Rester] })
      const fiber = yield* Effect.forkChild(agents.ask("r:1", "rest"), { startImmediately: true })
      yield* TestClock.adjust("10 seconds")
      expect((yield* agents.status("r:1")).state).toBe("running")
      expect(yield* agents.cancel("r:1")).toBe(true)
      const exit = yield* Fiber.await(fiber)
      assert(Exit.isFailure(exit))
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toMatchObject({ _tag: "TurnCancelled", reason: "cancelled" })
      expect(log).toStrictEqual(["tool interrupted"])
      expect(yield* agents.history("r:1")).toStrictEqual([])
      // the agent keeps serving
      const next = yield* Effect.forkChild(agents.ask("r:1", "rest"), { startImmediately: true })
      yield* TestClock.adjust("1 minute")
      expect((yield* Fiber.join(next)).text).toBe("done resting")
    }).pipe(Effect.scoped, Effect.provide(memory)))

  it.effect("a caller that goes away interrupts its turn; a tell completes and is recorded", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const { llm } = recording({ rules: toolRules })
      const Rester = LlmAgent.make({ name: "r", model: "fast", llm, tools: [Tool.fromAction(sleepy(log))] })
      const agents = yield* LlmAgents.make({ agents: [Rester] })
      const fiber = yield* Effect.forkChild(agents.ask("r:1", "rest"), { startImmediately: true })
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.interrupt(fiber)
      yield* settle
      expect(log).toStrictEqual(["tool interrupted"])
      expect((yield* agents.status("r:1")).state).toBe("idle")
      yield* agents.tell("r:1", "rest")
      yield* settle
      expect((yield* agents.status("r:1")).state).toBe("running")
      yield* TestClock.adjust("1 minute")
      yield* settle
      const history = yield* agents.history("r:1")
      expect(history.map((m) => m.role)).toStrictEqual(["user", "assistant", "tool", "assistant"])
      expect(history[3]?.content).toBe("done resting")
    }).pipe(Effect.scoped, Effect.provide(memory)))

  it.effect("a caller dropping its stream interrupts the turn (model call and tools)", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const { llm } = recording({ rules: toolRules })
      const Rester = LlmAgent.make({ name: "r", model: "fast", llm, tools: [Tool.fromAction(sleepy(log))] })
      const agents = yield* LlmAgents.make({ agents: [Rester] })
      // take the first events (up to the tool call) and drop the stream
      const events = yield* agents.askStream("r:1", "rest").pipe(
        Stream.takeUntil((e) => e._tag === "ToolCallStarted"),
        Stream.runCollect
      )
      expect(events.map((e) => e._tag)).toStrictEqual(["StepStarted", "ToolCallStarted"])
      yield* settle
      expect(log).toStrictEqual(["tool interrupted"])
      expect((yield* agents.status("r:1")).state).toBe("idle")
      expect(yield* agents.history("r:1")).toStrictEqual([])
      // a full stream ends with Finished
      const fiber = yield* Effect.forkChild(Stream.runCollect(agents.askStream("r:1", "rest")), {
        startImmediately: true
      })
      yield* TestClock.adjust("1 minute")
      const all = yield* Fiber.join(fiber)
      expect(all.at(-1)).toMatchObject({ _tag: "Finished", text: "done resting", steps: 2 })
    }).pipe(Effect.scoped, Effect.provide(memory)))
})

describe("LlmAgents: supervision, idle stop, the live bound", () => {
  it.effect("a restart whose init fails is ignored: a store blip stops no other agent, the next turn starts it again", () => {
    let outage = false
    let reads = 0
    // the checkpoint store is unreachable while `outage` is set (a defect, as a lost connection is)
    const store: CheckpointsShape = {
      save: (agentId, state) => Effect.succeed({ agentId, seq: 1, at: 0, state }),
      latest: () =>
        Effect.suspend(() => {
          reads++
          return outage ? Effect.die(new Error("connection refused")) : Effect.succeed(Option.none())
        }),
      list: () => Effect.succeed([])
    }
    return Effect.gen(function*() {
      const { llm } = recording({ die: /crash/, fallback: (req) => ({ text: `ok ${lastUser(req)}` }) })
      const Fragile = LlmAgent.make({ name: "f", model: "fast", llm, memory: "none" })
      const agents = yield* LlmAgents.make({ agents: [Fragile] })
      yield* agents.ask("f:1", "hello")
      yield* agents.ask("f:2", "hello")
      outage = true
      reads = 0
      expect((yield* Effect.flip(agents.ask("f:1", "crash")))._tag).toBe("TurnCrashed")
      yield* settle
      expect(reads).toBe(1) // one restart, ignored: not retried until the intensity
      expect((yield* agents.ask("f:2", "still there?")).text).toBe("ok still there?")
      outage = false
      expect((yield* agents.ask("f:1", "back?")).text).toBe("ok back?")
      expect(yield* agents.status("f:1")).toMatchObject({ alive: true })
    }).pipe(Effect.scoped, Effect.provide(Layer.succeed(Checkpoints, store)))
  })

  it.effect("a turn queued behind a crash is answered by the next incarnation; the supervisor keeps running", () =>
    Effect.gen(function*() {
      const { llm } = recording({ latency: "1 second", die: /crash/, fallback: (req) => ({ text: lastUser(req) }) })
      const Fragile = LlmAgent.make({ name: "f", model: "fast", llm, memory: "none" })
      const agents = yield* LlmAgents.make({ agents: [Fragile] })
      const ask = (input: string) => Effect.forkChild(Effect.exit(agents.ask("f:1", input)), { startImmediately: true })
      const first = yield* ask("one")
      yield* settle
      const crash = yield* ask("crash")
      // queued: handed on when "crash" crashes the agent, it starts the next incarnation before the supervisor's
      // restart, which then finds the name taken and is ignored (not retried until the intensity stops every agent)
      const handed = yield* ask("two")
      yield* TestClock.adjust("1 second")
      yield* settle
      yield* TestClock.adjust("1 second")
      assert.isTrue(Exit.isSuccess(yield* Fiber.join(first)))
      const crashed = yield* Fiber.join(crash)
      assert.isTrue(Exit.isFailure(crashed) && Cause.squash(crashed.cause) instanceof TurnCrashed)
      const answer = yield* Fiber.join(handed)
      assert.isTrue(Exit.isSuccess(answer) && answer.value.text === "two")
      yield* settle
      expect(yield* agents.status("f:1")).toMatchObject({ alive: true, state: "idle" })
      const again = yield* Effect.forkChild(agents.ask("f:1", "again"), { startImmediately: true })
      const other = yield* Effect.forkChild(agents.ask("f:2", "another agent"), { startImmediately: true })
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(again)).text).toBe("again")
      expect((yield* Fiber.join(other)).text).toBe("another agent")
    }).pipe(Effect.scoped))

  it.effect("a turn that dies crashes its agent; the restarted agent reloads its history from memory", () =>
    Effect.gen(function*() {
      const { llm, requests } = recording({ die: /crash/, fallback: (req) => ({ text: `ok ${lastUser(req)}` }) })
      const Fragile = LlmAgent.make({ name: "f", model: "fast", llm })
      const agents = yield* LlmAgents.make({ agents: [Fragile] })
      yield* agents.ask("f:1", "remember me")
      const before = yield* agents.status("f:1")
      const crashed = yield* Effect.flip(agents.ask("f:1", "crash now"))
      expect(crashed._tag).toBe("TurnCrashed")
      yield* settle
      const after = yield* agents.status("f:1")
      expect(after).toMatchObject({ alive: true, incarnation: 2, historyAtStart: 2 })
      expect(after.pid).not.toBe(before.pid)
      const answer = yield* agents.ask("f:1", "still there?")
      expect(answer.text).toBe("ok still there?")
      expect(requests.at(-1)?.messages.map((m) => m.content)).toStrictEqual([
        "remember me",
        "ok remember me",
        "still there?"
      ])
    }).pipe(Effect.scoped, Effect.provide(memory)))

  it.effect("a temporary agent is not restarted after a crash; the next turn starts a fresh one", () =>
    Effect.gen(function*() {
      const { llm } = recording({ die: /crash/ })
      const OneShot = LlmAgent.make({ name: "t", model: "fast", llm, restart: "temporary", memory: "none" })
      const agents = yield* LlmAgents.make({ agents: [OneShot] })
      yield* Effect.flip(agents.ask("t:1", "crash"))
      yield* settle
      expect((yield* agents.status("t:1")).alive).toBe(false)
      yield* agents.ask("t:1", "hello")
      expect((yield* agents.status("t:1")).incarnation).toBe(2)
    }).pipe(Effect.scoped))

  it.effect("a model error is a TurnFailed and the agent keeps running", () =>
    Effect.gen(function*() {
      const overloaded = new ProviderOverloaded({ provider: "scripted", description: "overloaded", retryable: true })
      const { llm } = recording({
        rules: [{ when: { lastUser: "fail" }, reply: { error: overloaded } }],
        fallback: (req) => ({ text: `ok ${lastUser(req)}` })
      })
      const Shaky = LlmAgent.make({ name: "s", model: "fast", llm })
      const agents = yield* LlmAgents.make({ agents: [Shaky] })
      yield* agents.ask("s:1", "hello")
      const before = yield* agents.status("s:1")
      const failed = yield* Effect.flip(agents.ask("s:1", "fail please"))
      expect(failed).toMatchObject({ _tag: "TurnFailed", id: "s:1", tag: "ProviderOverloaded" })
      yield* settle
      // the same process, not a restart: a typed failure is an answer, not a crash
      const after = yield* agents.status("s:1")
      expect(after).toMatchObject({ alive: true, state: "idle", incarnation: 1, turns: 2 })
      expect(after.pid).toBe(before.pid)
      expect((yield* agents.ask("s:1", "still there?")).text).toBe("ok still there?")
      // the failed turn left nothing in the conversation
      expect((yield* agents.history("s:1")).map((m) => m.content)).toStrictEqual([
        "hello",
        "ok hello",
        "still there?",
        "ok still there?"
      ])
    }).pipe(Effect.scoped, Effect.provide(memory)))

  it.effect("turns that reach an agent while it stops are delivered to its next incarnation", () =>
    Effect.gen(function*() {
      const { llm, requests } = recording({ latency: "1 second", fallback: (req) => ({ text: `ok ${lastUser(req)}` }) })
      const A = LlmAgent.make({ name: "a", model: "fast", llm })
      const agents = yield* LlmAgents.make({ agents: [A], maxLive: 1 })
      const first = yield* Effect.forkChild(agents.ask("a:1", "one"), { startImmediately: true })
      yield* settle
      // starting a:2 evicts the busy a:1: it finishes its turn, takes no new one, then stops
      const other = yield* Effect.forkChild(agents.ask("a:2", "x"), { startImmediately: true })
      yield* settle
      const stopping = yield* agents.status("a:1")
      expect(stopping).toMatchObject({ alive: true, state: "running", incarnation: 1 })
      const asked = yield* Effect.forkChild(agents.ask("a:1", "two"), { startImmediately: true })
      yield* agents.tell("a:1", "three")
      yield* settle
      expect(requests.map(lastUser)).toStrictEqual(["one", "x"]) // neither reached the stopping agent's model
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(first)).text).toBe("ok one")
      yield* Fiber.join(other)
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(asked)).text).toBe("ok two")
      yield* settle
      const next = yield* agents.status("a:1")
      expect(next).toMatchObject({ alive: true, incarnation: 2 })
      expect(next.pid).not.toBe(stopping.pid)
      expect(requests.map(lastUser).slice(2).sort()).toStrictEqual(["three", "two"])
      const users = (yield* agents.history("a:1")).filter((m) => m.role === "user").map((m) => m.content)
      expect(users.sort()).toStrictEqual(["one", "three", "two"])
    }).pipe(Effect.scoped, Effect.provide(memory)))

  it.effect("an idle agent stops after its idle timeout and comes back with its history on the next turn", () =>
    Effect.gen(function*() {
      const { llm } = recording()
      const Idle = LlmAgent.make({ name: "i", model: "fast", llm, idleTimeout: "1 minute" })
      const Forever = LlmAgent.make({ name: "p", model: "fast", llm, idleTimeout: "1 minute", restart: "permanent" })
      const agents = yield* LlmAgents.make({ agents: [Idle, Forever] })
      yield* agents.ask("i:1", "hello")
      yield* agents.ask("p:1", "hello")
      yield* TestClock.adjust("59 seconds")
      expect((yield* agents.status("i:1")).alive).toBe(true)
      yield* TestClock.adjust("1 second")
      yield* settle
      expect((yield* agents.status("i:1")).alive).toBe(false)
      // a permanent agent is removed from its supervisor, not restarted
      expect((yield* agents.status("p:1")).alive).toBe(false)
      expect(yield* agents.live).toStrictEqual([])
      yield* agents.ask("i:1", "back?")
      expect(yield* agents.status("i:1")).toMatchObject({ alive: true, incarnation: 2, historyAtStart: 2 })
      expect((yield* agents.history("i:1")).length).toBe(4)
    }).pipe(Effect.scoped, Effect.provide(memory)))

  it.effect("live agents are bounded: starting one more stops the least recently used", () =>
    Effect.gen(function*() {
      const { llm } = recording()
      const A = LlmAgent.make({ name: "a", model: "fast", llm, memory: "none" })
      const agents = yield* LlmAgents.make({ agents: [A], maxLive: 2 })
      yield* agents.ask("a:1", "x")
      yield* agents.ask("a:2", "x")
      yield* agents.ask("a:1", "x") // a:1 is now the most recently used
      yield* agents.ask("a:3", "x")
      expect(yield* agents.live).toStrictEqual(["a:1", "a:3"])
      expect((yield* agents.status("a:2")).alive).toBe(false)
      expect((yield* agents.status("a:1")).alive).toBe(true)
    }).pipe(Effect.scoped))

  it.effect("stop(id) stops the agent and cancels its in-flight turn", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const { llm } = recording({ rules: toolRules })
      const Rester = LlmAgent.make({
        name: "r",
        model: "fast",
        llm,
        tools: [Tool.fromAction(sleepy(log))],
        memory: "none"
      })
      const agents = yield* LlmAgents.make({ agents: [Rester] })
      const fiber = yield* Effect.forkChild(agents.ask("r:1", "rest"), { startImmediately: true })
      yield* TestClock.adjust("1 second")
      expect(yield* agents.stop("r:1")).toBe(true)
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toMatchObject({ _tag: "TurnCancelled", reason: "agent-stopped" })
      expect(log).toStrictEqual(["tool interrupted"])
      expect((yield* agents.status("r:1")).alive).toBe(false)
      expect(yield* agents.stop("r:1")).toBe(false)
    }).pipe(Effect.scoped))
})

describe("LlmAgents options", () => {
  it.effect("two definitions with one name, or a default naming no definition, fail InvalidOptions naming the field", () =>
    Effect.gen(function*() {
      const { llm } = recording({ fallback: () => ({ text: "ok" }) })
      const A = LlmAgent.make({ name: "a", model: "fast", llm, memory: "none" })
      const B = LlmAgent.make({ name: "a", model: "fast", llm, memory: "none" })
      const twice = yield* Effect.flip(LlmAgents.make({ agents: [A, B] }))
      expect([twice._tag, twice.path]).toStrictEqual(["InvalidOptions", "agents[1].name"])
      const missing = yield* Effect.flip(LlmAgents.make({ agents: [A], default: "nobody" }))
      expect([missing._tag, missing.path]).toStrictEqual(["InvalidOptions", "default"])
    }).pipe(Effect.scoped, Effect.provide(memory)))
})
