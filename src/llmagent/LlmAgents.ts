/**
 * `LlmAgents`: supervised, tool-using LLM agents — one process per agent id, the main way to run an agent.
 *
 * Rules (each has a test in test/llmagent):
 * - **One actor per agent** under one `DynamicSupervisor`, registered by id in a unique `Registry`
 *   (`Registry.via`), started on demand by any turn or by `ensureStarted(id)`. The id picks the definition:
 *   `<definition name>:<key>`, or any id when the layer has a `default` definition.
 * - **Restart types are OTP's**: `permanent` agents are always restarted, `transient` ones (the default) after a
 *   crash only, `temporary` ones never. A turn that dies crashes its agent; the restarted agent reloads its history
 *   from `ConversationMemory`, so the conversation goes on.
 * - **Turns are messages**: turns to one agent run one at a time in arrival order; different agents run
 *   concurrently. `ask` waits for the answer, `askStream` streams the loop's events, `tell` returns once the turn
 *   is queued. A caller that goes away (interrupted, or a dropped stream) interrupts its turn — the model call and
 *   the tools — or removes it from the queue; a `tell` has no caller and always completes and is recorded.
 *   `cancel(id)` interrupts the in-flight turn. A cancelled turn leaves nothing in memory: a turn is appended to
 *   memory once, whole (its repairs included), when it answers; a cancelled, failed or undecodable turn leaves none.
 * - **`maxSteps` counts every model call of a turn**, output repairs included; `costUsd` prices every model call,
 *   each with its `perRequest` fee.
 * - **Idle agents hibernate and stop** after their idle timeout; the next turn starts them again with their
 *   history. **Live agents are bounded** (`maxLive`, default 10,000 per node): starting one more stops the least
 *   recently used (an idle one first). Turns that reach an agent while it stops are delivered to its next
 *   incarnation: accepted work is never lost.
 * - **Requirements are types**: the layer requires what its definitions need (`ConversationMemory` for
 *   conversation memory, `Llm` without a model client of their own, their tools' services); nothing is looked up
 *   at run time. `TelemetryHub` is optional and read once when the layer is built: with one, turns emit `troupe.agent.turn.*` events (and tool executions are tracked), which
 *   the hub's default metrics record as `troupe_agent_turn*` Prometheus metrics.
 * - **A turn that fails permanently goes to the dead-letter queue** when a `DeadLetters` is in the context when the
 *   layer is built: a turn that failed (`TurnFailed`, after the pipeline's retries and fallbacks), whose answer did
 *   not decode after its repairs (`InvalidAgentOutput`) or that crashed (`TurnCrashed`) is recorded as a letter of
 *   kind `turn`, source the agent id, input `{ agentId, input, maxSteps }` and the error. Cancelled and refused
 *   turns are not dead letters; a `TurnRedrive` given as `redrive` sends a letter's turn again.
 * - **Turn failures are classified** (troupe/errors) when an `ErrorHandlers` is in the context when the layer is
 *   built (`Troupe.layer` provides one): a turn that fails (`TurnFailed`, `InvalidAgentOutput`) or crashes
 *   (`TurnCrashed`) goes to its handlers — and so to `ErrorAnalytics` — with the agent id and the route and tenant
 *   of the caller that sent it (a `tell` too), and so does a turn refused before it runs (`UnknownAgentKind`,
 *   `AgentStartFailed`, `AgentBusy`, `InvalidTurnInput`; `InvalidAgentId` without the id); each turn runs with the
 *   agent id in its error context (`ErrorScope`), so the pipeline's failures inside it carry it too. A cancelled
 *   turn is not a failure.
 * - **Checkpoints**: with a `Checkpoints` in the context, each agent's state (`{ turns, messages, runId }`) is saved
 *   after every answered turn, under the retention of the store, and the latest is restored when the agent starts:
 *   an agent whose conversation memory is empty gets its conversation back.
 * - **Sub-agents** (`LlmAgent.asTool`) run as children of their parent, under a supervisor the parent owns.
 * - **Durable turns** (a definition with `durable`): each turn is a workflow run on the `WorkflowEngine` whose model
 *   and tool calls are journaled (`Journal.model`, `Journal.tool`) and recorded in the `RunJournal`; its run id is
 *   in the answer (`runId`). **A run that did not finish resumes from the last journaled step** when the layer is
 *   built again (after a crash or a restart): answered model calls are not repeated and not paid twice. Cancelling
 *   the turn (or its caller going away) interrupts the run; the agent stopping does not.
 *
 * Mirrors Jido's `AgentServer` running an LLM strategy (one GenServer per agent, a `DynamicSupervisor`, a
 * `Registry`), Elixir's `:hibernate` and idle-timeout idioms, and the run/stream/cancel surface of LLM agent SDKs.
 * Reuses troupe's runtime (actors, supervisors, registry) and `AgentLoop`; the turn queue and the LRU are
 * hand-rolled (plain arrays and an insertion-ordered `Map`).
 */
