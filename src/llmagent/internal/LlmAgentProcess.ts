/**
 * The actor behind one LLM agent: a mailbox of turns, run one at a time in arrival order.
 *
 * Mirrors a gen_server running a long job outside its loop (Jido's AgentServer running an LLM strategy): the turn
 * runs in a fiber of its own so the mailbox stays responsive — `Cancel` interrupts it (the model call and the
 * tools, whose supervisor the loop owns), `Status` answers while it runs — and its exit comes back as a
 * `TurnDone` message, after which the next queued turn starts. A turn that dies (a defect) crashes the agent with
 * that cause, so its supervisor restarts it per the restart type, and the next incarnation reloads the history
 * from `ConversationMemory`. With no turn running or queued the agent hibernates and, after the idle timeout,
 * retires: it stops taking turns (those that arrive get `Gone` and are delivered to the next incarnation) and
 * stops — `normal` for transient and temporary agents, `terminateChild` for permanent ones so that the supervisor
 * does not restart them. Every handler is synchronous (no Effect), so the turn itself is the only fiber.
 *
 * A turn runs with the agent id over its caller's error context (`ErrorScope`), so the pipeline's failures inside it
 * carry the route, tenant and agent; a turn that fails or crashes goes to the `ErrorHandlers` of the context (in the
 * background, before its caller gets the answer), with the same context. A cancelled turn is not a failure.
 */
import { Cause, type Context, Effect, Exit, type Fiber, Option, Schema, Semaphore } from "effect"
import type { AgentLoopEvent } from "../../agent/AgentLoop.ts"
import { Action, AgentLoop, Tool } from "../../agent/index.ts"
import type { ToolDefinition } from "../../agent/Tool.ts"
import { type ErrorContext, ErrorScope, mergeErrorContext } from "../../errors/ErrorScope.ts"
import { LlmMessage } from "../../llm/index.ts"
import { Actor, Behaviour, DynamicSupervisor, ExitReason } from "../../runtime/index.ts"
import { Events } from "../../telemetry/EventCatalogue.ts"
import type { AnyLlmAgent } from "../LlmAgent.ts"
import { AgentBusy, describeError, TurnCancelled, TurnCrashed, type TurnError } from "../LlmAgentError.ts"
import type { AgentStatus, CheckedTurn, TurnAnswer, TurnProgress } from "../LlmAgentTurn.ts"
import { type AgentRef, Host, type LiveEntry } from "./LlmAgentHost.ts"
import { type DefinitionRuntime, runTurn } from "./LlmAgentRuntime.ts"

/** How a turn ended for its caller; `Gone`: the agent stopped taking turns, deliver it again. */
export type Outcome =
  | { readonly _tag: "Answer"; readonly answer: TurnAnswer }
  | { readonly _tag: "Error"; readonly error: TurnError }
  | { readonly _tag: "Gone" }

/** One turn in an agent's mailbox and queue. */
export interface Turn {
  readonly input: CheckedTurn
  readonly mode: "ask" | "stream" | "tell"
  readonly onEvent: ((event: AgentLoopEvent) => Effect.Effect<void>) | undefined
  /** called once when the agent takes the turn into its queue (a refused turn never calls it) */
  readonly onAccepted: (() => void) | undefined
  /** the error context of the fiber that sent the turn (its route and tenant) */
  readonly errorContext: ErrorContext
  /** one-shot; later calls are ignored */
  readonly resolve: (outcome: Outcome) => void
  state: "queued" | "running" | "done"
  fiber: Fiber.Fiber<TurnAnswer, unknown> | undefined
  cancelReason: "cancelled" | "caller-gone" | "agent-stopped" | undefined
  /** the running turn's current step (see `observeProgress`) */
  progress?: TurnProgress
}

export type Info =
  | { readonly _tag: "Enqueue"; readonly turn: Turn }
  /** `turn` undefined: the running turn, whichever it is (`cancel(id)`) */
  | { readonly _tag: "Cancel"; readonly turn: Turn | undefined; readonly reason: "cancelled" | "caller-gone" }
  | { readonly _tag: "TurnDone"; readonly turn: Turn; readonly exit: Exit.Exit<TurnAnswer, unknown> }
  | { readonly _tag: "Retire" }

export type Protocol = {
  readonly call: { readonly _tag: "Status" }
  readonly reply: AgentStatus
  readonly info: Info
}

