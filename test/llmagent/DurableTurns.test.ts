import { assert, describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Schema, Scope, Stream } from "effect"
import { WorkflowEngine } from "effect/workflow"
import * as fc from "fast-check"
import { afterAll } from "vitest"
import { Action, type AgentLoop, Tool } from "../../src/agent/index.ts"
import { DeadLetters } from "../../src/dlq/index.ts"
import type { LlmRequest, LlmResponse } from "../../src/llm/index.ts"
import { Journal, LlmAgent, LlmAgents, RunJournal, TurnRedrive } from "../../src/llmagent/index.ts"
import { ConversationMemory, layerMemory } from "../../src/memory/index.ts"
import type { InvalidOptions } from "../../src/runtime/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"
import { settle } from "./support.ts"

const usage = { inputTokens: 10, outputTokens: 5, totalTokens: 15 }
const response = (text: string, toolCalls: LlmResponse["toolCalls"] = []): LlmResponse => ({
  provider: "scripted",
  model: "fast",
  text,
  toolCalls,
  finishReason: toolCalls.length > 0 ? "tool-calls" : "stop",
  usage
})

/** The model step of a request: 1 + the assistant messages since the last user message. */
const stepOf = (request: LlmRequest): number => {
  let n = 1
  for (let i = request.messages.length - 1; i >= 0 && request.messages[i]?.role !== "user"; i--) {
    if (request.messages[i]?.role === "assistant") n++
  }
  return n
}

/**
 * A two-step script: step 1 asks for `charge` (not idempotent) and `lookup` (idempotent), step 2 answers. Counts the
 * calls per step; `gate` (when set) holds step 2 until it is opened.
 */
const script = () => {
  const calls = new Map<number, number>()
  const tools = { charge: 0, lookup: 0 }
  let gate: Deferred.Deferred<void> | undefined
  let inFlight: Deferred.Deferred<void> | undefined
  const llm: AgentLoop.ModelClient<never> = {
    generate: (request) =>
      Effect.gen(function*() {
        const step = stepOf(request)
        calls.set(step, (calls.get(step) ?? 0) + 1)
        if (step === 1) {
          return response("", [
            { id: "c1", name: "charge", arguments: { amount: 5 } },
            { id: "c2", name: "lookup", arguments: { order: "o-7" } }
          ])
        }
        if (inFlight !== undefined) yield* Deferred.succeed(inFlight, undefined)
        if (gate !== undefined) yield* Deferred.await(gate)
        return response(`done: ${request.messages.at(-2)?.content} / ${request.messages.at(-1)?.content}`)
      }),
    stream: () => {
      throw new Error("durable turns do not stream")
    }
  }
  const charge = Tool.fromAction(Action.make({
    name: "charge",
    description: "Charges the card",
    params: Schema.Struct({ amount: Schema.Number }),
    output: Schema.String,
    retries: 0,
    run: ({ amount }) => Effect.sync(() => `charged ${amount} #${++tools.charge}`)
  }))
  const lookup = Tool.fromAction(Action.make({
    name: "lookup",
    description: "Looks an order up",
    params: Schema.Struct({ order: Schema.String }),
    output: Schema.String,
    retries: 0,
    run: ({ order }) => Effect.sync(() => `found ${order} #${++tools.lookup}`)
  }))
  return {
    llm,
    calls,
    tools,
    toolDefs: [charge, lookup],
    hold: Effect.gen(function*() {
      gate = yield* Deferred.make<void>()
      inFlight = yield* Deferred.make<void>()
      return { gate, inFlight }
    }),
    release: () => {
      gate = undefined
      inFlight = undefined
    }
  }
}

const durableLayers = Layer.mergeAll(
  WorkflowEngine.layerMemory,
  RunJournal.layerMemory(),
  Journal.ToolLedger.layerMemory(),
  layerMemory()
)

/** Polls (without a clock) until `check` holds. */
const until = (check: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2_000; i++) {
      if (yield* check) return
      yield* Effect.yieldNow
    }
    throw new Error("condition not reached")
  })

