/**
 * The machinery behind `LlmAgents`: a host of LLM agent processes — one actor per agent id, children of one
 * `DynamicSupervisor`, named in a unique `Registry` (`Registry.via(registry, id)`), started on demand, and a bound
 * on live agents with the least recently used stopped first. Sub-agents of an agent live in a host of their own
 * whose supervisor the parent owns.
 *
 * Delivery: a turn is a cast to the agent's mailbox carrying a one-shot `resolve`. An agent that is retiring (idle
 * stop, eviction) or that crashed answers queued turns `Gone`; the caller waits for the old process's exit and
 * delivers again to the next incarnation (the supervisor's restart, or a fresh start when the caller gets there
 * first: the restart then finds the agent's name taken and is ignored, so the old child is forgotten rather than
 * retried), so accepted work is never lost. A restart whose init fails (a store unreachable for a moment) is
 * ignored as well, and logged: the agent's next turn starts it again (as a fresh start, with its history), and a
 * store blip cannot use up the restart intensity that every agent of the host shares. A turn carries the error context (`ErrorScope`) of the
 * fiber that sent it, so the turn runs under its caller's route and tenant. Everything here is synchronous except process
 * starts, so an idle agent costs one actor, one state record and one LRU entry.
 */
import { type Context, Effect } from "effect"
import type { AgentLoopEvent } from "../../agent/AgentLoop.ts"
import type { DeadLetters } from "../../dlq/index.ts"
import type { ErrorHandlersShape } from "../../errors/ErrorHandlers.ts"
import { type ErrorContext, ErrorScope } from "../../errors/ErrorScope.ts"
import type { ConversationMemoryShape } from "../../memory/index.ts"
import type { PriceTable } from "../../pipeline/index.ts"
import {
  Actor,
  ChildSpec,
  DynamicSupervisor,
  ExitReason,
  type Process,
  type ProcessRegistry,
  Registry,
  StartIgnored
} from "../../runtime/index.ts"
import type { TelemetryHubShape } from "../../telemetry/index.ts"
import type { CheckpointsShape } from "../Checkpoints.ts"
import type { AnyLlmAgent } from "../LlmAgent.ts"
import { AgentBusy, AgentStartFailed, type TurnError, UnknownAgentKind } from "../LlmAgentError.ts"
import type { AgentStatus, CheckedTurn, TurnAnswer } from "../LlmAgentTurn.ts"
import type { DurableServices } from "./DurableTurn.ts"
import { type AgentArgs, behaviour, type Outcome, type Protocol, type Turn } from "./LlmAgentProcess.ts"
import { type DefinitionRuntime, makeRuntime } from "./LlmAgentRuntime.ts"

export type AgentRef = Actor.ActorRef<Protocol>

/** One live agent, in LRU order in `Host.live` (least recently used first). */
export interface LiveEntry {
  readonly id: string
  process: AgentRef | undefined
  /** a turn is running or queued: evicting it would wait */
  busy: boolean
  /** the agent's status, read without a message (so probing an agent does not keep it from idling) */
  status: (() => AgentStatus) | undefined
}

export interface HostConfig {
  readonly name: string
  /** which definition serves an id */
  readonly resolve: (id: string) => AnyLlmAgent | undefined
  readonly known: ReadonlyArray<string>
  /** live agents kept by this host; undefined: unbounded */
  readonly maxLive: number | undefined
  readonly context: Context.Context<never>
  readonly registry: ProcessRegistry<string, unknown>
  readonly supervisor: DynamicSupervisor.DynamicSupervisorRef
  readonly hub: TelemetryHubShape | undefined
  readonly memory: ConversationMemoryShape | undefined
  readonly llm: import("../../agent/index.ts").AgentLoop.ModelClient<unknown, never> | undefined
  readonly prices: PriceTable
  /** runtimes per definition, shared with the sub-agent hosts */
  readonly runtimes: Map<AnyLlmAgent, DefinitionRuntime>
  /** process starts per id (bounded FIFO), for `AgentStatus.incarnation` */
  readonly starts: Map<string, number>
  /** what durable definitions run with, and the layer's name (their workflows' names); undefined: none configured */
  readonly durable: { readonly services: DurableServices; readonly layerName: string } | undefined
  /** where turns that fail permanently are recorded (kind `turn`); undefined: nowhere */
  readonly deadLetters: DeadLetters["Service"] | undefined
  /** where each agent's state is saved after each answered turn and restored from on start; undefined: nowhere */
  readonly checkpoints: CheckpointsShape | undefined
  /** where turns that fail or crash, and turns refused before they run, are handled (troupe/errors); undefined: none */
  readonly errorHandlers: ErrorHandlersShape | undefined
}

const MAX_STARTS_TRACKED = 100_000

export class Host {
  readonly live = new Map<string, LiveEntry>()
  readonly config: HostConfig
  constructor(config: HostConfig) {
    this.config = config
  }

  runtimeFor(definition: AnyLlmAgent): DefinitionRuntime {
    let runtime = this.config.runtimes.get(definition)
    if (runtime === undefined) {
      runtime = makeRuntime(definition, this.config)
      this.config.runtimes.set(definition, runtime)
    }
    return runtime
  }