import { Context, Effect, Layer, Option, Queue, Result, Schema, type Scope, Stream } from "effect"
import { WorkflowEngine } from "effect/workflow"
import type { AgentLoopEvent } from "../agent/AgentLoop.ts"
import { DeadLetters } from "../dlq/index.ts"
import { ErrorHandlers } from "../errors/ErrorHandlers.ts"
import type { LlmMessage } from "../llm/index.ts"
import { ConversationMemory, type MemoryError } from "../memory/index.ts"
import { defaultPrices, Llm, type PriceTable } from "../pipeline/index.ts"
import { Actor, DynamicSupervisor, ExitReason, type InvalidOptions, Registry } from "../runtime/index.ts"
import * as Options from "../runtime/internal/Options.ts"
import { TelemetryHub } from "../telemetry/index.ts"
import { Checkpoints } from "./Checkpoints.ts"
import { Host } from "./internal/LlmAgentHost.ts"
import { ToolLedger } from "./Journal.ts"
import type { AnyLlmAgent, Requirements } from "./LlmAgent.ts"
import {
  type AgentBusy,
  type AgentStartFailed,
  type InvalidAgentId,
  type InvalidTurnInput,
  type TurnError,
  UnknownAgentKind
} from "./LlmAgentError.ts"
import { type AgentStatus, checkId, checkTurn, type TurnAnswer, type TurnInput } from "./LlmAgentTurn.ts"
import { RunJournal } from "./RunJournal.ts"
import type { TurnRedrive } from "./TurnRedrive.ts"

/** Options of `askStream`. */
export interface AskStreamOptions {
  /** called once when the agent takes the turn into its queue (never for a refused turn) */
  readonly onAccepted?: () => void
}