describe("LlmAgents durable turns: every model response and every tool result is journaled before the next step", () => {
  it.effect("a durable turn is a workflow run: the answer carries its run id; Journal.replay reads its steps in order and the outcome", () =>
    Effect.gen(function*() {
      const s = script()
      const Shop = LlmAgent.make({
        name: "shop",
        model: "fast",
        llm: s.llm,
        tools: s.toolDefs,
        durable: { idempotentTools: ["lookup"] }
      })
      const agents = yield* LlmAgents.make({ agents: [Shop] })
      const answer = yield* agents.ask("shop:1", "refund o-7")
      expect(answer.text).toContain("found o-7 #1")
      expect(answer.steps).toBe(2)
      expect(answer.toolCalls).toBe(2)
      assert.isString(answer.runId)
      const run = yield* Journal.replay(answer.runId!)
      expect(run).toMatchObject({
        runId: answer.runId,
        agent: "shop",
        agentId: "shop:1",
        outcome: "answered",
        input: "refund o-7"
      })
      expect(run.steps.map((st) => [st.seq, st.name, st.kind])).toStrictEqual([
        [1, "model/1", "model"],
        [2, "tool/1/1", "tool"],
        [3, "tool/1/2", "tool"],
        [4, "model/2", "model"]
      ])
      expect(run.steps[1]?.value).toMatchObject({ _tag: "ToolSuccess", name: "charge", output: "charged 5 #1" })
      expect(run.steps[3]?.value).toMatchObject({ text: answer.text })
      expect(run.result).toMatchObject({ runId: answer.runId, text: answer.text })
      assert.isNumber(run.finishedAt)
      // the non-idempotent tool claimed its key in the ledger; the idempotent one did not
      const ledger = yield* Journal.ToolLedger
      assert.isFalse(yield* ledger.claim(`${answer.runId}/1/1`))
      assert.isTrue(yield* ledger.claim(`${answer.runId}/1/2`))
      // the conversation is kept like any turn's
      expect((yield* ConversationMemory.use((m) => m.messages("shop:1"))).length).toBe(5)
      const unknown = yield* Effect.flip(Journal.replay("nope"))
      expect(unknown).toMatchObject({ _tag: "RunNotFound", runId: "nope" })
    }).pipe(Effect.scoped, Effect.provide(durableLayers)))

  it.effect(
    "a run interrupted by a crash resumes from the last journaled step when the agents start again: answered model calls are not repeated, tools not re-run",
    () =>
      Effect.gen(function*() {
        const s = script()
        const Shop = LlmAgent.make({
          name: "shop",
          model: "fast",
          llm: s.llm,
          tools: s.toolDefs,
          durable: { idempotentTools: ["lookup"] }
        })
        const journal = yield* RunJournal
        // first incarnation: step 2's model call is in flight when everything stops
        const first = yield* Scope.make()
        const agents = yield* LlmAgents.make({ agents: [Shop] }).pipe(Scope.provide(first))
        const { inFlight } = yield* s.hold
        const caller = yield* Effect.forkChild(agents.ask("shop:1", "refund o-7"), { startImmediately: true })
        yield* Deferred.await(inFlight)
        const [run] = yield* journal.list({ agentId: "shop:1", limit: 10 })
        assert.isDefined(run)
        yield* Scope.close(first, Exit.void)
        const lost = yield* Fiber.await(caller)
        assert.isTrue(Exit.isFailure(lost))
        const before = Option.getOrThrow(yield* journal.get(run!.runId))
        expect(before.outcome).toBeUndefined()
        expect(before.steps.map((st) => st.name)).toStrictEqual(["model/1", "tool/1/1", "tool/1/2"])
        expect(yield* journal.unfinished(run!.workflow, 10)).toHaveLength(1)
        // second incarnation: the layer is built again and resumes the run
        s.release()
        yield* LlmAgents.make({ agents: [Shop] })
        yield* until(Effect.map(journal.get(run!.runId), (r) => Option.isSome(r) && r.value.outcome !== undefined))
        const after = Option.getOrThrow(yield* journal.get(run!.runId))
        expect(after.outcome).toBe("answered")
        expect(after.steps.map((st) => st.name)).toStrictEqual(["model/1", "tool/1/1", "tool/1/2", "model/2"])
        // step 1 was answered once; step 2 was in flight at the crash and is the only call sent again
        expect(s.calls.get(1)).toBe(1)
        expect(s.calls.get(2)).toBe(2)
        expect(s.tools).toStrictEqual({ charge: 1, lookup: 1 })
        expect(yield* journal.unfinished(run!.workflow, 10)).toHaveLength(0)
        expect(after.result).toMatchObject({ runId: run!.runId, steps: 2, toolCalls: 2 })
      }).pipe(Effect.scoped, Effect.provide(durableLayers)),
    { timeout: 20_000 }
  )

  it.effect(
    "a non-idempotent tool whose result was not journaled (the process died while it ran) is reported to the model as a tool error (ToolOutcomeUnknown) when the run resumes, not re-run",
    () =>
      Effect.gen(function*() {
        const requests: Array<LlmRequest> = []
        let charges = 0
        const running = yield* Deferred.make<void>()
        const never = yield* Deferred.make<void>()
        const llm: AgentLoop.ModelClient<never> = {
          generate: (request) =>
            Effect.sync(() => {
              requests.push(request)
              return stepOf(request) === 1
                ? response("", [{ id: "c1", name: "charge", arguments: { amount: 5 } }])
                : response(`told: ${request.messages.at(-1)?.content}`)
            }),
          stream: () => {
            throw new Error("durable turns do not stream")
          }
        }
        // the first charge never returns: the crash comes while it runs, after it claimed its key
        const charge = Tool.fromAction(Action.make({
          name: "charge",
          description: "Charges the card",
          params: Schema.Struct({ amount: Schema.Number }),
          output: Schema.String,
          retries: 0,
          run: ({ amount }) =>
            Effect.gen(function*() {
              if (++charges === 1) {
                yield* Deferred.succeed(running, undefined)
                yield* Deferred.await(never)
              }
              return `charged ${amount}`
            })
        }))
        const Shop = LlmAgent.make({ name: "shop", model: "fast", llm, tools: [charge], durable: true })
        const journal = yield* RunJournal
        // first incarnation: stops (everything it runs is interrupted) while charge runs
        const first = yield* Scope.make()
        const agents = yield* LlmAgents.make({ agents: [Shop] }).pipe(Scope.provide(first))
        const caller = yield* Effect.forkChild(agents.ask("shop:1", "refund o-7"), { startImmediately: true })
        yield* Deferred.await(running)
        const [run] = yield* journal.list({ agentId: "shop:1", limit: 10 })
        assert.isDefined(run)
        yield* Scope.close(first, Exit.void)
        assert.isTrue(Exit.isFailure(yield* Fiber.await(caller)))
        const before = Option.getOrThrow(yield* journal.get(run!.runId))
        expect(before.steps.map((st) => st.name)).toStrictEqual(["model/1"])
        // second incarnation: the run resumes; the charge's key is claimed but no result was journaled
        yield* LlmAgents.make({ agents: [Shop] })
        yield* until(Effect.map(journal.get(run!.runId), (r) => Option.isSome(r) && r.value.outcome !== undefined))
        const after = Option.getOrThrow(yield* journal.get(run!.runId))
        expect(after.outcome).toBe("answered")
        expect(after.steps.map((st) => st.name)).toStrictEqual(["model/1", "tool/1/1", "model/2"])
        expect(after.steps[1]?.value).toMatchObject({
          _tag: "ToolFailure",
          name: "charge",
          error: { tag: "ToolOutcomeUnknown" }
        })
        // not re-run: the tool ran once, in the first incarnation
        expect(charges).toBe(1)
        // the model got it as a tool error and answered; model/1 was answered once
        expect(requests.filter((r) => stepOf(r) === 1)).toHaveLength(1)
        const told = requests.at(-1)?.messages.at(-1)
        expect(told).toMatchObject({ role: "tool", name: "charge", isError: true })
        expect(JSON.parse(told?.content ?? "{}")).toMatchObject({ error: { tag: "ToolOutcomeUnknown" } })
        expect(after.result).toMatchObject({ runId: run!.runId, steps: 2, toolCalls: 1 })
      }).pipe(Effect.scoped, Effect.provide(durableLayers)),
    { timeout: 20_000 }
  )

  it.effect("a run recorded but killed before its workflow started is started when the agents start again", () =>
    Effect.gen(function*() {
      const s = script()
      const Shop = LlmAgent.make({ name: "shop", model: "fast", llm: s.llm, tools: s.toolDefs, durable: true })
      const journal = yield* RunJournal
      yield* journal.start({
        runId: "r-early",
        agent: "shop",
        agentId: "shop:9",
        workflow: "LlmAgentTurn.llm-agents.shop",
        executionId: "not-started",
        input: "refund o-9",
        maxSteps: 4,
        startedAt: 0
      })
      yield* LlmAgents.make({ agents: [Shop] })
      yield* until(Effect.map(journal.get("r-early"), (r) => Option.isSome(r) && r.value.outcome !== undefined))
      const run = Option.getOrThrow(yield* journal.get("r-early"))
      expect(run).toMatchObject({ outcome: "answered", maxSteps: 4, result: { runId: "r-early", steps: 2 } })
      expect(run.steps).toHaveLength(4)
    }).pipe(Effect.scoped, Effect.provide(durableLayers)))

  it.effect("cancelling a durable turn interrupts its run; the journal records it cancelled and nothing resumes it", () =>
    Effect.gen(function*() {
      const s = script()
      const Shop = LlmAgent.make({ name: "shop", model: "fast", llm: s.llm, tools: s.toolDefs, durable: true })
      const agents = yield* LlmAgents.make({ agents: [Shop] })
      const journal = yield* RunJournal
      const { inFlight } = yield* s.hold
      const caller = yield* Effect.forkChild(agents.ask("shop:1", "refund o-7"), { startImmediately: true })
      yield* Deferred.await(inFlight)
      expect(yield* agents.cancel("shop:1")).toBe(true)
      const error = yield* Effect.flip(Fiber.join(caller))
      expect(error).toMatchObject({ _tag: "TurnCancelled", reason: "cancelled" })
      yield* settle
      const [run] = yield* journal.list({ agent: "shop", limit: 10 })
      expect(run?.outcome).toBe("cancelled")
      expect(yield* journal.unfinished(run!.workflow, 10)).toHaveLength(0)
    }).pipe(Effect.scoped, Effect.provide(durableLayers)))

  it.effect("a failing model call fails the turn with TurnFailed; the failure is journaled and the run recorded failed", () =>
    Effect.gen(function*() {
      const llm: AgentLoop.ModelClient<{ readonly _tag: "ProviderDown"; readonly message: string }> = {
        generate: () => Effect.fail({ _tag: "ProviderDown", message: "503" }),
        stream: () => {
          throw new Error("unused")
        }
      }
      const Shop = LlmAgent.make({ name: "shop", model: "fast", llm, durable: true, memory: "none" })
      const agents = yield* LlmAgents.make({ agents: [Shop] })
      const error = yield* Effect.flip(agents.ask("shop:1", "hi"))
      expect(error).toMatchObject({ _tag: "TurnFailed", tag: "ProviderDown", detail: "503" })
      const [run] = yield* RunJournal.use((j) => j.list({ limit: 1 }))
      const record = yield* Journal.replay(run!.runId)
      expect(record.outcome).toBe("failed")
      expect(record.steps).toMatchObject([{
        name: "model/1",
        value: { error: { tag: "ProviderDown", detail: "503" } }
      }])
    }).pipe(Effect.scoped, Effect.provide(durableLayers)))

  it.effect("a streamed durable turn runs as a run and ends with Finished", () =>
    Effect.gen(function*() {
      const s = script()
      const Shop = LlmAgent.make({ name: "shop", model: "fast", llm: s.llm, tools: s.toolDefs, durable: true })
      const agents = yield* LlmAgents.make({ agents: [Shop] })
      const events = yield* Stream.runCollect(agents.askStream("shop:1", "refund"))
      expect(events.map((e) => e._tag)).toStrictEqual(["Finished"])
      expect(events[0]).toMatchObject({ _tag: "Finished", stopReason: "answered", steps: 2 })
    }).pipe(Effect.scoped, Effect.provide(durableLayers)))
})