  whereis(id: string): AgentRef | undefined {
    const process = this.config.registry.whereisUnsafe(id)
    // every process of this registry was started by this host as an agent actor
    return process === undefined || process.exitReason !== undefined ? undefined : process as AgentRef
  }

  /** Marks `id` most recently used. */
  touch(entry: LiveEntry): void {
    this.live.delete(entry.id)
    this.live.set(entry.id, entry)
  }

  noteStart(id: string): number {
    const starts = this.config.starts
    const n = (starts.get(id) ?? 0) + 1
    starts.delete(id)
    starts.set(id, n)
    if (starts.size > MAX_STARTS_TRACKED) {
      const oldest = starts.keys().next()
      if (oldest.done !== true) starts.delete(oldest.value)
    }
    return n
  }

  /** Stops the least recently used agent (an idle one first) when the bound is reached; waits for an idle one's exit. */
  private evict(keep: string): Effect.Effect<void> {
    const maxLive = this.config.maxLive
    if (maxLive === undefined || this.live.size < maxLive) return Effect.void
    let victim: LiveEntry | undefined
    for (const entry of this.live.values()) {
      if (entry.id === keep) continue
      if (!entry.busy) {
        victim = entry
        break
      }
      victim ??= entry
    }
    const process = victim?.process
    if (victim === undefined || process === undefined) return Effect.void
    this.live.delete(victim.id)
    const wasIdle = !victim.busy
    Actor.sendUnsafe(process, { _tag: "Retire" })
    return wasIdle ? Effect.asVoid(awaitExitOf(process)) : Effect.void
  }

  /** The agent's process, started if needed. */
  ensureStarted(id: string): Effect.Effect<AgentRef, UnknownAgentKind | AgentStartFailed> {
    return Effect.suspend((): Effect.Effect<AgentRef, UnknownAgentKind | AgentStartFailed> => {
      const running = this.whereis(id)
      if (running !== undefined) {
        const entry = this.live.get(id)
        if (entry !== undefined) this.touch(entry)
        return Effect.succeed(running)
      }
      const definition = this.config.resolve(id)
      if (definition === undefined) return Effect.fail(new UnknownAgentKind({ id, known: [...this.config.known] }))
      return Effect.flatMap(this.evict(id), () => this.start(id, definition))
    })
  }

  private start(id: string, definition: AnyLlmAgent): Effect.Effect<AgentRef, AgentStartFailed> {
    const args: AgentArgs = { id, host: this, definition, runtime: this.runtimeFor(definition) }
    // the first run is this call (its failure is the caller's AgentStartFailed); on the supervisor's restarts, a
    // name held by a newer incarnation (a handed-over turn started it before the supervisor handled the crash) is
    // ignored, and so is a failed init (its checkpoint or memory store unreachable for a moment): agents start on
    // demand, so the next turn starts this one again; retried at once, the failure would use up the restart
    // intensity shared by every agent within microseconds
    const start = ChildSpec.restartsYieldToTakenName(
      Actor.start(behaviour, args, { name: Registry.via(this.config.registry, id) }).pipe(
        Effect.provideContext(this.config.context)
      ),
      Effect.catchTag("InitFailed", (failed) =>
        Effect.andThen(
          Effect.logWarning(
            `agent ${id}: its restart failed (${ExitReason.format(failed.exitReason)}); its next turn starts it again`
          ),
          Effect.fail(new StartIgnored({ name: failed.name }))
        ))
    )
    return DynamicSupervisor.startChild(this.config.supervisor, { id, restart: definition.restart, start }).pipe(
      Effect.matchEffect({
        onFailure: (error): Effect.Effect<AgentRef, AgentStartFailed> => {
          // a concurrent start (or the supervisor's restart) registered the name first: use that process
          const other = this.whereis(id)
          if (other !== undefined) return Effect.succeed(other)
          return Effect.fail(new AgentStartFailed({ id, reason: startReason(error) }))
        },
        onSuccess: (process) => {
          // the child was started from the agent behaviour above (or ignored)
          const ref = (process as AgentRef | undefined) ?? this.whereis(id)
          // ignored: the name was taken by a concurrent start (or the supervisor's restart), used above
          if (ref === undefined) return Effect.fail(new AgentStartFailed({ id, reason: "ignored" }))
          return Effect.succeed(ref)
        }
      })
    )
  }

  /** Called by an agent's `init`: registers it as live (most recently used). */
  register(id: string, process: AgentRef): LiveEntry {
    const existing = this.live.get(id)
    const entry: LiveEntry = existing ?? { id, process, busy: false, status: undefined }
    entry.process = process
    entry.busy = false
    this.touch(entry)
    return entry
  }

  /** Called when an agent's process exits. */
  unregister(entry: LiveEntry, process: AgentRef): void {
    if (entry.process === process) {
      entry.process = undefined
      if (this.live.get(entry.id) === entry) this.live.delete(entry.id)
    }
  }

