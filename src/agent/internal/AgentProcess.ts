/**
 * The actor behind one running agent: it holds the agent value, runs `cmd` on every signal, queues the resulting
 * directives (bounded) and executes them with the directive executors, and watches its parent and children.
 *
 * Mirrors `Jido.AgentServer` (a GenServer per agent): `call(signal)` runs `cmd` and replies with the agent,
 * directives drain after the reply (in batches, interleaved with new messages), `RunAction` runs as a supervised
 * temporary task whose result comes back as an `ActionResult` instruction, the error policy decides what an
 * `Error` directive does, and parent/child links are monitors: a child's death reaches its parent's `cmd` as a
 * `troupe.agent.child.down` signal; a parent's death triggers the child's `onParentDeath` policy.
 *
 * With a `Checkpoints` store (src/llmagent/Checkpoints.ts) in the server's context, every `cmd` that changes the
 * agent's state saves the encoded state (in the background, one save at a time, in order), and `init` — the first
 * start and every restart — starts from the latest checkpoint when one decodes, else from the start arguments.
 *
 * The directive queue bound (`maxQueue`) refuses a call, cast or delivered signal whose directives do not fit; the
 * result of an action in flight (`ActionDone`) is always taken, past the bound if need be (its `RunAction` was
 * admitted, and a refused result would leave the agent `running` with `pending > 0` forever). A refused call is
 * answered `DirectiveQueueFull`; a refused cast or delivered signal, which has no one to answer, is logged at
 * Warning level (agent id, signal type) and counted in `troupe_agent_signals_dropped_total`. Errors are
 * rendered with the subsystem's total renderer (`ErrorText`), so no failure value can crash the agent while its
 * directives drain; `awaitStatus` callers are held in a bounded table (`Waiters`).
 *
 * Hot path: a signal whose `cmd` yields no directives is answered with a plain `Behaviour.reply` — no Effect, no
 * fiber, no continue.
 */
import { type Context, Effect, type Fiber, Metric, Option, Result, Schema, Semaphore } from "effect"
import type { CheckpointsShape } from "../../llmagent/Checkpoints.ts"
import * as ChildSpec from "../../runtime/ChildSpec.ts"
import { Actor, Behaviour, DynamicSupervisor, ExitReason, Monitor, Process } from "../../runtime/index.ts"
import type { MailboxFull } from "../../runtime/index.ts"
import * as ActionRunner from "../ActionRunner.ts"
import * as Agent from "../Agent.ts"
import type { AnyDefinition } from "../AgentDefinition.ts"
import { DirectiveQueueFull, type InvalidMessage } from "../AgentError.ts"
import type * as Directive from "../Directive.ts"
import * as DirectiveExecutor from "../DirectiveExecutor.ts"
import * as Instruction from "../Instruction.ts"
import * as Signal from "../Signal.ts"
import { malformed } from "./AgentMessage.ts"
import { errorReport, errorText } from "./ErrorText.ts"
import { Waiters } from "./Waiters.ts"

/** What an `Error` directive does. */
export type ErrorPolicy =
  | "log"
  | "stop"
  | { readonly emit: "bus" | "parent" }
  | { readonly stopAfter: number }

export interface ParentLink {
  readonly id: string
  readonly process: Process.Process
}

/** Everything an agent actor is started with (also what a restart re-initialises from). */
export interface AgentConfig {
  readonly id: string
  readonly definition: AnyDefinition
  readonly initialState: unknown
  readonly errorPolicy: ErrorPolicy
  readonly maxQueue: number
  /** bound on the callers of awaitStatus held at once */
  readonly maxWaiters: number
  readonly parent: ParentLink | undefined
  readonly onParentDeath: Directive.OnParentDeath
  /** server primitives the actor needs (start agents, find agents) */
  readonly server: ServerHooks
  /** where the state is saved after each change and restored from on (re)start; undefined: nowhere */
  readonly checkpoints: CheckpointsShape | undefined
}

export interface ServerHooks {
  readonly supervisor: DynamicSupervisor.DynamicSupervisorRef
  readonly whereis: (id: string) => Process.Process | undefined
  readonly startAgent: (
    definition: AnyDefinition,
    options: {
      readonly id: string
      readonly state: unknown
      readonly parent: ParentLink
      readonly onParentDeath: Directive.OnParentDeath
    }
  ) => Effect.Effect<Process.Process, unknown>
}