describe("LlmAgent durable option", () => {
  it("a definition names only its own tools as idempotent, and durable agents have no sub-agents", () => {
    const s = script()
    expect(() =>
      LlmAgent.make({ name: "x", model: "fast", llm: s.llm, tools: s.toolDefs, durable: { idempotentTools: ["nope"] } })
    )
      .toThrow(/unknown tool nope/)
    const Child = LlmAgent.make({ name: "child", model: "fast", llm: s.llm })
    expect(() =>
      LlmAgent.make({ name: "y", model: "fast", llm: s.llm, tools: [LlmAgent.asTool(Child)], durable: true })
    )
      .toThrow(/sub-agents/)
    expect(LlmAgent.make({ name: "z", model: "fast", llm: s.llm }).durable).toBeUndefined()
  })

  it.effect("the durable services are in the definition's requirements; without them the layer fails to build", () =>
    Effect.gen(function*() {
      const s = script()
      const Shop = LlmAgent.make({
        name: "shop",
        model: "fast",
        llm: s.llm,
        memory: "none",
        tools: s.toolDefs,
        durable: true
      })
      const layer: Layer.Layer<
        LlmAgents,
        InvalidOptions,
        WorkflowEngine.WorkflowEngine | RunJournal | Journal.ToolLedger
      > = LlmAgents.layer({ agents: [Shop] })
      // @ts-expect-error a durable definition cannot be run without its services
      const _none: Layer.Layer<LlmAgents, InvalidOptions, never> = LlmAgents.layer({ agents: [Shop] })
      void _none
      // forced past the types: the layer dies naming what is missing
      const exit = yield* Effect.exit(Layer.build(layer as unknown as Layer.Layer<LlmAgents>))
      assert.isTrue(Exit.isFailure(exit))
      expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain(
        "durable turns need WorkflowEngine, RunJournal and ToolLedger"
      )
    }).pipe(Effect.scoped))

  it.effect("fuzz: any durable option value either defines the agent or throws a TypeError naming durable", () =>
    Effect.sync(() => {
      const s = script()
      for (const value of fc.sample(fc.anything(), 200)) {
        try {
          LlmAgent.make({ name: "f", model: "fast", llm: s.llm, tools: s.toolDefs, durable: value as never })
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError)
          expect(String(error)).toMatch(/durable/)
        }
      }
    }))
})

