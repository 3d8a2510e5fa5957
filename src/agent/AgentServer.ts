/**
 * `AgentServer`: runs agents as supervised actors, one per agent, addressed by agent id.
 *
 * Mirrors `Jido.AgentServer` + `Jido.Agent.Server` start/call/cast/state: every agent is an actor (see
 * `AgentProcess`) started as a child of one `DynamicSupervisor` (restart `transient` by default: a crash restarts
 * it with its state re-initialised from its start arguments, a normal stop does not) and registered under its id
 * in a unique `Registry`. `call(id, signal)` (default 5 s) replies with the agent after `cmd`; `cast` does not
 * wait; `awaitStatus(id, status, timeout)` waits for a status (completion is state, not exit).
 *
 * Every message an entry point takes from outside is decoded first (`AgentMessage`): a bad one fails with
 * `InvalidMessage` naming the entry point and path, and the agent never sees it.
 *
 * With a `Checkpoints` store in the context (src/llmagent/Checkpoints.ts), an agent's state is saved after every
 * `cmd` that changes it (under the store's retention) and a start or restart begins from the latest checkpoint that
 * decodes with the definition's schema (else from the start arguments).
 *
 * A restart that finds its id taken is ignored: when a parent re-spawned a crashed child, or a `start` of the same
 * id overtook the crash notice, the newer incarnation is the agent and the supervisor forgets the old child (a
 * restart retried on `AlreadyStarted` would reach the restart intensity and stop every agent). A `start` of an id
 * already running still fails with `FailedToStartChild`. A restart whose init fails (a checkpoint store unreachable
 * for a moment) is ignored and logged, and the agent's next message starts it again (`internal/Dormant.ts`), so a
 * store blip cannot use up the restart intensity every agent shares.
 *
 * `awaitStatus` callers wait in a bounded table per agent (`maxWaiters`, default 10,000; one more fails with
 * `MailboxFull`), and a caller that times out or is interrupted leaves nothing behind (`internal/Waiters.ts`).
 *
 * The layer requires every directive executor (`DirectiveExecutor.Executors`), so a program that forgets one does
 * not compile. Actions run by agents get their services from the context the layer is built in.
 */
import { Context, Duration, Effect, Layer, Option, Schema, type Scope } from "effect"
import { Checkpoints } from "../llmagent/Checkpoints.ts"
import {
  Actor,
  ChildSpec,
  DynamicSupervisor,
  ExitReason,
  MailboxFull,
  type Process,
  Registry
} from "../runtime/index.ts"
import type {
  ActorExited,
  CallingSelf,
  CallTimeout,
  FailedToStartChild,
  InvalidOptions,
  MaxChildren
} from "../runtime/index.ts"
import * as Agent from "./Agent.ts"
import type { AnyDefinition, Definition } from "./AgentDefinition.ts"
import {
  AgentNotFound,
  decodeOptions,
  DirectiveQueueFull,
  type InvalidAgentOptions,
  InvalidMessage,
  type InvalidRoute,
  type InvalidState,
  StatusTimeout
} from "./AgentError.ts"
import type { OnParentDeath } from "./Directive.ts"
import type { Executors } from "./DirectiveExecutor.ts"
import type { Instruction } from "./Instruction.ts"
import * as AgentMessage from "./internal/AgentMessage.ts"
import {
  type AgentConfig,
  type AgentProtocol,
  behaviour,
  type ErrorPolicy,
  type ParentLink,
  signalsDropped
} from "./internal/AgentProcess.ts"
import { Dormant } from "./internal/Dormant.ts"
import { DEFAULT_MAX_WAITERS, waiterGone } from "./internal/Waiters.ts"
import type { Signal } from "./Signal.ts"

export type { ErrorPolicy } from "./internal/AgentProcess.ts"

/**
 * Options of `AgentServer.start`: the agent id, the encoded initial state, the error policy, the directive queue
 * bound and the bound on `awaitStatus` callers. Decoded with Schema; a bad value fails with `InvalidAgentOptions`.
 */