export interface AgentArgs {
  readonly id: string
  readonly host: Host
  readonly definition: AnyLlmAgent
  readonly runtime: DefinitionRuntime
}

interface State {
  readonly args: AgentArgs
  readonly self: AgentRef
  readonly entry: LiveEntry
  readonly loop: AgentLoop.AgentLoop<unknown, never>
  readonly context: Context.Context<never>
  readonly children: DynamicSupervisor.DynamicSupervisorRef | undefined
  readonly queue: Array<Turn>
  head: number
  current: Turn | undefined
  retiring: boolean
  turns: number
  readonly historyAtStart: number
  readonly incarnation: number
  /** answered turns before this incarnation (from the latest checkpoint) */
  readonly turnsBefore: number
  answered: number
  /** checkpoints of one agent are saved one at a time, in turn order */
  readonly saving: Semaphore.Semaphore
}

const pending = (state: State): number => state.queue.length - state.head

const isIdle = (state: State): boolean => state.current === undefined && pending(state) === 0

const HIBERNATE_FOREVER = { hibernate: true } as const

const idleOptions = (state: State): Behaviour.ResultOptions | undefined => {
  if (!isIdle(state)) return undefined
  const ms = state.args.definition.idleMillis
  return ms === undefined ? HIBERNATE_FOREVER : { timeout: ms, hibernate: true }
}

const emit = (
  state: State,
  name: ReadonlyArray<string>,
  measurements: Record<string, number>,
  metadata: Record<string, string>
) => {
  const hub = state.args.host.config.hub
  if (hub !== undefined) hub.emitUnsafe(name, measurements, metadata)
}

const metadataOf = (state: State, turn: Turn): Record<string, string> => ({
  agent: state.args.definition.name,
  agent_id: state.args.id,
  mode: turn.mode,
  component: "llmagent"
})

const startedAt = new WeakMap<Turn, number>()

/** Starts the next queued turn that is still wanted. */
const startNext = (state: State): void => {
  while (state.current === undefined && pending(state) > 0) {
    // pending() > 0, so head < queue.length
    const turn = state.queue[state.head] as Turn
    state.queue[state.head] = undefined as unknown as Turn // release it
    state.head++
    if (state.head === state.queue.length) {
      state.queue.length = 0
      state.head = 0
    }
    if (turn.state === "done") continue // cancelled while queued
    turn.state = "running"
    state.current = turn
    if (state.args.host.config.hub !== undefined) startTurnEvent(state, turn)
    const durable = state.args.runtime.durable
    const fiber = Effect.runForkWith(state.context)(
      Effect.provideService(
        durable === undefined
          ? runTurn(state.args.runtime, state.loop, state.args.id, turn.input, turn.onEvent)
          : durable.turn(state.args.id, turn.input, turn.onEvent, () => turn.cancelReason),
        AgentLoop.LoopProgress,
        observeProgress(turn)
      ).pipe(Effect.provideService(ErrorScope, turnScope(state, turn)))
    )
    turn.fiber = fiber
    const self = state.self
    fiber.addObserver((exit) => {
      Actor.sendUnsafe(self, { _tag: "TurnDone", turn, exit })
    })
  }
  state.entry.busy = !isIdle(state)
}

/** Keeps `turn.progress` from the loop's events: a step starts on the model, then runs its tools. */
const observeProgress = (turn: Turn) => (event: AgentLoopEvent): void => {
  switch (event._tag) {
    case "StepStarted":
      turn.progress = { step: event.step, phase: "model", tools: [], since: Date.now() }
      return
    case "ToolCallStarted": {
      const p = turn.progress
      turn.progress = {
        step: event.step,
        phase: "tools",
        tools: p === undefined || p.phase === "model" ? [event.name] : [...p.tools, event.name],
        since: p === undefined || p.phase === "model" ? Date.now() : p.since
      }
      return
    }
    case "ToolCallFinished": {
      const p = turn.progress
      if (p === undefined) return
      const i = p.tools.indexOf(event.name)
      if (i >= 0) turn.progress = { ...p, tools: [...p.tools.slice(0, i), ...p.tools.slice(i + 1)] }
      return
    }
    default:
      return
  }
}