describe("LlmAgents: a turn that fails permanently goes to the dead-letter queue", () => {
  it.effect("failed, undecodable and crashed turns are letters of kind turn (source the agent id, the input, the error); cancelled ones are not", () =>
    Effect.gen(function*() {
      const llm: AgentLoop.ModelClient<{ readonly _tag: "ProviderDown"; readonly message: string }> = {
        generate: (request) => {
          const last = request.messages.at(-1)?.content ?? ""
          if (last.includes("fail")) {
            return Effect.fail({ _tag: "ProviderDown", message: "503 sk-abcdefghijklmnopqrstuvwxyz0123456789" })
          }
          if (last.includes("crash")) return Effect.die(new Error("boom"))
          if (last.includes("slow")) return Effect.never
          return Effect.succeed(response("not json"))
        },
        stream: () => {
          throw new Error("unused")
        }
      }
      const Plain = LlmAgent.make({ name: "plain", model: "fast", llm, memory: "none" })
      const Typed = LlmAgent.make({
        name: "typed",
        model: "fast",
        llm,
        memory: "none",
        output: Schema.Struct({ ok: Schema.Boolean }),
        repairs: 0
      })
      const agents = yield* LlmAgents.make({ agents: [Plain, Typed] })
      const dlq = yield* DeadLetters
      expect((yield* Effect.flip(agents.ask("plain:1", "please fail")))._tag).toBe("TurnFailed")
      expect((yield* Effect.flip(agents.ask("typed:1", "answer")))._tag).toBe("InvalidAgentOutput")
      expect((yield* Effect.flip(agents.ask("plain:2", "crash now")))._tag).toBe("TurnCrashed")
      const slow = yield* Effect.forkChild(agents.ask("plain:3", "slow"), { startImmediately: true })
      yield* settle
      yield* agents.cancel("plain:3")
      yield* Fiber.await(slow)
      yield* settle
      const letters = yield* dlq.list({ kind: "turn" })
      expect(letters.map((l) => [l.source, l.error.tag]).sort()).toStrictEqual([
        ["plain:1", "TurnFailed"],
        ["plain:2", "TurnCrashed"],
        ["typed:1", "InvalidAgentOutput"]
      ])
      const failed = letters.find((l) => l.source === "plain:1")!
      expect(failed.input).toStrictEqual({ agentId: "plain:1", input: "please fail", maxSteps: null })
      // secrets in the error are masked before the store
      expect(JSON.stringify(failed)).not.toContain("sk-abcdefghijklmnopqrstuvwxyz0123456789")
    }).pipe(Effect.scoped, Effect.provide(DeadLetters.layerMemory())))
})