export interface StartOptions {
  /** default: a UUIDv7 */
  readonly id?: string
  /** encoded initial state; defaults from the schema fill the rest */
  readonly state?: unknown
  /** default `log` */
  readonly errorPolicy?: ErrorPolicy
  /** bounded directive queue; default 10,000 */
  readonly maxQueue?: number
  /** bound on the awaitStatus callers waiting at once; default 10,000 */
  readonly maxWaiters?: number
  /** default `transient` */
  readonly restart?: "permanent" | "transient" | "temporary"
  /** for child agents */
  readonly parent?: ParentLink
  /** default `stop` */
  readonly onParentDeath?: OnParentDeath
}

/** Options of `AgentServer.call`. */
export interface CallOptions {
  /** default 5 seconds */
  readonly timeout?: Duration.Input
}

/**
 * Why `AgentServer.start` fails: bad options (`InvalidAgentOptions`, `InvalidOptions`), an initial state that does
 * not decode (`InvalidState`), bad routes (`InvalidRoute`), the process did not start (`FailedToStartChild`) or the
 * server is full (`MaxChildren`).
 */
export type StartError =
  | InvalidAgentOptions
  | InvalidState
  | InvalidRoute
  | FailedToStartChild
  | MaxChildren
  | InvalidOptions
/**
 * Why `AgentServer.call` fails: no agent with that id (`AgentNotFound`), its directive queue is full
 * (`DirectiveQueueFull`), the signal does not decode (`InvalidMessage`), or the call's own failures (`CallTimeout`,
 * `ActorExited`, `MailboxFull`, `CallingSelf`).
 */
export type CallError =
  | AgentNotFound
  | DirectiveQueueFull
  | InvalidMessage
  | CallTimeout
  | ActorExited
  | MailboxFull
  | CallingSelf

/**
 * The `AgentServer` service: runs pure agents as supervised processes under a DynamicSupervisor (Jido's
 * `AgentServer`), addressed by id.
 */
export interface AgentServerShape {
  /**
   * Starts an agent under the server's supervisor and returns its id. Fails with `InvalidAgentOptions` when the
   * start options are invalid, `InvalidState` when the initial state does not decode, `InvalidRoute` when a route
   * does not compile, `FailedToStartChild` when the process does not start, `MaxChildren` when the server is full,
   * `InvalidOptions` when the supervisor rejects the child spec.
   */
  readonly start: <S, I>(definition: Definition<S, I>, options?: StartOptions) => Effect.Effect<string, StartError>
  /** Sends a signal to an agent and waits for its new state. Fails with `AgentNotFound` when no agent has the id, `DirectiveQueueFull` when its directive queue is
   * full, `InvalidMessage` when the signal does not decode, and the call's own `CallTimeout` (no reply in time),
   * `ActorExited` (the agent exits first), `MailboxFull` (a full bounded mailbox) or `CallingSelf` (called from the
   * agent's own fiber). */
  readonly call: <S = unknown>(
    id: string,
    signal: Signal,
    options?: CallOptions
  ) => Effect.Effect<Agent.Agent<S>, CallError>
  /**
   * runs instructions (actions, decisions) through the agent's `cmd`. Fails with `AgentNotFound` when no agent has the id, `DirectiveQueueFull` when its directive queue is
   * full, `InvalidMessage` when the signal does not decode, and the call's own `CallTimeout` (no reply in time),
   * `ActorExited` (the agent exits first), `MailboxFull` (a full bounded mailbox) or `CallingSelf` (called from the
   * agent's own fiber).
   */
  readonly cmd: <S = unknown>(
    id: string,
    instructions: ReadonlyArray<Instruction>,
    options?: CallOptions
  ) => Effect.Effect<Agent.Agent<S>, CallError>
  /**
   * Sends a signal without waiting. Fails with `AgentNotFound` when no agent has the id, `InvalidMessage` when the
   * signal does not decode, `MailboxFull` when the agent's bounded mailbox is full under the `fail` strategy.
   */
  readonly cast: (id: string, signal: Signal) => Effect.Effect<void, AgentNotFound | InvalidMessage | MailboxFull>
  /** The agent's current state. Fails as `call`: `AgentNotFound` when no agent has the id, `DirectiveQueueFull` when its directive queue is
   * full, `InvalidMessage` when the signal does not decode, and the call's own `CallTimeout` (no reply in time),
   * `ActorExited` (the agent exits first), `MailboxFull` (a full bounded mailbox) or `CallingSelf` (called from the
   * agent's own fiber). */
  readonly state: <S = unknown>(id: string) => Effect.Effect<Agent.Agent<S>, CallError>
  /**
   * Waits until the agent reaches `status`. Fails with `StatusTimeout` when it has not within `timeout`,
   * `MailboxFull` at once when `maxWaiters` callers already wait on the agent, and as `call` while asking it: `AgentNotFound` when no agent has the id, `DirectiveQueueFull` when its directive queue is
   * full, `InvalidMessage` when the signal does not decode, and the call's own `CallTimeout` (no reply in time),
   * `ActorExited` (the agent exits first), `MailboxFull` (a full bounded mailbox) or `CallingSelf` (called from the
   * agent's own fiber).
   */
  readonly awaitStatus: <S = unknown>(
    id: string,
    status: Agent.Status,
    timeout?: Duration.Input
  ) => Effect.Effect<Agent.Agent<S>, StatusTimeout | CallError>
  /** Stops an agent. Fails with `AgentNotFound` when no agent has the id, `InvalidMessage` when `id` or `reason` is malformed. */
  readonly stop: (id: string, reason?: ExitReason.ExitReason) => Effect.Effect<void, AgentNotFound | InvalidMessage>
  readonly whereis: (id: string) => Process.Process | undefined
  readonly supervisor: DynamicSupervisor.DynamicSupervisorRef
}