const startTurnEvent = (state: State, turn: Turn): void => {
  const now = Date.now()
  startedAt.set(turn, performance.now())
  emit(
    state,
    Events.agentTurnStart,
    { system_time: now, monotonic_time: Math.round(performance.now() * 1e6) },
    metadataOf(state, turn)
  )
}

const durationNanos = (turn: Turn): number => {
  const started = startedAt.get(turn)
  return started === undefined ? 0 : Math.round((performance.now() - started) * 1e6)
}

const finishTurnEvent = (state: State, turn: Turn, exit: Exit.Exit<TurnAnswer, unknown>): void => {
  if (state.args.host.config.hub === undefined) return
  const duration = durationNanos(turn)
  const monotonic = Math.round(performance.now() * 1e6)
  if (Exit.isSuccess(exit)) {
    const a = exit.value
    emit(state, Events.agentTurnStop, {
      duration,
      monotonic_time: monotonic,
      steps: a.steps,
      tool_calls: a.toolCalls,
      input_tokens: a.usage.inputTokens,
      output_tokens: a.usage.outputTokens,
      total_tokens: a.usage.totalTokens,
      estimated_input_tokens: a.estimatedInputTokens,
      cost: a.costUsd,
      repairs: a.repairs
    }, { ...metadataOf(state, turn), stop_reason: a.stopReason })
    return
  }
  const cause = exit.cause
  const kind = Cause.hasInterruptsOnly(cause) ? "interrupt" : Cause.hasFails(cause) ? "failure" : "defect"
  const error = kind === "failure" ? Option.getOrUndefined(Cause.findErrorOption(cause)) : Cause.squash(cause)
  const { tag, detail } = kind === "interrupt"
    ? { tag: "Interrupted", detail: turn.cancelReason ?? "interrupted" }
    : describeError(error)
  emit(state, Events.agentTurnException, { duration, monotonic_time: monotonic }, {
    ...metadataOf(state, turn),
    kind,
    reason: detail,
    error_type: tag
  })
}

/** Saves the agent's state after an answered turn on the `Checkpoints` of the context, if any (in the background). */
const checkpoint = (state: State, answer: TurnAnswer): void => {
  const store = state.args.host.config.checkpoints
  if (store === undefined) return
  const id = state.args.id
  const memory = state.args.runtime.memory
  const turns = state.turnsBefore + state.answered
  const save = Effect.flatMap(
    memory === undefined ? Effect.succeed([]) : memory.messages(id),
    (messages) => store.save(id, { turns, messages, runId: answer.runId ?? null })
  )
  Effect.runForkWith(state.context)(Effect.ignore(state.saving.withPermits(1)(save)))
}

/** Records a turn that failed permanently on the `DeadLetters` of the context, if any (in the background). */
const deadLetter = (state: State, turn: Turn, error: TurnError): void => {
  const dlq = state.args.host.config.deadLetters
  if (dlq === undefined || turn.input.redriveOf !== undefined) return
  Effect.runForkWith(state.context)(Effect.ignore(dlq.record({
    kind: "turn",
    source: state.args.id,
    input: { agentId: state.args.id, input: turn.input.input, maxSteps: turn.input.maxSteps ?? null },
    error,
    attempts: 1
  })))
}

/** The error context a turn runs and fails in: the agent id over its caller's. */
const turnScope = (state: State, turn: Turn): ErrorContext =>
  mergeErrorContext(turn.errorContext, { agent: state.args.id })

/** Passes a turn's failure to the `ErrorHandlers` of the context, if any (in the background), in the turn's scope. */
const handleFailure = (state: State, turn: Turn, error: TurnError): void => {
  const handlers = state.args.host.config.errorHandlers
  if (handlers === undefined) return
  Effect.runForkWith(state.context)(handlers.handle(error, turnScope(state, turn)))
}

/** Stops taking turns and stops once the queue is empty. */
const retire = (state: State): Behaviour.NoReplyResult<State> => {
  state.retiring = true
  if (!isIdle(state)) return Behaviour.noreply(state)
  if (state.args.definition.restart !== "permanent") return Behaviour.stop(ExitReason.normal, state)
  // a permanent child stopping by itself would be restarted: ask the supervisor to remove it instead
  const supervisor = state.args.host.config.supervisor
  Effect.runForkWith(state.context)(Effect.ignore(DynamicSupervisor.terminateChild(supervisor, state.self)))
  return Behaviour.noreply(state)
}