describe("TurnRedrive: the redrive handler of turn dead letters", () => {
  it.effect("a redrive sends the letter's turn to its agent again; a redriven turn that fails again is not recorded as a new letter", () => {
    const redrive = new TurnRedrive()
    return Effect.gen(function*() {
      let flaky = 0
      const llm: AgentLoop.ModelClient<{ readonly _tag: "ProviderDown"; readonly message: string }> = {
        generate: (request) => {
          const last = request.messages.at(-1)?.content ?? ""
          if (last === "always") return Effect.fail({ _tag: "ProviderDown", message: "down" })
          if (last === "flaky" && flaky++ === 0) return Effect.fail({ _tag: "ProviderDown", message: "once" })
          return Effect.succeed(response(`ok ${last}`))
        },
        stream: () => {
          throw new Error("unused")
        }
      }
      const Plain = LlmAgent.make({ name: "plain", model: "fast", llm, memory: "none" })
      const dlq = yield* DeadLetters
      // not bound yet: the redrive fails, the letter stays dead
      const early = yield* dlq.record({
        kind: "turn",
        source: "plain:0",
        input: { agentId: "plain:0", input: "x", maxSteps: null },
        error: "e",
        attempts: 1
      })
      expect((yield* dlq.redrive(early.id)).result).toBe("failed")
      yield* dlq.purge()
      const agents = yield* LlmAgents.make({ agents: [Plain], redrive })
      yield* Effect.flip(agents.ask("plain:1", "flaky"))
      yield* Effect.flip(agents.ask("plain:2", "always"))
      yield* settle
      const letters = yield* dlq.list({ kind: "turn" })
      expect(letters).toHaveLength(2)
      const outcomes = yield* Effect.forEach(letters, (l) => dlq.redrive(l.id))
      expect(outcomes.map((o) => o.result).sort()).toStrictEqual(["failed", "redriven"])
      yield* settle
      const after = yield* dlq.list({ kind: "turn" })
      expect(after).toHaveLength(2)
      expect(after.find((l) => l.source === "plain:1")?.status).toBe("redriven")
      expect(after.find((l) => l.source === "plain:2")).toMatchObject({ status: "dead", redrives: 1 })
      // a letter that is not a turn does not redrive
      const bad = yield* dlq.record({ kind: "turn", source: "plain:3", input: { nope: 1 }, error: "e", attempts: 1 })
      expect((yield* dlq.redrive(bad.id)).result).toBe("failed")
    }).pipe(Effect.scoped, Effect.provide(DeadLetters.layerMemory({ redrive: redrive.handler })))
  })
})