/** The service interface (see the module doc for the rules). */
export interface LlmAgentsShape {
  /**
   * Starts the agent unless it runs. Fails with `InvalidAgentId` when the id is empty, longer than 256 characters or
   * has control characters; with `UnknownAgentKind` when no definition serves the id (its `<name>:` prefix names no
   * definition and there is no `default`, or it is a sub-agent id with a `/`); with `AgentStartFailed` when the agent's
   * process does not start, e.g. its `init` fails because reading its conversation memory or latest checkpoint fails.
   */
  readonly ensureStarted: (
    id: string
  ) => Effect.Effect<AgentStatus, InvalidAgentId | UnknownAgentKind | AgentStartFailed>
  /**
   * One turn; waits for its answer. Interrupting the caller interrupts the turn. Fails with `TurnError`:
   * `InvalidAgentId` when the id is empty, longer than 256 characters or has control characters; `InvalidTurnInput`
   * when the input is neither a string of 1 to 1,000,000 characters nor `{ input, maxSteps? }` with such a string or a
   * non-empty list of at most 10,000 valid messages with at most 1,000,000 characters of text, and `maxSteps` an
   * integer from 1 to 1,000; `UnknownAgentKind` when no definition
   * serves the id (its `<name>:` prefix names no definition and there is no `default`, or it is a sub-agent id with a
   * `/`); `AgentStartFailed` when the agent's process does not start, e.g. its `init` fails because reading its
   * conversation memory or latest checkpoint fails; `AgentBusy` when the agent already holds `maxQueuedTurns` turns;
   * `TurnCancelled` when `cancel(id)` interrupts the turn or the agent stops before it finishes; `TurnFailed` when the
   * model, the loop or the memory append fails with a typed error (after the pipeline's retries and fallbacks), or
   * (tagged `MaxSteps`) when a structured turn runs out of steps without a decodable answer; `TurnCrashed` when the
   * turn dies with a defect, crashing its agent; `InvalidAgentOutput` when the answer does not decode with the output
   * Schema after the configured repairs.
   */
  readonly ask: (id: string, input: TurnInput) => Effect.Effect<TurnAnswer, TurnError>
  /**
   * One turn, its loop events as they happen (the last is `Finished`); dropping the stream interrupts the turn. The
   * stream fails with `TurnError` in the same cases as `ask` (see there: from `InvalidAgentId` to
   * `InvalidAgentOutput`). `options.onAccepted` is called once when the agent takes the turn into its queue, before
   * any event: a stream that fails before it was called was refused (`AgentBusy`, a start failure, bad input), so a
   * caller can answer a refusal differently from a failure in the turn (the gateway's SSE turns do).
   */
  readonly askStream: (
    id: string,
    input: TurnInput,
    options?: AskStreamOptions
  ) => Stream.Stream<AgentLoopEvent, TurnError>
  /**
   * Queues one turn and returns (a cast): it completes and is recorded even when nobody waits; `AgentBusy` when the
   * queue is full. Fails with `InvalidAgentId` when the id is empty, longer than 256 characters or has control
   * characters; with `InvalidTurnInput` when the input is neither a string of 1 to 1,000,000 characters nor `{ input,
   * maxSteps? }` with such a string or a non-empty list of at most 10,000 valid messages with at most 1,000,000
   * characters of text, and `maxSteps` an integer from 1 to 1,000;
   * with `UnknownAgentKind` when no definition serves the id (its `<name>:` prefix names no definition and there is no
   * `default`, or it is a sub-agent id with a `/`); with `AgentStartFailed` when the agent's process does not start,
   * e.g. its `init` fails because reading its conversation memory or latest checkpoint fails; with `AgentBusy` when the
   * agent already holds `maxQueuedTurns` turns. The turn's own outcome (cancelled, failed, crashed) reaches no caller.
   */
  readonly tell: (
    id: string,
    input: TurnInput
  ) => Effect.Effect<void, InvalidAgentId | InvalidTurnInput | UnknownAgentKind | AgentStartFailed | AgentBusy>
  /**
   * Interrupts the agent's in-flight turn (its caller gets `TurnCancelled`); false when the agent is not running. Fails
   * with `InvalidAgentId` when the id is empty, longer than 256 characters or has control characters.
   */
  readonly cancel: (id: string) => Effect.Effect<boolean, InvalidAgentId>
  /**
   * The agent's status; `alive: false` when it has no process (never started, stopped). Fails with `InvalidAgentId`
   * when the id is empty, longer than 256 characters or has control characters.
   */
  readonly status: (id: string) => Effect.Effect<AgentStatus, InvalidAgentId>
  /**
   * The conversation as kept in memory (empty for agents without memory). Fails with `InvalidAgentId` when the id is
   * empty, longer than 256 characters or has control characters; with `UnknownAgentKind` when no definition (or
   * sub-agent path) serves the id; with `MemoryError` (`MemoryBackendError`) when reading the conversation memory
   * fails, e.g. Redis is unreachable.
   */
  readonly history: (
    id: string
  ) => Effect.Effect<ReadonlyArray<LlmMessage>, InvalidAgentId | UnknownAgentKind | MemoryError>
  /**
   * Stops the agent (its in-flight and queued turns are cancelled); false when it was not running. Fails with
   * `InvalidAgentId` when the id is empty, longer than 256 characters or has control characters.
   */
  readonly stop: (id: string) => Effect.Effect<boolean, InvalidAgentId>
  /** Ids of the live agents, least recently used first. */
  readonly live: Effect.Effect<ReadonlyArray<string>>
  readonly supervisor: DynamicSupervisor.DynamicSupervisorRef
}