const onTurnDone = (state: State, turn: Turn, exit: Exit.Exit<TurnAnswer, unknown>): Behaviour.NoReplyResult<State> => {
  if (turn !== state.current) return Behaviour.noreply(state, idleOptions(state))
  state.current = undefined
  turn.fiber = undefined
  state.turns++
  finishTurnEvent(state, turn, exit)
  const id = state.args.id
  if (Exit.isSuccess(exit)) {
    state.answered++
    checkpoint(state, exit.value)
    turn.resolve({ _tag: "Answer", answer: exit.value })
  } else if (Cause.hasInterruptsOnly(exit.cause)) {
    turn.resolve({ _tag: "Error", error: new TurnCancelled({ id, reason: turn.cancelReason ?? "cancelled" }) })
  } else if (Cause.hasFails(exit.cause)) {
    // the cause has a failure (checked above), and a turn fails only with a TurnError
    const error = Option.getOrUndefined(Cause.findErrorOption(exit.cause)) as TurnError
    if (error._tag === "TurnFailed" || error._tag === "InvalidAgentOutput") deadLetter(state, turn, error)
    handleFailure(state, turn, error)
    turn.resolve({ _tag: "Error", error })
  } else {
    // a defect: the turn crashes its agent; the supervisor decides on the restart
    const crashed = new TurnCrashed({ id, detail: describeError(Cause.squash(exit.cause)).detail })
    deadLetter(state, turn, crashed)
    handleFailure(state, turn, crashed)
    turn.resolve({ _tag: "Error", error: crashed })
    state.entry.busy = false
    return Behaviour.stop(ExitReason.failure(exit.cause), state)
  }
  startNext(state)
  if (state.retiring && isIdle(state)) return retire(state)
  return Behaviour.noreply(state, idleOptions(state))
}

/** Runs when the process exits, whatever the reason (also on a kill, when `terminate` does not run). */
const onExit = (state: State, reason: ExitReason.ExitReason): void => {
  state.args.host.unregister(state.entry, state.self)
  state.children?.signalStop(ExitReason.shutdown)
  const id = state.args.id
  const current = state.current
  if (current !== undefined) {
    current.cancelReason ??= "agent-stopped"
    current.fiber?.interruptUnsafe()
    current.resolve({ _tag: "Error", error: new TurnCancelled({ id, reason: "agent-stopped" }) })
  }
  // queued turns were accepted: a retiring or crashed agent hands them to its next incarnation
  const handOver = state.retiring || ExitReason.isAbnormal(reason)
  for (let i = state.head; i < state.queue.length; i++) {
    // i < queue.length
    const turn = state.queue[i] as Turn
    turn.resolve(handOver ? GONE : { _tag: "Error", error: new TurnCancelled({ id, reason: "agent-stopped" }) })
  }
  state.queue.length = 0
  state.head = 0
}

const GONE: Outcome = { _tag: "Gone" }

const SavedState = Schema.Struct({ turns: Schema.Int, messages: Schema.Array(LlmMessage) })
const decodeSaved = Schema.decodeUnknownOption(SavedState)

/** A checkpoint's state as saved by `checkpoint`; anything else (another writer, an old shape) restores nothing. */
const decodeCheckpoint = (state: unknown): { readonly turns: number; readonly messages: ReadonlyArray<LlmMessage> } =>
  Option.getOrElse(decodeSaved(state), () => ({ turns: 0, messages: [] }))

const statusOf = (state: State): AgentStatus => ({
  id: state.args.id,
  alive: state.self.exitReason === undefined,
  state: state.self.exitReason !== undefined ? "stopped" : state.current === undefined ? "idle" : "running",
  queued: pending(state),
  turns: state.turns,
  historyAtStart: state.historyAtStart,
  incarnation: state.incarnation,
  pid: state.self.pid,
  ...(state.current?.progress !== undefined ? { current: state.current.progress } : {})
})

/** The sub-agents of a definition as tools, children of the host `children`. */
const subAgentTools = (args: AgentArgs, children: Host): ReadonlyArray<ToolDefinition> =>
  args.definition.subAgents.map((sub) =>
    Tool.fromAction(Action.make({
      name: sub.name,
      description: sub.description,
      params: Schema.Struct({ task: Schema.String.check(Schema.isMinLength(1)) }),
      output: Schema.Unknown,
      retries: 0,
      timeout: "10 minutes",
      run: ({ task }) =>
        Effect.map(
          children.turn(`${args.id}/${sub.name}`, { input: task, maxSteps: undefined }, "ask", undefined),
          (answer) => answer.output
        )
    }))
  )