describe("LlmAgents durable turns: steps, cancels and resumes that the run's data cannot break", () => {
  const answering = (
    first: LlmResponse,
    then: (request: LlmRequest) => string = (request) =>
      request.messages.filter((m) => m.role === "tool").map((m) => m.content).join(" | ")
  ): AgentLoop.ModelClient<never> => ({
    generate: (request) =>
      Effect.succeed(request.messages.some((m) => m.role === "tool") ? response(then(request)) : first),
    stream: () => {
      throw new Error("durable turns do not stream")
    }
  })

  it.effect("every tool call is step tool/<n>/<i>: two calls with the same id in one response each run once and get their own result", () =>
    Effect.gen(function*() {
      const ran: Array<string> = []
      const tool = (name: string) =>
        Tool.fromAction(Action.make({
          name,
          description: name,
          params: Schema.Struct({ n: Schema.Number }),
          output: Schema.String,
          retries: 0,
          run: ({ n }) => Effect.sync(() => (ran.push(`${name} ${n}`), `${name}ed ${n}`))
        }))
      const llm = answering(response("", [
        { id: "call", name: "charge", arguments: { n: 5 } },
        { id: "call", name: "charge", arguments: { n: 7 } },
        { id: "call", name: "look", arguments: { n: 1 } },
        { id: "call", name: "look", arguments: { n: 2 } }
      ]))
      const Shop = LlmAgent.make({
        name: "shop",
        model: "fast",
        llm,
        tools: [tool("charge"), tool("look")],
        durable: { idempotentTools: ["look"] }
      })
      const agents = yield* LlmAgents.make({ agents: [Shop] })
      const answer = yield* agents.ask("shop:1", "pay")
      expect(answer.text).toBe("chargeed 5 | chargeed 7 | looked 1 | looked 2")
      expect(ran.sort()).toStrictEqual(["charge 5", "charge 7", "look 1", "look 2"])
      const run = yield* Journal.replay(answer.runId!)
      expect(run.steps.filter((st) => st.kind === "tool").map((st) => st.name)).toStrictEqual([
        "tool/1/1",
        "tool/1/2",
        "tool/1/3",
        "tool/1/4"
      ])
    }).pipe(Effect.scoped, Effect.provide(durableLayers)))

  it.effect("cancelling a durable turn while its run's start is being recorded: the journal records it cancelled and nothing resumes it", () =>
    Effect.gen(function*() {
      const s = script()
      const base = yield* RunJournal
      const started = yield* Deferred.make<void>()
      const never = yield* Deferred.make<void>()
      // the start is written, but its acknowledgement never comes (a slow PostgreSQL round trip)
      const slow = Layer.succeed(RunJournal, {
        ...base,
        start: (run) =>
          Effect.andThen(base.start(run), Effect.andThen(Deferred.succeed(started, undefined), Deferred.await(never)))
      })
      const Shop = LlmAgent.make({ name: "shop", model: "fast", llm: s.llm, tools: s.toolDefs, durable: true })
      const first = yield* Scope.make()
      const agents = yield* LlmAgents.make({ agents: [Shop] }).pipe(Effect.provide(slow), Scope.provide(first))
      const caller = yield* Effect.forkChild(agents.ask("shop:1", "refund o-7"), { startImmediately: true })
      yield* Deferred.await(started)
      expect(yield* agents.cancel("shop:1")).toBe(true)
      expect(yield* Effect.flip(Fiber.join(caller))).toMatchObject({ _tag: "TurnCancelled", reason: "cancelled" })
      const [run] = yield* base.list({ limit: 1 })
      expect(run?.outcome).toBe("cancelled")
      yield* Scope.close(first, Exit.void)
      yield* LlmAgents.make({ agents: [Shop] })
      yield* settle
      expect(Option.getOrThrow(yield* base.get(run!.runId)).outcome).toBe("cancelled")
      expect(s.calls.size).toBe(0)
      expect(s.tools).toStrictEqual({ charge: 0, lookup: 0 })
    }).pipe(Effect.scoped, Effect.provide(durableLayers)))

  it.effect("an unfinished run whose record does not decode as a turn is recorded failed with InvalidRunRecord naming the path; the agents start and the other runs resume", () =>
    Effect.gen(function*() {
      const s = script()
      const Shop = LlmAgent.make({ name: "shop", model: "fast", llm: s.llm, tools: s.toolDefs, durable: true })
      const journal = yield* RunJournal
      const record = (runId: string, input: unknown) => ({
        runId,
        agent: "shop",
        agentId: "shop:9",
        workflow: "LlmAgentTurn.llm-agents.shop",
        executionId: `exec-${runId}`,
        input,
        startedAt: 0
      })
      yield* journal.start(record("r-number", 42))
      yield* journal.start(record("r-message", [{ role: "wizard", content: "hi" }]))
      yield* journal.start(record("r-good", "refund o-9"))
      yield* LlmAgents.make({ agents: [Shop] })
      yield* until(Effect.map(journal.get("r-good"), (r) => Option.isSome(r) && r.value.outcome !== undefined))
      expect(Option.getOrThrow(yield* journal.get("r-good")).outcome).toBe("answered")
      expect(Option.getOrThrow(yield* journal.get("r-number"))).toMatchObject({
        outcome: "failed",
        result: { _tag: "InvalidRunRecord", path: "input" }
      })
      expect(Option.getOrThrow(yield* journal.get("r-message"))).toMatchObject({
        outcome: "failed",
        result: { _tag: "InvalidRunRecord", path: "input[0]" }
      })
      expect(yield* journal.unfinished("LlmAgentTurn.llm-agents.shop", 10)).toHaveLength(0)
    }).pipe(Effect.scoped, Effect.provide(durableLayers)))

  it.effect("every append to the conversation is a journaled step: a resumed run does not append its conversation a second time", () =>
    Effect.gen(function*() {
      const llm = answering(response("the answer"))
      const Shop = LlmAgent.make({ name: "shop", model: "fast", llm, durable: true })
      const base = yield* RunJournal
      const finishing = yield* Deferred.make<void>()
      let finishes = 0
      // the first incarnation stops while it records the outcome, after the loop appended the conversation
      const dying = Layer.succeed(RunJournal, {
        ...base,
        finish: (id, outcome, result) =>
          Effect.suspend(() =>
            finishes++ === 0
              ? Effect.andThen(Deferred.succeed(finishing, undefined), Effect.never)
              : base.finish(id, outcome, result)
          )
      })
      const first = yield* Scope.make()
      const agents = yield* LlmAgents.make({ agents: [Shop] }).pipe(Effect.provide(dying), Scope.provide(first))
      yield* Effect.forkChild(agents.ask("shop:1", "question"), { startImmediately: true })
      yield* Deferred.await(finishing)
      yield* Scope.close(first, Exit.void)
      yield* LlmAgents.make({ agents: [Shop] })
      const [run] = yield* base.list({ limit: 1 })
      yield* until(Effect.map(base.get(run!.runId), (r) => Option.isSome(r) && r.value.outcome !== undefined))
      const messages = yield* ConversationMemory.use((m) => m.messages("shop:1"))
      expect(messages.map((m) => `${m.role}: ${m.content}`)).toStrictEqual(["user: question", "assistant: the answer"])
    }).pipe(Effect.scoped, Effect.provide(durableLayers)))
})