/** Layer options. */
export interface LlmAgentsOptions<A extends AnyLlmAgent> {
  /** the definitions; an id `<name>:<key>` is served by the definition named `name` */
  readonly agents: ReadonlyArray<A>
  /** the definition (by name) serving ids that match no other; default none */
  readonly default?: string
  /** live agents on this node; default 10,000 */
  readonly maxLive?: number
  /** name of the supervisor and registry; default `llm-agents` */
  readonly name?: string
  /** supervisor intensity; default 10 restarts in 5 seconds */
  readonly maxRestarts?: number
  readonly maxSeconds?: number
  /** prices for `costUsd`; default the pipeline's table */
  readonly prices?: PriceTable
  /** the redrive handler of `turn` dead letters to bind to these agents (see `TurnRedrive`) */
  readonly redrive?: TurnRedrive
}

/** The failures of a turn refused before it runs (the error handlers see them from the caller's side). */
const refusals: ReadonlySet<string> = new Set([
  "InvalidAgentId",
  "InvalidTurnInput",
  "UnknownAgentKind",
  "AgentStartFailed",
  "AgentBusy"
])

/** The default bound on live agents per node; the least recently used idle agent is stopped first. */
export const DEFAULT_MAX_LIVE = 10_000

const OptionsSchema = Schema.Struct({
  agents: Schema.Array(Schema.Unknown).check(Schema.isMinLength(1)),
  default: Schema.optionalKey(Schema.String),
  maxLive: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000_000 }))),
  name: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1))),
  maxRestarts: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  maxSeconds: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0))),
  prices: Schema.optionalKey(Schema.Unknown),
  redrive: Schema.optionalKey(Schema.Unknown)
})

/** What `make` / `layer` fail with: bad options (`InvalidOptions`, naming the field). */
export type LlmAgentsError = InvalidOptions

const stoppedStatus = (id: string, incarnation: number): AgentStatus => ({
  id,
  alive: false,
  state: "stopped",
  queued: 0,
  turns: 0,
  historyAtStart: 0,
  incarnation,
  pid: undefined
})

/**
 * Builds the service in the current scope: a dynamic supervisor and a registry; closing the scope stops every agent.
 * Requires what the definitions require. Fails with `InvalidOptions` (naming the field) when `agents` is empty,
 * two definitions share a name, `default` is not a string or names no definition, a definition's loop is rejected
 * (`AgentLoop.make`), `maxLive` is not an integer from 1 to 10,000,000, `name` is empty, `maxRestarts` is not a
 * non-negative integer or `maxSeconds` is not a finite number above 0.
 *
 * @example
 * ```ts
 * const agents = yield* LlmAgents.make({ agents: [Support] })
 * const answer = yield* agents.ask("support:user-42", "Where is my order?")
 * ```
 */