export type Request =
  | Signal.Signal
  | { readonly _tag: "State" }
  | { readonly _tag: "AwaitStatus"; readonly status: Agent.Status }
  | { readonly _tag: "Cmd"; readonly instructions: ReadonlyArray<Instruction.Instruction> }

export type Info =
  | { readonly _tag: "Deliver"; readonly signal: Signal.Signal }
  | { readonly _tag: "ActionDone"; readonly instruction: Instruction.ActionResult }
  | { readonly _tag: "ChildUp"; readonly id: string; readonly process: Process.Process }
  | { readonly _tag: "Drain" }
  /** an awaitStatus caller stopped waiting: forget the waiters whose calls are no longer pending */
  | { readonly _tag: "WaiterGone" }

export type AgentProtocol = {
  readonly call: Request
  readonly reply: Agent.Agent<unknown> | DirectiveQueueFull | InvalidMessage | MailboxFull
  readonly cast: Signal.Signal
  readonly info: Info
  readonly continue: "drain"
}

interface ServerState {
  agent: Agent.Agent<unknown>
  readonly config: AgentConfig
  readonly queue: Array<Directive.Directive>
  head: number
  errors: number
  parent: ParentLink | undefined
  readonly children: Map<string, Process.Process>
  /** monitored child processes: pid → child id (kept until their Down, even after a restart replaced them) */
  readonly monitored: Map<number, string>
  readonly waiters: Waiters
  readonly timers: Set<Fiber.Fiber<unknown, unknown>>
  readonly tasks: Set<Process.Process>
  stopRequested: ExitReason.ExitReason | undefined
  context: DirectiveExecutor.DirectiveContext
  now: () => number
  /** the actor's services (for the background checkpoint saves) */
  readonly services: Context.Context<never>
  readonly saving: Semaphore.Semaphore
}

const BATCH = 64

const pendingCount = (state: ServerState): number => state.queue.length - state.head

/** Applies a command; queues its directives. Returns the error (and keeps the old agent) when the queue is full. */
const apply = (
  state: ServerState,
  input: Instruction.Instruction | Signal.Signal | ReadonlyArray<Instruction.Instruction>,
  bounded = true
): DirectiveQueueFull | undefined => {
  const result = Agent.cmd(state.agent, input)
  const directives = result.directives
  if (directives.length > 0) {
    const pending = pendingCount(state)
    if (bounded && pending + directives.length > state.config.maxQueue) {
      return new DirectiveQueueFull({
        agent: state.config.id,
        capacity: state.config.maxQueue,
        pending,
        incoming: directives.length
      })
    }
    for (const d of directives) state.queue.push(d)
  }
  const changed = result.agent.status !== state.agent.status
  const stateChanged = result.agent.state !== state.agent.state
  state.agent = result.agent
  if (stateChanged && state.config.checkpoints !== undefined) checkpoint(state, state.config.checkpoints)
  if (changed) state.waiters.notify(state.agent)
  return undefined
}

/** Casts and delivered signals an agent refused because its directive queue was full (see the module doc). */
export const signalsDropped = Metric.counter("troupe_agent_signals_dropped_total", {
  description: "Signals (casts, delivered and system signals) agents refused because their directive queue was full",
  incremental: true
})

/**
 * `apply` for a signal no one waits on (a cast, a delivered or system signal): `undefined` when applied, else the
 * effect that logs and counts its refusal.
 */
const applyOrLog = (state: ServerState, signal: Signal.Signal): Effect.Effect<void> | undefined => {
  const full = apply(state, signal)
  if (full === undefined) return undefined
  const type = typeof signal.type === "string" ? signal.type.slice(0, 256) : "?"
  return Effect.andThen(
    Metric.update(signalsDropped, 1),
    Effect.logWarning(`agent ${state.config.id}: signal ${type} dropped: ${full.message}`)
  )
}

/** `afterApply`, after the refusal of `dropped` is logged when there was one. */
const afterSignal = (state: ServerState, dropped: Effect.Effect<void> | undefined) =>
  dropped === undefined ? afterApply(state) : Effect.as(dropped, afterApply(state))

/** Saves the encoded state in the background, one save at a time (a state that does not encode is not saved). */
const checkpoint = (state: ServerState, store: CheckpointsShape): void => {
  // a definition's state schema needs no services (Agent.make requires it); its type parameters are erased here
  const encoded = Schema.encodeUnknownResult(
    state.config.definition.schema as Schema.Codec<unknown, unknown, never, never>
  )(state.agent.state)
  if (Result.isFailure(encoded)) return
  Effect.runForkWith(state.services)(
    Effect.ignore(state.saving.withPermits(1)(store.save(state.config.id, encoded.success)))
  )
}

