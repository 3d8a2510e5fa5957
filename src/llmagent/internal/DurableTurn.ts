/**
 * Durable turns of a definition with `durable` set: each turn is one run of a workflow of its own
 * (`LlmAgentTurn.<layer>.<definition>`, idempotency key the run id), whose body is the ordinary turn (the loop and
 * the output repairs) with a journaled model client and journaled tool calls:
 *
 * - every model call is `Journal.model` step `<n>` (n counts the run's model calls, repairs included), so an
 *   answered call is replayed from the journal, not sent again;
 * - every tool call is `Journal.tool` step `<n>/<i>`: the `i`-th call (from 1) of the `n`-th journaled response, so it
 *   is the same on a replay, and two calls of one response never share a step even when the model gave them the same
 *   id (OpenAI-compatible servers may send one id for every call); tools not declared idempotent claim
 *   `<run id>/<n>/<i>` in the `ToolLedger`, and a `ToolOutcomeUnknown` (or `LedgerFull`) reaches the model as a tool
 *   error, not as a crash;
 * - every append of the turn's messages to the conversation memory is step `memory/<k>` (k counts the run's
 *   appends, one per loop run), so **a resumed run does not append its conversation a second time**;
 * - beside each step, the `RunJournal` records the journaled value; the run's start is recorded before the
 *   workflow starts and its outcome when the body ends, so a run that did not finish is listed as unfinished and
 *   resumed (`WorkflowEngine.resume`) when the layer starts again. **An unfinished run whose record does not decode
 *   as a turn** (its input is not a turn input, e.g. after a schema change) **is not resumed**: it is recorded
 *   `failed` with an `InvalidRunRecord` naming the bad path and logged; a run whose resume dies is logged and left
 *   unfinished. Neither stops the other runs' resume or the layer's start.
 *
 * A durable turn's caller interrupting it (`cancel`, a caller that goes away) interrupts the run — also while its
 * start is being recorded: the journal then records it `cancelled` (writing the start first if it was not written
 * yet), so nothing resumes it. The agent stopping (idle stop, eviction, layer shutdown, a crash) does not: the run
 * goes on in the engine, or resumes at the next start. Streamed durable turns run the loop without streaming (a
 * journaled step is a whole response) and emit only the `Finished` event.
 */
import { Cause, Clock, Context, Effect, Exit, Option, Result, Schema, type Scope } from "effect"
import { Activity, Workflow, WorkflowEngine } from "effect/workflow"
import type { AgentLoopEvent } from "../../agent/AgentLoop.ts"
import type { AgentLoop } from "../../agent/index.ts"
import type { ToolResult } from "../../agent/ToolRunner.ts"
import * as Uuid7 from "../../agent/Uuid7.ts"
import * as Invalid from "../../internal/InvalidInput.ts"
import { LlmMessage, LlmResponse, Usage } from "../../llm/index.ts"
import { type ConversationMemoryShape, InvalidMemoryInput, MemoryBackendError } from "../../memory/index.ts"
import * as Journal from "../Journal.ts"
import type { AnyLlmAgent } from "../LlmAgent.ts"
import { InvalidAgentOutput, InvalidRunRecord, TurnCancelled, TurnCrashed, TurnFailed } from "../LlmAgentError.ts"
import type { CheckedTurn, TurnAnswer } from "../LlmAgentTurn.ts"
import type { RunJournalShape, RunStart } from "../RunJournal.ts"

/** The services a durable definition runs with (read once when the layer is built). */
export interface DurableServices {
  readonly engine: WorkflowEngine.WorkflowEngine["Service"]
  readonly journal: RunJournalShape
  readonly ledger: Journal.ToolLedger["Service"]
}

interface RunState {
  readonly runId: string
  readonly journal: RunJournalShape
  readonly idempotent: ReadonlySet<string>
  readonly services: Context.Context<
    WorkflowEngine.WorkflowEngine | WorkflowEngine.WorkflowInstance | Journal.ToolLedger
  >
  model: number
  seq: number
  /** the run's appends to the conversation memory so far */
  appends: number
  /** the position (from 1) of each tool call of the latest journaled response, by the call object the loop runs */
  positions: WeakMap<object, number>
  /** the latest journaled response's calls, and which positions have run (for a call not found by identity) */
  calls: ReadonlyArray<{ readonly id: string; readonly name: string }>
  taken: Set<number>
}

/** The run a workflow body is executing (absent outside durable turns: the client and the hook then do nothing). */
class CurrentRun extends Context.Service<CurrentRun, RunState>()("troupe/llmagent/internal/CurrentRun") {}