export const make = <A extends AnyLlmAgent>(
  options: LlmAgentsOptions<A>
): Effect.Effect<LlmAgentsShape, InvalidOptions, Scope.Scope | Requirements<A>> =>
  Effect.gen(function*() {
    const checked = Options.validate(OptionsSchema, options, "llm agents options")
    if (Result.isFailure(checked)) return yield* checked.failure
    const name = options.name ?? "llm-agents"
    const byName = new Map<string, AnyLlmAgent>()
    for (const [i, agent] of options.agents.entries()) {
      if (byName.has(agent.name)) {
        return yield* Options.invalid(
          "llm agents options",
          `agents[${i}].name`,
          `a second definition named "${agent.name}"`
        )
      }
      byName.set(agent.name, agent)
    }
    const fallback = options.default === undefined ? undefined : byName.get(options.default)
    if (options.default !== undefined && fallback === undefined) {
      return yield* Options.invalid("llm agents options", "default", `no definition is named "${options.default}"`)
    }
    const context = yield* Effect.context<never>()
    const memory = Option.getOrUndefined(yield* Effect.serviceOption(ConversationMemory))
    const llm = Option.getOrUndefined(yield* Effect.serviceOption(Llm))
    const hub = Option.getOrUndefined(yield* Effect.serviceOption(TelemetryHub))
    const engine = Option.getOrUndefined(yield* Effect.serviceOption(WorkflowEngine.WorkflowEngine))
    const runJournal = Option.getOrUndefined(yield* Effect.serviceOption(RunJournal))
    const ledger = Option.getOrUndefined(yield* Effect.serviceOption(ToolLedger))
    const deadLetters = Option.getOrUndefined(yield* Effect.serviceOption(DeadLetters))
    const checkpoints = Option.getOrUndefined(yield* Effect.serviceOption(Checkpoints))
    const errorHandlers = Option.getOrUndefined(yield* Effect.serviceOption(ErrorHandlers))
    const registry = yield* Registry.make<string, unknown>({ keys: "unique", name })
    const supervisor = yield* DynamicSupervisor.start({
      name,
      maxRestarts: options.maxRestarts ?? 10,
      maxSeconds: options.maxSeconds ?? 5
    })
    const resolveTop = (id: string): AnyLlmAgent | undefined => {
      const colon = id.indexOf(":")
      const found = colon > 0 ? byName.get(id.slice(0, colon)) : undefined
      return found ?? fallback
    }
    /** `<parent id>/<sub-agent>/…`: the definition of a (nested) sub-agent */
    const resolveDeep = (id: string): AnyLlmAgent | undefined => {
      const [top, ...path] = id.split("/")
      let definition = resolveTop(top ?? "")
      for (const segment of path) definition = definition?.subAgents.find((s) => s.name === segment)?.agent
      return definition
    }
    const host = new Host({
      name,
      // ids with a `/` are sub-agents: only their parent starts them
      resolve: (id) => id.includes("/") ? undefined : resolveTop(id),
      known: [...byName.keys()],
      maxLive: options.maxLive ?? DEFAULT_MAX_LIVE,
      context,
      registry,
      supervisor,
      hub,
      memory,
      llm: llm as never, // the pipeline's `Llm` has the `ModelClient` shape (generate / stream of a request)
      prices: options.prices ?? defaultPrices,
      runtimes: new Map(),
      starts: new Map(),
      durable: engine === undefined || runJournal === undefined || ledger === undefined
        ? undefined
        : { services: { engine, journal: runJournal, ledger }, layerName: name },
      deadLetters,
      checkpoints,
      errorHandlers
    })
    // build every definition's shared parts now: a missing service or a bad loop configuration fails the layer
    const reachable = new Set<AnyLlmAgent>()
    const walk = (agent: AnyLlmAgent): void => {
      if (reachable.has(agent)) return
      reachable.add(agent)
      for (const sub of agent.subAgents) walk(sub.agent)
    }
    for (const agent of byName.values()) walk(agent)
    for (const agent of reachable) {
      yield* Effect.try({
        try: () => host.runtimeFor(agent),
        catch: (e) =>
          Options.invalid(
            "llm agents options",
            "agents",
            `definition "${agent.name}": ${e instanceof Error ? e.message : String(e)}`
          )
      })
    }
    // durable definitions: register their workflows, then resume the runs a previous start left unfinished
    const durables = [...reachable].flatMap((agent) => {
      const durable = host.runtimeFor(agent).durable
      return durable === undefined ? [] : [durable]
    })
    for (const durable of durables) yield* durable.register
    for (const durable of durables) yield* durable.resumeUnfinished

    const withId = <A, E = never>(id: string, f: () => Effect.Effect<A, E>): Effect.Effect<A, E | InvalidAgentId> => {
      const bad = checkId(id)
      return bad === undefined ? Effect.suspend(f) : Effect.fail(bad)
    }
    const statusOf = (id: string): Effect.Effect<AgentStatus> => {
      const process = host.whereis(id)
      if (process === undefined) return Effect.succeed(stoppedStatus(id, host.config.starts.get(id) ?? 0))
      const status = host.live.get(id)?.status
      if (status !== undefined) return Effect.succeed(status())
      // a sub-agent (its parent's host tracks it): ask the process itself
      return Actor.call(process, { _tag: "Status" }, { timeout: "infinity" }).pipe(
        Effect.catch(() => Effect.succeed(stoppedStatus(id, host.config.starts.get(id) ?? 0)))
      )
    }

    /**
     * A turn refused before it runs goes to the error handlers with the agent id (not an invalid one); the turns that
     * ran are handled by their process (see LlmAgentProcess), cancelled ones by nobody.
     */
    const refusal = (id: string) => (error: TurnError): Effect.Effect<void> =>
      errorHandlers === undefined || !refusals.has(error._tag)
        ? Effect.void
        : errorHandlers.handle(error, error._tag === "InvalidAgentId" ? {} : { agent: id })
    const refused = <A, E extends TurnError>(id: string, self: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      errorHandlers === undefined ? self : Effect.tapError(self, refusal(id))

    options.redrive?.bind((id, turn) => withId(id, () => host.turn(id, turn, "ask", undefined)))
    const askStream = (
      id: string,
      input: TurnInput,
      options?: AskStreamOptions
    ): Stream.Stream<AgentLoopEvent, TurnError> =>
      Stream.callback<AgentLoopEvent, TurnError>((queue) => {
        const bad = checkId(id)
        if (bad !== undefined) return Effect.fail(bad)
        const turn = checkTurn(id, input)
        if (turn instanceof Error) return Effect.fail(turn)
        return host.turn(
          id,
          turn,
          "stream",
          (event) => Effect.asVoid(Queue.offer(queue, event)),
          options?.onAccepted
        ).pipe(
          Effect.andThen(Queue.end(queue))
        )
      }, { bufferSize: 64, strategy: "suspend" })
    const shape: LlmAgentsShape = {
      ensureStarted: (id) => refused(id, withId(id, () => Effect.flatMap(host.ensureStarted(id), () => statusOf(id)))),
      ask: (id, input) =>
        refused(
          id,
          withId<TurnAnswer, TurnError>(id, () => {
            const turn = checkTurn(id, input)
            return turn instanceof Error ? Effect.fail(turn) : host.turn(id, turn, "ask", undefined)
          })
        ),
      askStream: (id, input, options) =>
        errorHandlers === undefined
          ? askStream(id, input, options)
          : Stream.tapError(askStream(id, input, options), refusal(id)),
      tell: (id, input) =>
        refused(
          id,
          withId<void, InvalidTurnInput | UnknownAgentKind | AgentStartFailed | AgentBusy>(id, () => {
            const turn = checkTurn(id, input)
            return turn instanceof Error ? Effect.fail(turn) : host.tell(id, turn)
          })
        ),
      cancel: (id) =>
        withId(id, () =>
          Effect.sync(() => {
            const process = host.whereis(id)
            if (process === undefined) return false
            return Actor.sendUnsafe(process, { _tag: "Cancel", turn: undefined, reason: "cancelled" })
          })),
      status: (id) => withId(id, () => statusOf(id)),
      history: (id) =>
        withId<ReadonlyArray<LlmMessage>, UnknownAgentKind | MemoryError>(id, () => {
          const definition = resolveDeep(id)
          if (definition === undefined) return Effect.fail(new UnknownAgentKind({ id, known: [...byName.keys()] }))
          const runtime = host.runtimeFor(definition)
          return runtime.memory === undefined ? Effect.succeed([]) : runtime.memory.messages(id)
        }),
      stop: (id) =>
        withId(id, () => {
          const process = host.whereis(id)
          if (process === undefined) return Effect.succeed(false)
          return DynamicSupervisor.terminateChild(supervisor, process).pipe(
            Effect.as(true),
            // not a child any more (it exited meanwhile): stop it directly if it still runs
            Effect.catch(() => Effect.as(Effect.ignore(Actor.stop(process, ExitReason.shutdown)), true))
          )
        }),
      live: Effect.sync(() => [...host.live.keys()]),
      supervisor
    }
    return shape
  })

/** The supervised LLM agents as a service. */
export class LlmAgents extends Context.Service<LlmAgents, LlmAgentsShape>()("troupe/llmagent/LlmAgents") {
  /**
   * The service, requiring what its definitions require. Fails to build with `InvalidOptions` (naming the field) when
   * `agents` is empty, two definitions share a name, `default` is not a string or names no definition, a definition's
   * loop is rejected, `maxLive` is not an integer from 1 to 10,000,000, `name` is empty, `maxRestarts` is not a
   * non-negative integer or `maxSeconds` is not a finite number above 0 (as `make`).
   *
   * @example
   * ```ts
   * const Agents = LlmAgents.layer({ agents: [Support] }) // Layer<LlmAgents, InvalidOptions, ConversationMemory | Llm>
   * ```
   */
  static readonly layer = <A extends AnyLlmAgent>(
    options: LlmAgentsOptions<A>
  ): Layer.Layer<LlmAgents, InvalidOptions, Requirements<A>> => Layer.effect(LlmAgents, make(options))
  /** `make`: the service in the current scope, without a tag. */
  static readonly make = <A extends AnyLlmAgent>(options: LlmAgentsOptions<A>) => make(options)
  static readonly ensureStarted = (id: string) => ensureStarted(id)
  static readonly ask = (id: string, input: TurnInput) => ask(id, input)
  static readonly askStream = (id: string, input: TurnInput, options?: AskStreamOptions) =>
    askStream(id, input, options)
  static readonly tell = (id: string, input: TurnInput) => tell(id, input)
  static readonly cancel = (id: string) => cancel(id)
  static readonly status = (id: string) => status(id)
  static readonly history = (id: string) => history(id)
  static readonly stop = (id: string) => stop(id)
}

/** `ask` through the service. */
export const ask = (id: string, input: TurnInput) => LlmAgents.use((agents) => agents.ask(id, input))
/** `askStream` through the service. */
export const askStream = (id: string, input: TurnInput, options?: AskStreamOptions) =>
  Stream.unwrap(LlmAgents.use((agents) => Effect.succeed(agents.askStream(id, input, options))))
/** `tell` through the service. */
export const tell = (id: string, input: TurnInput) => LlmAgents.use((agents) => agents.tell(id, input))
/** `cancel` through the service. */
export const cancel = (id: string) => LlmAgents.use((agents) => agents.cancel(id))
/** `status` through the service. */
export const status = (id: string) => LlmAgents.use((agents) => agents.status(id))
/** `history` through the service. */
export const history = (id: string) => LlmAgents.use((agents) => agents.history(id))
/** `stop` through the service. */
export const stop = (id: string) => LlmAgents.use((agents) => agents.stop(id))
/** `ensureStarted` through the service. */
export const ensureStarted = (id: string) => LlmAgents.use((agents) => agents.ensureStarted(id))

export type { AgentBusy }