/** The state to start from: the latest checkpoint when one decodes, else the start arguments. */
const startState = (config: AgentConfig) =>
  Effect.gen(function*() {
    if (config.checkpoints === undefined) return config.initialState
    const latest = yield* config.checkpoints.latest(config.id)
    if (Option.isNone(latest)) return config.initialState
    // a definition's state schema needs no services (Agent.make requires it); its type parameters are erased here
    const decoded = Schema.decodeUnknownResult(
      config.definition.schema as Schema.Codec<unknown, unknown, never, never>
    )(latest.value.state)
    return Result.isSuccess(decoded) ? latest.value.state : config.initialState
  })

const afterApply = (state: ServerState): Behaviour.NoReplyResult<ServerState, "drain"> =>
  pendingCount(state) > 0 ? Behaviour.noreply(state, { continue: "drain" }) : Behaviour.noreply(state)

/** Executes up to a batch of queued directives; more left → a `Drain` message to self (interleaving). */
const drain = (state: ServerState) =>
  Effect.gen(function*() {
    let n = 0
    while (state.head < state.queue.length && n < BATCH && state.stopRequested === undefined) {
      // head < queue.length (loop condition), and taken slots are never read again
      const directive = state.queue[state.head] as Directive.Directive
      // clear the slot taken (it is past the head, never read again)
      state.queue[state.head] = undefined as never
      state.head++
      n++
      yield* DirectiveExecutor.execute(directive, state.context)
    }
    if (state.head === state.queue.length) {
      state.queue.length = 0
      state.head = 0
    } else if (state.stopRequested === undefined) {
      Actor.sendSystemUnsafe(state.context.self, { _tag: "Drain" })
    }
    if (state.stopRequested !== undefined) return Behaviour.stop(state.stopRequested, state)
    return Behaviour.noreply(state)
  })

const systemSignal = (state: ServerState, type: string, data: unknown): Signal.Signal => {
  const made = Signal.makeAt({ type, source: `agent:${state.config.id}`, data }, state.now())
  if (made._tag === "Failure") throw made.failure
  return made.success
}

const makeContext = (state: ServerState, self: Process.Process): DirectiveExecutor.DirectiveContext => {
  const config = state.config
  const deliver = (target: Process.Process | undefined, signal: Signal.Signal, to: string) =>
    Effect.suspend(() => {
      if (target === undefined || target.exitReason !== undefined) {
        return context.reportError(new Error(`cannot deliver ${signal.type} to ${to}: not running`))
      }
      Actor.sendUnsafe(target, { _tag: "Deliver", signal })
      return Effect.void
    })
  const context: DirectiveExecutor.DirectiveContext = {
    agentId: config.id,
    self,
    get parentId() {
      return state.parent?.id
    },
    now: () => state.now(),
    sendToParent: (signal) => deliver(state.parent?.process, signal, "parent"),
    sendToAgent: (id, signal) => deliver(config.server.whereis(id), signal, `agent ${id}`),
    startChild: (spec) =>
      DynamicSupervisor.startChild(config.server.supervisor, { ...spec, restart: spec.restart ?? "temporary" }).pipe(
        Effect.flatMap((process) =>
          Effect.sync(() => {
            if (process !== undefined) state.children.set(spec.id, process)
          })
        ),
        Effect.catch((error) => context.reportError(error))
      ),
    startAgent: (d) =>
      config.server.startAgent(d.definition, {
        id: d.id,
        state: d.state,
        parent: { id: config.id, process: self },
        onParentDeath: d.onParentDeath
      }).pipe(
        Effect.flatMap((process) => watchChild(state, d.id, process)),
        Effect.catch((error) => context.reportError(error))
      ),
    stopChild: (id, reason) =>
      Effect.suspend(() => {
        const child = state.children.get(id)
        if (child === undefined) return context.reportError(new Error(`no child ${id}`))
        state.children.delete(id)
        if (reason._tag === "Shutdown" && !("term" in reason)) {
          return Effect.catch(DynamicSupervisor.terminateChild(config.server.supervisor, child), () => Effect.void)
        }
        child.signalStop(reason)
        return Effect.void
      }),
    scheduleSignal: (delay, signal) =>
      Effect.flatMap(
        Effect.forkDetach(
          Effect.sleep(delay).pipe(
            Effect.andThen(Effect.sync(() => Actor.sendSystemUnsafe(self, { _tag: "Deliver", signal })))
          )
        ),
        (fiber) =>
          Effect.sync(() => {
            state.timers.add(fiber)
            fiber.addObserver(() => state.timers.delete(fiber))
          })
      ),
    runAction: (action, params) => {
      // run as a supervised task: the server's context provides the action's services; its outcome is sent as ActionDone
      const run = ActionRunner.execute(action, params, { state: state.agent.state, agentId: config.id }).pipe(
        Effect.exit,
        Effect.flatMap((exit) =>
          Effect.sync(() => {
            const instruction = exit._tag === "Success"
              ? Instruction.actionSucceeded(action.name, exit.value.output, exit.value.ops)
              : Instruction.actionFailed(
                action.name,
                exit.cause.reasons.find((r) => r._tag === "Fail")?.error ?? exit.cause
              )
            Actor.sendSystemUnsafe(self, { _tag: "ActionDone", instruction })
          })
        ),
        Effect.provideService(ActionRunner.CompensationSupervisor, config.server.supervisor)
      ) as unknown as Effect.Effect<unknown, unknown>
      const id = `${config.id}/action:${action.name}`
      return DynamicSupervisor.startChild(config.server.supervisor, ChildSpec.task({ id, run, restart: "temporary" }))
        .pipe(
          Effect.flatMap((process) =>
            Effect.sync(() => {
              if (process === undefined) return
              state.tasks.add(process)
              process.onExit(() => state.tasks.delete(process))
            })
          ),
          Effect.catch((error) =>
            Effect.andThen(
              Effect.sync(() =>
                Actor.sendSystemUnsafe(self, {
                  _tag: "ActionDone",
                  instruction: Instruction.actionFailed(action.name, error)
                })
              ),
              context.reportError(error)
            )
          )
        )
    },
    stop: (reason) =>
      Effect.sync(() => {
        state.stopRequested ??= reason
      }),
    reportError: (error) => handleError(state, error)
  }
  return context
}