const strangeText = (journal: () => Layer.Layer<RunJournal, unknown>) => {
  it.effect("a tool output and a user input with a NUL character, a model answer with a lone surrogate: the durable turn answers and the journal holds them exactly", () =>
    Effect.gen(function*() {
      const read = Tool.fromAction(Action.make({
        name: "read",
        description: "Reads a file",
        params: Schema.Struct({ path: Schema.String }),
        output: Schema.String,
        retries: 0,
        run: () => Effect.succeed("PK\u0003\u0004\u0000binary")
      }))
      const llm: AgentLoop.ModelClient<never> = {
        generate: (request) =>
          Effect.succeed(
            request.messages.some((m) => m.role === "tool")
              ? response("a zip \ud83d")
              : response("", [{ id: "c\u0000", name: "read", arguments: { path: "a\u0000.zip" } }])
          ),
        stream: () => {
          throw new Error("durable turns do not stream")
        }
      }
      const Files = LlmAgent.make({ name: "files", model: "fast", llm, tools: [read], durable: true })
      const agents = yield* LlmAgents.make({ agents: [Files] })
      for (let i = 0; i < 12; i++) {
        const answer = yield* agents.ask(`files:${i}`, "what is a\u0000.zip?")
        expect(answer.text).toBe("a zip \ud83d")
        const run = yield* Journal.replay(answer.runId!)
        expect(run.input).toBe("what is a\u0000.zip?")
        expect(run.steps.map((st) => st.name)).toStrictEqual(["model/1", "tool/1/1", "model/2"])
        expect(run.steps[1]?.value).toMatchObject({ id: "c\u0000", output: "PK\u0003\u0004\u0000binary" })
        expect(run.result).toMatchObject({ text: "a zip \ud83d" })
      }
    }).pipe(
      Effect.scoped,
      Effect.provide(
        Layer.mergeAll(WorkflowEngine.layerMemory, journal(), Journal.ToolLedger.layerMemory(), layerMemory())
      )
    ))
}

describe("LlmAgents durable turns on the memory RunJournal", () => strangeText(() => RunJournal.layerMemory()))

describePostgres("LlmAgents durable turns on the PostgreSQL RunJournal", () => {
  const schema = uniqueSchema("durableturns")
  afterAll(() => dropSchemaPromise(schema))
  strangeText(() => RunJournal.layerPostgres({ schema }).pipe(Layer.provide(pgLayer)))
})