const TurnAnswerSchema = Schema.Struct({
  id: Schema.String,
  text: Schema.String,
  output: Schema.Unknown,
  stopReason: Schema.Literals(["answered", "max-steps"]),
  steps: Schema.Number,
  toolCalls: Schema.Number,
  usage: Usage,
  estimatedInputTokens: Schema.Number,
  costUsd: Schema.Number,
  repairs: Schema.Number,
  durationMillis: Schema.Number,
  runId: Schema.optionalKey(Schema.String)
})

const ToolResultSchema = Schema.Union([
  Schema.Struct({
    _tag: Schema.Literal("ToolSuccess"),
    id: Schema.String,
    name: Schema.String,
    output: Schema.Unknown
  }),
  Schema.Struct({
    _tag: Schema.Literal("ToolFailure"),
    id: Schema.String,
    name: Schema.String,
    error: Schema.Struct({ tag: Schema.String, message: Schema.String, path: Schema.optionalKey(Schema.String) })
  })
])

const Payload = {
  runId: Schema.String,
  agentId: Schema.String,
  input: Schema.Union([Schema.String, Schema.Array(LlmMessage)]),
  maxSteps: Schema.NullOr(Schema.Int)
}

const RunPayload = Schema.Struct(Payload)

const TurnError = Schema.Union([TurnFailed, InvalidAgentOutput])

const MemoryFailure = Schema.Union([MemoryBackendError, InvalidMemoryInput])

/** A journaled model failure: the `_tag` and message of the model's error (the error itself is not serialisable). */
const modelFailure = (agentId: string, error: unknown): TurnFailed => {
  // only read through optional fields, each checked by typeof below
  const tagged = error as { readonly _tag?: unknown; readonly message?: unknown } | undefined
  const tag = typeof tagged?._tag === "string" ? tagged._tag : "Error"
  const detail = typeof tagged?.message === "string" ? tagged.message : String(error)
  return new TurnFailed({ id: agentId, tag, detail: detail.slice(0, 500), error: null })
}

/** The model client of a durable definition: inside a run, every `generate` is a journaled step. */
export const journaledClient = <E>(llm: AgentLoop.ModelClient<E, never>): AgentLoop.ModelClient<E, never> => ({
  generate: (request) =>
    Effect.flatMap(Effect.serviceOption(CurrentRun), (current) => {
      if (Option.isNone(current)) return llm.generate(request)
      const run = current.value
      const n = ++run.model
      const seq = ++run.seq
      const name = `model/${n}`
      return Journal.model({
        step: `${n}`,
        success: LlmResponse,
        error: TurnFailed,
        call: Effect.mapError(llm.generate(request), (error) => modelFailure("", error))
      }).pipe(
        Effect.tap((response) => {
          run.positions = new WeakMap(response.toolCalls.map((call, i) => [call, i + 1]))
          run.calls = response.toolCalls
          run.taken = new Set()
          return run.journal.step(run.runId, { seq, name, kind: "model", value: response })
        }),
        Effect.tapError((error) =>
          run.journal.step(run.runId, {
            seq,
            name,
            kind: "model",
            value: { error: { tag: error.tag, detail: error.detail } }
          })
        ),
        Effect.provideContext(run.services),
        // the loop passes model errors through: a journaled failure stands in for the model's own error type
        (effect) => effect as unknown as Effect.Effect<LlmResponse, E>
      )
    }),
  stream: (request) => llm.stream(request)
})

/**
 * The position of `call` in the latest journaled response: the loop runs the response's own call objects; a call
 * that is not one of them (a wrapper copied it) takes the first position with its id and name that has not run yet.
 */
const positionOf = (run: RunState, call: { readonly id: string; readonly name: string }): number => {
  let position = run.positions.get(call)
  if (position === undefined) {
    const index = run.calls.findIndex((c, i) => !run.taken.has(i + 1) && c.id === call.id && c.name === call.name)
    position = index < 0 ? run.calls.length + run.taken.size + 1 : index + 1
  }
  run.taken.add(position)
  return position
}

/** The tool hook of a durable definition: inside a run, every tool call is a journaled step. */
export const journaledToolCall = (
  call: { readonly id: string; readonly name: string },
  direct: Effect.Effect<ToolResult>
): Effect.Effect<ToolResult> =>
  Effect.flatMap(Effect.serviceOption(CurrentRun), (current) => {
    if (Option.isNone(current)) return direct
    const run = current.value
    const step = `${run.model}/${positionOf(run, call)}`
    const seq = ++run.seq
    return Journal.tool({
      step,
      tool: call.name,
      key: `${run.runId}/${step}`,
      idempotent: run.idempotent.has(call.name),
      success: ToolResultSchema,
      run: direct
    }).pipe(
      Effect.catch((error): Effect.Effect<ToolResult> =>
        Effect.succeed({
          _tag: "ToolFailure",
          id: call.id,
          name: call.name,
          error: { tag: error._tag, message: error.message }
        })
      ),
      Effect.tap((result) => run.journal.step(run.runId, { seq, name: `tool/${step}`, kind: "tool", value: result })),
      Effect.provideContext(run.services)
    )
  })