const watchChild = (state: ServerState, id: string, process: Process.Process): Effect.Effect<void> =>
  Effect.suspend(() => {
    state.children.set(id, process)
    if (state.monitored.has(process.pid)) return Effect.void
    state.monitored.set(process.pid, id)
    return Effect.asVoid(Monitor.monitorFrom(state.context.self, process))
  })

const handleError = (state: ServerState, error: unknown): Effect.Effect<void> =>
  Effect.suspend(() => {
    state.errors++
    const policy = state.config.errorPolicy
    const log = Effect.logWarning(`agent ${state.config.id}: ${errorText(error)}`)
    if (policy === "log") return log
    if (policy === "stop" || ("stopAfter" in policy && state.errors >= policy.stopAfter)) {
      return Effect.andThen(
        log,
        Effect.sync(() => {
          state.agent = { ...state.agent, status: "failed", error }
          state.waiters.notify(state.agent)
          state.stopRequested ??= ExitReason.shutdownWith({ error })
        })
      )
    }
    if ("emit" in policy) {
      const signal = systemSignal(state, "troupe.agent.error", { agent: state.config.id, error: errorReport(error) })
      const to: Directive.EmitTarget = policy.emit === "parent" ? { _tag: "Parent" } : { _tag: "Bus" }
      // the server's context holds every directive executor
      return DirectiveExecutor.execute({ _tag: "Emit", signal, to }, state.context) as Effect.Effect<void>
    }
    return log
  })