const ErrorPolicySchema = Schema.Union([
  Schema.Literals(["log", "stop"]),
  Schema.Struct({ emit: Schema.Literals(["bus", "parent"]) }),
  Schema.Struct({ stopAfter: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1))) })
])

const StartOptionsSchema = Schema.Struct({
  id: Schema.optional(Schema.NonEmptyString),
  state: Schema.optional(Schema.Unknown),
  errorPolicy: Schema.optional(ErrorPolicySchema),
  maxQueue: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))),
  maxWaiters: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))),
  restart: Schema.optional(Schema.Literals(["permanent", "transient", "temporary"])),
  parent: Schema.optional(Schema.Unknown),
  onParentDeath: Schema.optional(Schema.Literals(["stop", "continue", "emitOrphan"]))
})

type AgentRef = Actor.ActorRef<AgentProtocol>

const DEFAULT_CALL = { timeout: Duration.seconds(5) } as const
const STATE_REQUEST = { _tag: "State" } as const
/** The process answers a full queue or waiter table, or a malformed request, with the error as its reply value. */
const isErrorReply = (reply: AgentProtocol["reply"]): reply is DirectiveQueueFull | InvalidMessage | MailboxFull =>
  reply instanceof DirectiveQueueFull || reply instanceof InvalidMessage || reply instanceof MailboxFull

const toAgent = <S>(
  reply: AgentProtocol["reply"]
): Effect.Effect<Agent.Agent<S>, DirectiveQueueFull | InvalidMessage | MailboxFull> =>
  // not an error reply, so the agent itself (the reply of a call that returns the agent)
  isErrorReply(reply) ? Effect.fail(reply) : Effect.succeed(reply as Agent.Agent<S>)

/**
 * Builds an agent server: a dynamic supervisor and a registry, owned by the current scope. Fails with
 * `InvalidOptions` when the supervisor options (`maxRestarts`, `maxSeconds`) do not validate.
 *
 * @example
 * ```ts
 * const server = yield* AgentServer.make({ name: "agents" })
 * const id = yield* server.start(Counter, { id: "c1" })
 * const agent = yield* server.call(id, yield* Signal.make({ type: "counter.increment", data: { by: 2 } }))
 * ```
 */