  /**
   * Delivers a turn, retrying on the next incarnation when the agent answers `Gone`. `onEvent` receives the loop's
   * events (streamed turns); `onAccepted` is called once, when the first incarnation takes the turn into its queue
   * (a turn handed back and delivered again is not accepted twice). An interrupted caller cancels its turn (not for
   * `tell`).
   */
  turn(
    id: string,
    turn: CheckedTurn,
    mode: Turn["mode"],
    onEvent: ((event: AgentLoopEvent) => Effect.Effect<void>) | undefined,
    onAccepted?: () => void
  ): Effect.Effect<TurnAnswer, TurnError> {
    let accepted = false
    const acceptOnce = onAccepted === undefined ? undefined : () => {
      if (accepted) return
      accepted = true
      onAccepted()
    }
    const deliver = (process: AgentRef, scope: ErrorContext): Effect.Effect<TurnAnswer, TurnError> =>
      Effect.flatMap(
        Effect.callback<Outcome>((resume) => {
          const message: Turn = makeTurn(
            turn,
            mode,
            onEvent,
            (outcome) => resume(Effect.succeed(outcome)),
            scope,
            acceptOnce
          )
          if (!Actor.sendUnsafe(process, { _tag: "Enqueue", turn: message })) message.resolve(GONE)
          return Effect.sync(() => {
            if (message.state !== "done") {
              Actor.sendUnsafe(process, { _tag: "Cancel", turn: message, reason: "caller-gone" })
            }
          })
        }),
        (outcome): Effect.Effect<TurnAnswer, TurnError> =>
          outcome._tag === "Answer"
            ? Effect.succeed(outcome.answer)
            : outcome._tag === "Error"
            ? Effect.fail(outcome.error)
            : Effect.flatMap(awaitExitOf(process), () => attempt)
      )
    // the hot path: a live agent is found without a step (no `ensureStarted` effect); `withFiber` reads the
    // caller's error context in the step `suspend` took
    const attempt: Effect.Effect<TurnAnswer, TurnError> = Effect.withFiber((fiber) => {
      const scope = fiber.getRef(ErrorScope)
      const running = this.whereis(id)
      if (running === undefined) return Effect.flatMap(this.ensureStarted(id), (process) => deliver(process, scope))
      const entry = this.live.get(id)
      if (entry !== undefined) this.touch(entry)
      return deliver(running, scope)
    })
    return attempt
  }

  /** Sends a turn without waiting for it (`tell`): accepted once queued; it completes and is recorded. */
  tell(id: string, turn: CheckedTurn): Effect.Effect<void, UnknownAgentKind | AgentStartFailed | AgentBusy> {
    return Effect.flatMap(this.ensureStarted(id), (process) =>
      Effect.withFiber((fiber) => {
        const scope = fiber.getRef(ErrorScope)
        // a cast has no reply to carry a refusal: a full queue is refused here, before sending
        const status = this.live.get(id)?.status?.()
        const limit = this.config.resolve(id)?.maxQueuedTurns
        if (status !== undefined && limit !== undefined && status.queued >= limit) {
          return Effect.fail(new AgentBusy({ id, queued: status.queued }))
        }
        const message: Turn = makeTurn(turn, "tell", undefined, (outcome) => {
          // a retiring or crashed agent hands the turn back: deliver it again to the next incarnation
          if (outcome._tag === "Gone") {
            Effect.runForkWith(this.config.context)(
              Effect.flatMap(awaitExitOf(process), () => Effect.ignore(this.tell(id, turn))).pipe(
                Effect.provideService(ErrorScope, scope)
              )
            )
          }
        }, scope)
        if (!Actor.sendUnsafe(process, { _tag: "Enqueue", turn: message })) message.resolve(GONE)
        return Effect.void
      }))
  }
}

const GONE: Outcome = { _tag: "Gone" }

const makeTurn = (
  turn: CheckedTurn,
  mode: Turn["mode"],
  onEvent: Turn["onEvent"],
  resolve: (outcome: Outcome) => void,
  errorContext: ErrorContext,
  onAccepted?: () => void
): Turn => {
  const message: Turn = {
    input: turn,
    mode,
    onEvent,
    onAccepted,
    errorContext,
    state: "queued",
    fiber: undefined,
    cancelReason: undefined,
    resolve: (outcome) => {
      if (message.state === "done") return
      message.state = "done"
      resolve(outcome)
    }
  }
  return message
}

const awaitExitOf = (process: Process.Process) =>
  process.exitReason !== undefined
    ? Effect.succeed(process.exitReason)
    : Effect.callback<unknown>((resume) => {
      const off = process.onExit((reason) => resume(Effect.succeed(reason)))
      return Effect.sync(off)
    })

const startReason = (error: unknown): string => {
  // any failure, read by optional fields
  const tagged = error as { readonly _tag?: string; readonly reason?: unknown; readonly message?: string }
  if (tagged._tag === "FailedToStartChild") {
    // a FailedToStartChild's reason is an ExitReason (read by optional fields)
    const reason = tagged.reason as { readonly _tag?: string; readonly cause?: unknown } | undefined
    return reason?._tag === "Failure" ? "init failed" : String(reason?._tag ?? "failed")
  }
  return tagged._tag ?? "failed"
}