/**
 * The conversation memory of a durable definition: inside a run, every append is journaled step `memory/<k>`, so
 * a resumed run replays it instead of appending the same messages again. Reading and clearing are the memory's own.
 */
export const journaledMemory = (memory: ConversationMemoryShape): ConversationMemoryShape => ({
  maxMessages: memory.maxMessages,
  append: (conversationId, messages) =>
    Effect.flatMap(Effect.serviceOption(CurrentRun), (current) => {
      if (Option.isNone(current)) return memory.append(conversationId, messages)
      const run = current.value
      return Activity.make({
        name: `memory/${++run.appends}`,
        success: Schema.Void,
        error: MemoryFailure,
        execute: memory.append(conversationId, messages)
      }).pipe(Effect.provideContext(run.services))
    }),
  messages: (conversationId, options) => memory.messages(conversationId, options),
  clear: (conversationId) => memory.clear(conversationId),
  stats: memory.stats
})

/** One durable definition: its workflow, the turn that runs it, and the resume of unfinished runs. */
export interface DurableDefinition {
  readonly workflow: Workflow.Any
  /** registers the workflow with the engine (in the layer's scope) */
  readonly register: Effect.Effect<void, never, Scope.Scope>
  /**
   * resumes the runs of this workflow that did not finish (at most 10,000) and returns how many it resumed; a run
   * whose record does not decode is recorded failed instead, and one whose resume dies is logged and skipped
   */
  readonly resumeUnfinished: Effect.Effect<number>
  /** one turn as a run; `cancelReason` tells why the turn's fiber was interrupted */
  readonly turn: (
    agentId: string,
    turn: CheckedTurn,
    onEvent: ((event: AgentLoopEvent) => Effect.Effect<void>) | undefined,
    cancelReason: () => string | undefined
  ) => Effect.Effect<TurnAnswer, TurnFailed | InvalidAgentOutput>
}

/**
 * Builds the durable parts of `definition`. `body` is the ordinary turn (the loop with the journaled client and
 * hook, then the repairs).
 */