export const behaviour = Behaviour.make<Protocol>()({
  name: "llm-agent",
  init: (args: AgentArgs) =>
    Effect.gen(function*() {
      // this actor was started with the agent protocol
      const self = (yield* Actor.self) as AgentRef
      const memory = args.runtime.memory
      let historyAtStart = memory === undefined ? 0 : (yield* memory.messages(args.id)).length
      // the latest checkpoint: the turns so far, and the conversation when the memory lost it
      const saved = args.host.config.checkpoints === undefined
        ? undefined
        : Option.getOrUndefined(yield* args.host.config.checkpoints.latest(args.id))
      const restored = decodeCheckpoint(saved?.state)
      if (memory !== undefined && historyAtStart === 0 && restored.messages.length > 0) {
        yield* memory.append(args.id, restored.messages)
        historyAtStart = (yield* memory.messages(args.id)).length
      }
      const context = args.host.config.context
      let children: DynamicSupervisor.DynamicSupervisorRef | undefined
      let loop = args.runtime.loop
      if (args.definition.subAgents.length > 0) {
        children = yield* DynamicSupervisor.spawn({ name: `${args.id}/agents` })
        const byName = new Map(args.definition.subAgents.map((s) => [s.name, s.agent]))
        const prefix = `${args.id}/`
        const childHost = new Host({
          ...args.host.config,
          name: `${args.host.config.name}/${args.id}`,
          supervisor: children,
          maxLive: undefined,
          known: [...byName.keys()].map((n) => prefix + n),
          resolve: (id) => id.startsWith(prefix) ? byName.get(id.slice(prefix.length)) : undefined
        })
        loop = args.runtime.makeLoop(subAgentTools(args, childHost))
      }
      const entry = args.host.register(args.id, self)
      const state: State = {
        args,
        self,
        entry,
        // the runtime's loop; its memory service is provided when a run names a conversation (see runTurn)
        loop: loop as AgentLoop.AgentLoop<unknown, never>,
        context,
        children,
        queue: [],
        head: 0,
        current: undefined,
        retiring: false,
        turns: 0,
        historyAtStart,
        incarnation: args.host.noteStart(args.id),
        turnsBefore: restored.turns,
        answered: 0,
        saving: Semaphore.makeUnsafe(1)
      }
      entry.status = () => statusOf(state)
      self.onExit((reason) => onExit(state, reason))
      return Behaviour.ok(state, idleOptions(state))
    }),
  handleCall: (_request, _from, state) => Behaviour.reply(statusOf(state), state, idleOptions(state)),
  handleInfo: (message, state) => {
    switch (message._tag) {
      case "Enqueue": {
        const turn = message.turn
        if (turn.state === "done") return Behaviour.noreply(state, idleOptions(state))
        if (state.retiring) {
          turn.resolve(GONE)
          return Behaviour.noreply(state, idleOptions(state))
        }
        if (pending(state) >= state.args.definition.maxQueuedTurns) {
          turn.resolve({ _tag: "Error", error: new AgentBusy({ id: state.args.id, queued: pending(state) }) })
          return Behaviour.noreply(state, idleOptions(state))
        }
        state.queue.push(turn)
        turn.onAccepted?.()
        startNext(state)
        return Behaviour.noreply(state, idleOptions(state))
      }
      case "Cancel": {
        const turn = message.turn ?? state.current
        if (turn === undefined || turn.state === "done") return Behaviour.noreply(state, idleOptions(state))
        if (turn.state === "queued") {
          turn.resolve({ _tag: "Error", error: new TurnCancelled({ id: state.args.id, reason: message.reason }) })
        } else if (turn === state.current) {
          turn.cancelReason = message.reason
          turn.fiber?.interruptUnsafe()
        }
        return Behaviour.noreply(state, idleOptions(state))
      }
      case "TurnDone":
        return onTurnDone(state, message.turn, message.exit)
      case "Retire":
        return retire(state)
      case "IdleTimeout":
        return isIdle(state) ? retire(state) : Behaviour.noreply(state)
      default:
        return Behaviour.noreply(state, idleOptions(state))
    }
  }
})