/** The agent actor's behaviour. */
export const behaviour = Behaviour.make<AgentProtocol>()({
  name: "agent",
  // an agent traps exits: a shutdown runs its terminate, which cancels its timers and stops its action tasks
  trapExit: true,
  init: (config: AgentConfig) =>
    Effect.gen(function*() {
      const self = yield* Actor.self
      if (self === undefined) return yield* Effect.die(new Error("agent init outside its actor"))
      const agent = yield* Agent.make(config.definition, { id: config.id, state: yield* startState(config) })
      const clock = yield* Effect.clockWith(Effect.succeed)
      const state: ServerState = {
        // the server runs agents of any state type; the definition's schema checks the state
        agent: agent as Agent.Agent<unknown>,
        config,
        queue: [],
        head: 0,
        errors: 0,
        parent: config.parent,
        children: new Map(),
        monitored: new Map(),
        waiters: new Waiters(config.id, config.maxWaiters),
        timers: new Set(),
        tasks: new Set(),
        stopRequested: undefined,
        // set right after init, before any message is handled
        context: undefined as never,
        now: () => clock.currentTimeMillisUnsafe(),
        services: yield* Effect.context<never>(),
        saving: Semaphore.makeUnsafe(1)
      }
      state.context = makeContext(state, self)
      if (config.parent !== undefined) {
        yield* Monitor.monitorFrom(self, config.parent.process)
        Actor.sendSystemUnsafe(config.parent.process, { _tag: "ChildUp", id: config.id, process: self })
      }
      return Behaviour.ok(state)
    }),
  handleCall: (request, from, state) => {
    // a raw `Actor.call` can send anything: a malformed request is answered with InvalidMessage, never a crash
    if (typeof request !== "object" || request === null) return Behaviour.reply(malformed(request), state)
    if ("specversion" in request) {
      const full = apply(state, request)
      if (full !== undefined) return Behaviour.reply(full, state)
      return pendingCount(state) > 0
        ? Behaviour.reply(state.agent, state, { continue: "drain" as const })
        : Behaviour.reply(state.agent, state)
    }
    switch (request._tag) {
      case "State":
        return Behaviour.reply(state.agent, state)
      case "AwaitStatus": {
        if (state.agent.status === request.status) return Behaviour.reply(state.agent, state)
        // waiters of any reply type; this one is answered with the agent, the AwaitStatus reply
        const full = state.waiters.add(request.status, from as Actor.From<unknown>)
        return full === undefined ? Behaviour.noreply(state) : Behaviour.reply(full, state)
      }
      case "Cmd": {
        if (!Array.isArray(request.instructions)) return Behaviour.reply(malformed(request), state)
        const full = apply(state, request.instructions)
        if (full !== undefined) return Behaviour.reply(full, state)
        return Behaviour.reply(state.agent, state, pendingCount(state) > 0 ? { continue: "drain" as const } : undefined)
      }
      default:
        return Behaviour.reply(malformed(request), state)
    }
  },
  handleCast: (signal, state) => {
    if (typeof signal !== "object" || signal === null) return Behaviour.noreply(state) // malformed: dropped
    return afterSignal(state, applyOrLog(state, signal))
  },
  handleInfo: (message, state) => {
    if (typeof message !== "object" || message === null) return Behaviour.noreply(state) // malformed: dropped
    switch (message._tag) {
      case "Deliver":
        return afterSignal(state, applyOrLog(state, message.signal))
      case "ActionDone":
        // always taken: its RunAction was admitted, and a refused result would leave the agent running forever
        apply(state, message.instruction, false)
        return afterApply(state)
      case "Drain":
        return drain(state)
      case "WaiterGone":
        state.waiters.prune()
        return Behaviour.noreply(state)
      case "ChildUp":
        if (typeof message.id !== "string" || !Process.isProcess(message.process)) return Behaviour.noreply(state)
        return Effect.flatMap(watchChild(state, message.id, message.process), () => {
          const dropped = applyOrLog(state, systemSignal(state, "troupe.agent.child.started", { id: message.id }))
          return Effect.as(dropped ?? Effect.void, afterApply(state))
        })
      case "Down": {
        if (!ExitReason.isExitReason(message.reason)) return Behaviour.noreply(state)
        if (state.parent !== undefined && message.pid === state.parent.process.pid) {
          const parent = state.parent
          state.parent = undefined
          switch (state.config.onParentDeath) {
            case "stop":
              return Behaviour.stop(ExitReason.shutdownWith({ parentDown: parent.id }), state)
            case "continue":
              return Behaviour.noreply(state)
            case "emitOrphan":
              return afterSignal(
                state,
                applyOrLog(
                  state,
                  systemSignal(state, "troupe.agent.orphaned", {
                    parent: parent.id,
                    reason: ExitReason.format(message.reason)
                  })
                )
              )
          }
        }
        const childId = state.monitored.get(message.pid)
        if (childId === undefined) return Behaviour.noreply(state)
        state.monitored.delete(message.pid)
        // a restart may already have replaced the child (its ChildUp can arrive before this Down)
        if (state.children.get(childId)?.pid === message.pid) state.children.delete(childId)
        return afterSignal(
          state,
          applyOrLog(
            state,
            systemSignal(state, "troupe.agent.child.down", { id: childId, reason: ExitReason.format(message.reason) })
          )
        )
      }
      default:
        return Behaviour.noreply(state)
    }
  },
  handleContinue: (_arg, state) => drain(state),
  terminate: (_reason, state) =>
    Effect.sync(() => {
      for (const fiber of state.timers) fiber.interruptUnsafe()
      for (const task of state.tasks) task.signalStop(ExitReason.shutdown)
    })
})