export const makeDurable = (options: {
  readonly layerName: string
  readonly definition: AnyLlmAgent
  readonly services: DurableServices
  readonly body: (agentId: string, turn: CheckedTurn) => Effect.Effect<TurnAnswer, TurnFailed | InvalidAgentOutput>
}): DurableDefinition => {
  const { definition, services } = options
  const idempotent = definition.durable?.idempotentTools ?? new Set<string>()
  const workflow = Workflow.make(`LlmAgentTurn.${options.layerName}.${definition.name}`, {
    payload: Payload,
    success: TurnAnswerSchema,
    error: TurnError,
    idempotencyKey: (p) => p.runId
  })
  const journal = services.journal

  const execute = (payload: typeof workflow.payloadSchema.Type) =>
    Effect.gen(function*() {
      const context = yield* Effect.context<WorkflowEngine.WorkflowEngine | WorkflowEngine.WorkflowInstance>()
      const state: RunState = {
        runId: payload.runId,
        journal,
        idempotent,
        services: Context.add(context, Journal.ToolLedger, services.ledger),
        model: 0,
        seq: 0,
        appends: 0,
        positions: new WeakMap(),
        calls: [],
        taken: new Set()
      }
      const exit = yield* Effect.exit(
        options.body(payload.agentId, { input: payload.input, maxSteps: payload.maxSteps ?? undefined }).pipe(
          Effect.provideService(CurrentRun, state)
        )
      )
      if (Exit.isSuccess(exit)) {
        const answer: TurnAnswer = { ...exit.value, runId: payload.runId }
        yield* journal.finish(payload.runId, "answered", answer)
        return answer
      }
      if (!Cause.hasInterruptsOnly(exit.cause)) {
        const error = Cause.findErrorOption(exit.cause)
        const failure = Option.isSome(error)
          ? unwrap(error.value)
          : new TurnFailed({
            id: payload.agentId,
            tag: "Defect",
            detail: String(Cause.squash(exit.cause)).slice(0, 500),
            error: null
          })
        yield* journal.finish(payload.runId, "failed", { _tag: failure._tag, message: failure.message })
        return yield* Effect.fail(failure)
      }
      return yield* Effect.failCause(exit.cause)
    })

  const register = services.engine.register(workflow, execute)

  // a run is recorded before its workflow starts: one killed in between has no execution yet, so it is started
  // (same run id: the engine de-duplicates it when it exists) as well as resumed
  const resumeOne = (run: RunStart) =>
    Effect.gen(function*() {
      const decoded = Invalid.decode(
        RunPayload,
        { runId: run.runId, agentId: run.agentId, input: run.input, maxSteps: run.maxSteps ?? null },
        `run record ${run.runId}`,
        (fields) => new InvalidRunRecord({ ...fields, runId: run.runId })
      )
      if (Result.isFailure(decoded)) {
        const error = decoded.failure
        yield* Effect.logWarning(`durable run ${run.runId} not resumed: ${error.message}`)
        yield* journal.finish(run.runId, "failed", { _tag: error._tag, message: error.message, path: error.path })
        return false
      }
      yield* services.engine.resume(workflow, run.executionId)
      yield* workflow.execute(decoded.success, { discard: true }).pipe(
        Effect.provideService(WorkflowEngine.WorkflowEngine, services.engine),
        Effect.ignore
      )
      return true
    }).pipe(
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.failCause(cause)
          : Effect.as(Effect.logError(`durable run ${run.runId} not resumed`, cause), false)
      )
    )

  const resumeUnfinished = Effect.gen(function*() {
    const runs = yield* journal.unfinished(workflow._tag, 10_000)
    let resumed = 0
    for (const run of runs) if (yield* resumeOne(run)) resumed++
    return resumed
  })

  const turn: DurableDefinition["turn"] = (agentId, checked, onEvent, cancelReason) =>
    Effect.gen(function*() {
      const runId = yield* Uuid7.make
      const payload = { runId, agentId, input: checked.input, maxSteps: checked.maxSteps ?? null }
      const executionId = yield* workflow.executionId(payload)
      const startedAt = yield* Clock.currentTimeMillis
      const record: RunStart = {
        runId,
        agent: definition.name,
        agentId,
        workflow: workflow._tag,
        executionId,
        input: checked.input,
        ...(checked.maxSteps !== undefined ? { maxSteps: checked.maxSteps } : {}),
        startedAt
      }
      let executing = false
      const answer = yield* journal.start(record).pipe(
        Effect.andThen(Effect.suspend(() => {
          executing = true
          return workflow.execute(payload).pipe(
            Effect.provideService(WorkflowEngine.WorkflowEngine, services.engine),
            Effect.catchDefect((defect) =>
              Effect.die(new TurnCrashed({ id: agentId, detail: String(defect).slice(0, 500) }))
            )
          )
        })),
        // the caller's interrupt may come while the start is being recorded: that run is cancelled too
        Effect.onInterrupt(() => {
          const reason = cancelReason()
          // the agent stopping leaves the run to the engine (it resumes); only the caller cancels it
          if (reason === "agent-stopped" || reason === undefined) return Effect.void
          const cancelled = new TurnCancelled({
            id: agentId,
            reason: reason === "caller-gone" ? "caller-gone" : "cancelled"
          })
          const finish = journal.finish(runId, "cancelled", cancelled)
          if (executing) return Effect.andThen(services.engine.interruptUnsafe(workflow, executionId), finish)
          // interrupted while its start was being written, which may land before or after this outcome: the outcome
          // is written now, and again behind a start of its own (the first start and the first outcome win), so a
          // late start is not left unfinished; the cancel does not wait for it
          return Effect.andThen(
            finish,
            Effect.asVoid(Effect.forkDetach(Effect.exit(Effect.andThen(journal.start(record), finish))))
          )
        })
      )
      if (onEvent !== undefined) {
        yield* onEvent({
          _tag: "Finished",
          stopReason: answer.stopReason,
          text: answer.text,
          steps: answer.steps,
          usage: answer.usage,
          estimatedInputTokens: answer.estimatedInputTokens
        })
      }
      return answer
    })

  return { workflow, register, resumeUnfinished, turn }
}

/** A model failure comes back as `TurnFailed` wrapping the journaled `TurnFailed`: keep the inner one. */
const unwrap = (error: TurnFailed | InvalidAgentOutput): TurnFailed | InvalidAgentOutput =>
  error._tag === "TurnFailed" && error.error instanceof TurnFailed
    ? new TurnFailed({ id: error.id, tag: error.error.tag, detail: error.error.detail, error: null })
    : error._tag === "TurnFailed"
    ? new TurnFailed({ id: error.id, tag: error.tag, detail: error.detail, error: null })
    : error