export const make = (
  options: { readonly name?: string; readonly maxRestarts?: number; readonly maxSeconds?: number } = {}
): Effect.Effect<AgentServerShape, InvalidOptions, Scope.Scope | Executors> =>
  Effect.gen(function*() {
    const name = options.name ?? "agents"
    const context = yield* Effect.context<Executors>()
    const registry = yield* Registry.make<string, unknown>({ keys: "unique", name })
    const supervisor = yield* DynamicSupervisor.start({
      name,
      maxRestarts: options.maxRestarts ?? 3,
      maxSeconds: options.maxSeconds ?? 5
    })
    const whereis = (id: string): Process.Process | undefined => registry.whereisUnsafe(id)
    const checkpoints = Option.getOrUndefined(yield* Effect.serviceOption(Checkpoints))
    const dormant = new Dormant()

    const start = <S, I>(
      definition: Definition<S, I>,
      startOptions: StartOptions = {}
    ): Effect.Effect<string, StartError> =>
      Effect.gen(function*() {
        const checked = decodeOptions(StartOptionsSchema, startOptions, "agent start options")
        if (checked instanceof Error) return yield* checked
        // validates the initial state and routes up front, with typed errors
        const probe = yield* Agent.make(
          definition,
          startOptions.id !== undefined
            ? { id: startOptions.id, state: startOptions.state }
            : { state: startOptions.state }
        )
        const id = probe.id
        const config: AgentConfig = {
          id,
          // the server runs agents of any state type; the state schema keeps S consistent at run time
          definition: definition as AnyDefinition,
          initialState: startOptions.state ?? {},
          errorPolicy: startOptions.errorPolicy ?? "log",
          maxQueue: startOptions.maxQueue ?? 10_000,
          maxWaiters: startOptions.maxWaiters ?? DEFAULT_MAX_WAITERS,
          parent: startOptions.parent,
          onParentDeath: startOptions.onParentDeath ?? "stop",
          server: hooks,
          checkpoints
        }
        yield* DynamicSupervisor.startChild(supervisor, {
          id,
          restart: startOptions.restart ?? "transient",
          // a restart finding the id taken by a newer incarnation is ignored: the supervisor forgets the old child;
          // so is one whose init fails: the agent's next message starts it again (Dormant)
          start: ChildSpec.restartsYieldToTakenName(
            Actor.start(behaviour, config, { name: Registry.via(registry, id) }).pipe(Effect.provideContext(context)),
            dormant.onRestart(id, start(definition, { ...startOptions, id }))
          )
        }).pipe(
          Effect.catchTag(["CallTimeout", "ActorExited", "MailboxFull", "CallingSelf", "NoProc"], (e) => Effect.die(e))
        )
        dormant.forget(id)
        return id
      })

    const hooks: AgentConfig["server"] = {
      supervisor,
      whereis,
      startAgent: (definition, o) =>
        Effect.flatMap(start(definition, o), (id) => {
          const process = whereis(id)
          return process === undefined ? Effect.fail(new AgentNotFound({ id })) : Effect.succeed(process)
        })
    }

    // The hot path: when the agent answers synchronously, `Actor.callUnsafe` returns an Exit and the reply is
    // mapped here without any combinator; otherwise one `matchEffect` maps NoProc and a DirectiveQueueFull reply.
    const callRaw = <S>(
      id: string,
      request: AgentProtocol["call"],
      callOptions: CallOptions | undefined,
      entry: string
    ) =>
      Effect.suspend((): Effect.Effect<Agent.Agent<S>, CallError> => {
        const bad = AgentMessage.id(entry, id) ?? AgentMessage.callOptions(entry, callOptions)
        if (bad !== undefined) return Effect.fail(bad)
        const process = registry.whereisUnsafe(id)
        if (process === undefined) {
          // an agent whose restart failed is started again by its next message
          return Effect.flatMap(dormant.process(id, whereis), () => callRaw<S>(id, request, callOptions, entry))
        }
        // every process in this registry was started by this server as an agent actor
        const reply = Actor.callUnsafe(process as AgentRef, request, callOptions ?? DEFAULT_CALL)
        if (Actor.isSyncReply(reply) && reply._tag === "Success") {
          // the synchronous answer is already an Exit: hand it back as is unless it reports a full queue
          return isErrorReply(reply.value)
            ? Effect.fail(reply.value)
            // not an error reply (checked above), so an Exit carrying the agent
            : reply as unknown as Effect.Effect<Agent.Agent<S>, CallError>
        }
        return Effect.matchEffect(reply, {
          onFailure: (error) => Effect.fail(error._tag === "NoProc" ? new AgentNotFound({ id }) : error),
          onSuccess: toAgent<S>
        })
      })

    const shape: AgentServerShape = {
      start,
      call: (id, signal, callOptions) =>
        Effect.suspend(() => {
          const bad = AgentMessage.signal("call", signal)
          return bad === undefined ? callRaw(id, signal, callOptions, "call") : Effect.fail(bad)
        }),
      cmd: (id, instructions, callOptions) =>
        Effect.suspend(() => {
          const bad = AgentMessage.instructions("cmd", instructions)
          return bad === undefined ? callRaw(id, { _tag: "Cmd", instructions }, callOptions, "cmd") : Effect.fail(bad)
        }),
      cast: (id, signal) =>
        Effect.suspend((): Effect.Effect<void, AgentNotFound | InvalidMessage | MailboxFull> => {
          const bad = AgentMessage.id("cast", id) ?? AgentMessage.signal("cast", signal)
          if (bad !== undefined) return Effect.fail(bad)
          const process = registry.whereisUnsafe(id)
          // every process in this registry was started by this server as an agent actor
          if (process !== undefined) return Actor.cast(process as AgentRef, signal)
          // an agent whose restart failed is started again by its next message (as in callRaw)
          return Effect.flatMap(dormant.process(id, whereis), (revived) => Actor.cast(revived as AgentRef, signal))
        }),
      state: (id) => callRaw(id, STATE_REQUEST, undefined, "state"),
      awaitStatus: <S>(id: string, status: Agent.Status, timeout: Duration.Input = Duration.seconds(5)) =>
        Effect.suspend(() => {
          const bad = AgentMessage.status("awaitStatus", status) ?? AgentMessage.timeout("awaitStatus", timeout)
          if (bad !== undefined) return Effect.fail(bad)
          return callRaw<S>(id, { _tag: "AwaitStatus", status }, { timeout }, "awaitStatus").pipe(
            // a caller that stops waiting (timeout, interruption) tells the agent to forget its waiter
            Effect.onError(() => waiterGone(whereis(id))),
            Effect.catchTag("CallTimeout", () =>
              Effect.fail(
                new StatusTimeout({ id, status, timeoutMillis: Duration.toMillis(Duration.fromInputUnsafe(timeout)) })
              ))
          )
        }),
      stop: (id, reason = ExitReason.normal) =>
        Effect.suspend((): Effect.Effect<void, AgentNotFound | InvalidMessage> => {
          const bad = AgentMessage.id("stop", id) ?? AgentMessage.reason("stop", reason)
          if (bad !== undefined) return Effect.fail(bad)
          const process = registry.whereisUnsafe(id)
          // a stop forgets an agent waiting to be started again
          if (process === undefined) return dormant.forget(id) ? Effect.void : Effect.fail(new AgentNotFound({ id }))
          return Effect.catch(Actor.stop(process, reason), () => Effect.void)
        }),
      whereis,
      supervisor
    }
    return shape
  })

/** The agent server as a service. */
export class AgentServer extends Context.Service<AgentServer, AgentServerShape>()("troupe/agent/AgentServer") {
  /**
   * The service; requires every directive executor (e.g. `DirectiveExecutor.layer` + `Bus.layer()`). Fails to
   * build with `InvalidOptions` when the supervisor options do not validate.
   *
   * @example
   * ```ts
   * const Live = AgentServer.layer().pipe(Layer.provide(DirectiveExecutor.layer), Layer.provide(Bus.layer()))
   * ```
   */
  static readonly layer = (
    options: { readonly name?: string; readonly maxRestarts?: number; readonly maxSeconds?: number } = {}
  ): Layer.Layer<AgentServer, InvalidOptions, Executors> => Layer.effect(AgentServer, make(options))

  /** `make`: the server as a scoped value, without the service. */
  static readonly make = make
  /** The counter of signals agents refused because their directive queue was full (`troupe_agent_signals_dropped_total`). */
  static readonly signalsDropped = signalsDropped
}
