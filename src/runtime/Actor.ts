/**
 * Actors: start, call, cast, send, stop, reply — the gen_server API.
 *
 * Mirrors `gen_server`:
 * - `start` is synchronous: the ref is returned after `init` returns. `ignore` → fails with `StartIgnored` (no
 *   `terminate`); `stop(reason)` or a crash in `init` → fails with `InitFailed { reason }`. A name registration
 *   (`Registry.via`) happens before `init`; a taken name fails with `AlreadyStarted`. An interrupted start kills
 *   the actor whose init is running (as `gen_server:start` with a timeout does): it never runs on unowned; one
 *   interrupted before the launch exits the process, so a name registered for it is freed.
 * - `call(ref, request, { timeout })`, default 5 s: `CallTimeout` on timeout, and by default the server keeps
 *   working and its late reply is dropped (OTP 24+); `onTimeout: "interrupt"` interrupts the handler instead
 *   (beyond OTP). A dead target fails with `NoProc`, a target that dies before replying with `ActorExited`
 *   carrying its exit reason, a call to yourself with `CallingSelf`, malformed options with `InvalidOptions`.
 *   The timeout bounds the whole call, including any wait for room in a bounded mailbox.
 * - `cast` and `send` never fail because of the target: a dead actor swallows them. The mailbox is unbounded by
 *   default (as Erlang's), so they never block either. With a bound (`mailbox: { capacity, overflow }`) the
 *   overflow strategy decides what happens when it is full: `backpressure` waits for room (every blocked sender
 *   eventually delivers, in FIFO order, and later messages never overtake already-blocked senders), `dropping` drops the new
 *   message, `sliding` evicts the oldest, `fail` drops it and fails the sender with `MailboxFull` (for a call under
 *   `dropping`/`fail`, and a call evicted by `sliding`, the caller gets `MailboxFull` at once). Under
 *   `backpressure`, an actor sending to its own full mailbox fails at once with `MailboxFull { selfSend: true }`
 *   instead of deadlocking (longer cycles, A waiting on B waiting on A, are not detected).
 * - System messages (stop signals, monitor `Down`s, exit notices, timers of the runtime) bypass the bound
 *   (`sendSystemUnsafe`): never dropped, never waiting.
 * - `trapExit` (default false, as Elixir's GenServer): see `ActorProcess` for which exits run `terminate`.
 * - `stop(ref, reason, timeout)` is synchronous and runs `terminate` (`gen_server:stop`, trapping or not); when the
 *   actor exits with another reason (its `terminate` crashed), `stop` fails with `StopFailed { reason }`, as
 *   `gen_server:stop` exits with that reason.
 * - `kill(ref)` is `exit(Pid, kill)`: the actor exits `killed` at once, `terminate` does not run. A kill does not
 *   wait for finalizers: a handler stuck in one (an `Effect.ensuring` that hangs) is detached, not awaited.
 *
 * The actor's fiber is detached from the starter (it outlives the effect that started it, like a process that is
 * not linked); supervisors own lifetimes. `startScoped` ties one to a `Scope` instead.
 */
import type { Context, Duration, Scope } from "effect"
import { Effect, Exit } from "effect"
import type * as Behaviour from "./Behaviour.ts"
import * as ExitReason from "./ExitReason.ts"
import {
  actorOfFiber,
  ActorProcess,
  actorSettings,
  DEAD,
  defaultSettings,
  DELIVERED,
  FULL
} from "./internal/ActorProcess.ts"
import { awaitReply, untimed, waitForRoom, withTimeout } from "./internal/CallWait.ts"
import { type CallError, type Envelope, ENVELOPE_CAST, ENVELOPE_INFO, From } from "./internal/From.ts"
import * as Options from "./internal/Options.ts"
import { awaitExit, isProcess, type Process } from "./Process.ts"
import {
  type AlreadyStarted,
  CallingSelf,
  type CallTimeout,
  type InitFailed,
  type InvalidOptions,
  MailboxFull,
  NoProc,
  type StartIgnored,
  StopFailed
} from "./RuntimeError.ts"

import type { Overflow } from "./internal/ActorProcess.ts"
export type { Overflow } from "./internal/ActorProcess.ts"
export type { CallError } from "./internal/From.ts"
export { From } from "./internal/From.ts"

/** The brand that marks an `ActorRef` (and carries its protocol type). */
export const ActorRefTypeId: unique symbol = Symbol.for("troupe/ActorRef")
export type ActorRefTypeId = typeof ActorRefTypeId

/** A running actor that speaks protocol `P`. It is a `Process`, so it can be supervised and monitored. */
export interface ActorRef<P extends Behaviour.Protocol = Behaviour.Protocol> extends Process {
  readonly [ActorRefTypeId]: { readonly _P: (_: P) => P }
  /** messages waiting in the mailbox */
  readonly mailboxSize: number
  /** messages dropped or evicted by the overflow strategy */
  readonly dropped: number
}

/** A name that resolves to an actor when used (see `Registry.via`), and can register one at start. */
export interface NameRegistration<P extends Behaviour.Protocol = Behaviour.Protocol> {
  readonly _tag: "NameRegistration"
  /** the protocol spoken by the process behind the name (type only) */
  readonly _P?: P
  /** for messages */
  readonly display: string
  /** registers `process` under the name; fails with `AlreadyStarted` when the name is taken */
  readonly register: (process: Process) => Effect.Effect<void, AlreadyStarted>
  /** the process registered under the name, if any */
  readonly resolve: () => Process | undefined
}

/**
 * The mailbox of an actor: unbounded by default, as an Erlang mailbox; with a `capacity`, what a send to a full
 * mailbox does. System messages never count against the capacity.
 */
export interface MailboxOptions {
  /** default: unbounded (as an Erlang mailbox) */
  readonly capacity?: number
  /** what a send to a full mailbox does (only with a `capacity`); default `backpressure` */
  readonly overflow?: Overflow
}

/**
 * Options of `Actor.start` / `startLink`, decoded with Schema: a bad value fails the start with `InvalidOptions`
 * naming its path.
 */
export interface StartOptions {
  /** a display name, or a registration (`Registry.via(registry, key)`) */
  readonly name?: string | NameRegistration
  readonly mailbox?: MailboxOptions
  /** what a supervisor sees it as; default `worker` */
  readonly kind?: "worker" | "supervisor"
  /**
   * `process_flag(trap_exit, true)`: receive exit signals (a supervisor's shutdown) as stop messages and run
   * `terminate`. Default: the behaviour's `trapExit`, else false (Elixir's GenServer default).
   */
  readonly trapExit?: boolean
}

/** Options of `Actor.call` (decoded: a bad one fails with `InvalidOptions`); the timeout covers the whole call. */
export interface CallOptions {
  /** default 5 seconds; `"infinity"` waits forever */
  readonly timeout?: Duration.Input | "infinity"
  /** what happens to the handler when the caller gives up: `continue` (default, OTP) or `interrupt` */
  readonly onTimeout?: "continue" | "interrupt"
}

/**
 * Why `Actor.start` can fail: `init` failed or returned a stop (`InitFailed`), returned `ignore` (`StartIgnored`),
 * the name is taken (`AlreadyStarted`), or the options are invalid (`InvalidOptions`).
 */
export type StartError = InitFailed | StartIgnored | AlreadyStarted | InvalidOptions

/**
 * Starts an actor and returns its ref once `init` has returned. Fails with a `StartError`: `InitFailed` when `init`
 * fails or returns a stop, `StartIgnored` when it returns `ignore`, `AlreadyStarted` when the name is taken,
 * `InvalidOptions` when the options do not validate.
 *
 * @example
 * ```ts
 * const ref = yield* Actor.start(Counter, 0)
 * yield* Actor.cast(ref, { add: 2 })
 * const n = yield* Actor.call(ref, "get") // 2
 * ```
 */
export const start = <S, P extends Behaviour.Protocol, Args, E = never, R = never>(
  behaviour: Behaviour.Behaviour<S, P, Args, E, R>,
  args: Args,
  options?: StartOptions
): Effect.Effect<ActorRef<P>, StartError, R> =>
  Effect.suspend((): Effect.Effect<ActorRef<P>, StartError, R> => {
    const checked = options === undefined ? undefined : Options.decodeStartOptions(options)
    if (checked !== undefined && checked._tag === "Failure") return Effect.fail(checked.failure)
    const registration = typeof options?.name === "object" ? options.name : undefined
    // not a registration, so the name is the optional string form (TS does not narrow through `registration`)
    const displayName = registration !== undefined ? registration.display : options?.name as string | undefined
    const trapExit = options?.trapExit ?? behaviour.trapExit ?? false
    const mailbox = options?.mailbox
    const settings = mailbox === undefined && !trapExit
      ? defaultSettings
      : actorSettings(mailbox?.capacity ?? Number.POSITIVE_INFINITY, mailbox?.overflow ?? "backpressure", trapExit)
    // the process is protocol-erased; `start`'s signature ties the behaviour to P
    const process = new ActorProcess(behaviour as never, displayName, options?.kind ?? "worker", settings)
    const launch = Effect.withFiber<ActorRef<P>, InitFailed | StartIgnored, R>((parent) => {
      // the caller's context holds R (the effect's type requires it); the process only reads services from it
      const started = process.launch(parent.context as Context.Context<never>, args)
      if (started !== undefined) {
        // an ActorProcess is the runtime form of every ActorRef (the ref type is phantom-typed by P)
        return Exit.isSuccess(started)
          ? Effect.succeed(process as unknown as ActorRef<P>)
          : Effect.failCause(started.cause)
      }
      return Effect.callback<ActorRef<P>, InitFailed | StartIgnored, R>((resume) => {
        process.onStarted((exit) =>
          // as above: the process is the ref, typed by the protocol it was started with
          resume(
            Exit.isSuccess(exit) ? Effect.succeed(process as unknown as ActorRef<P>) : Effect.failCause(exit.cause)
          )
        )
        // an interrupted start kills the actor whose init is running (gen_server:start's timeout kills it too)
        return Effect.sync(() => process.kill())
      })
    })
    if (registration === undefined) return launch
    // interrupted once the name is registered but before the launch: the unlaunched process exits, freeing the name
    return Effect.onInterrupt(Effect.flatMap(registration.register(process), () => launch), () =>
      Effect.sync(() => process.abandonStart()))
  })

/**
 * `start`, with the actor stopped as by `stop(ref, shutdown)` (`terminate` runs, trapping or not) when the scope
 * closes. Fails as `start`: `InitFailed`, `StartIgnored`, `AlreadyStarted`, `InvalidOptions`.
 */
export const startScoped = <S, P extends Behaviour.Protocol, Args, E = never, R = never>(
  behaviour: Behaviour.Behaviour<S, P, Args, E, R>,
  args: Args,
  options?: StartOptions
): Effect.Effect<ActorRef<P>, StartError, R | Scope.Scope> =>
  Effect.acquireRelease(start(behaviour, args, options), (ref) =>
    Effect.suspend(() => {
      if (ref.exitReason !== undefined) return Effect.void
      ;(ref as unknown as ActorProcess).requestStop(ExitReason.shutdown) // start returns ActorProcess refs
      return Effect.asVoid(awaitExit(ref))
    }))

type Target<P extends Behaviour.Protocol> = ActorRef<P> | NameRegistration<P>

const resolve = <P extends Behaviour.Protocol>(target: Target<P> | Process): ActorProcess | undefined => {
  // a target is a ref (an ActorProcess) or a registration; only the latter has _tag "NameRegistration"
  if ((target as unknown as NameRegistration)._tag === "NameRegistration") {
    // the tag was checked just above
    const found = (target as unknown as NameRegistration).resolve()
    return found instanceof ActorProcess ? found : undefined
  }
  // not a registration, so it is a ref, and every ref is an ActorProcess
  return target as unknown as ActorProcess
}

const targetName = <P extends Behaviour.Protocol>(target: Target<P>): string =>
  // a target is a ref or a registration; only the latter has _tag "NameRegistration"
  (target as unknown as NameRegistration)._tag === "NameRegistration"
    // the tag was checked just above
    ? (target as unknown as NameRegistration).display
    // not a registration, so a ref, i.e. an ActorProcess
    : (target as unknown as ActorProcess).name

/**
 * Sends a request and waits for the reply.
 *
 * Fast path: when the actor is idle and answers synchronously, the reply is there when `deliver` returns, and
 * no fiber suspends.
 *
 * Fails with `CallError`: `NoProc` when the target is not alive (or the name is unregistered), `CallTimeout` when no reply
 * comes within the timeout, `ActorExited` when the actor exits before replying, `MailboxFull` when its bounded mailbox
 * is full under the `fail` overflow strategy; `CallingSelf` when called from the actor's own fiber (it would deadlock);
 * `InvalidOptions` when the options do not decode (a timeout that is not a duration).
 */
export const call = <P extends Behaviour.Protocol>(
  target: Target<P>,
  request: Behaviour.CallOf<P>,
  options?: CallOptions
): Effect.Effect<Behaviour.ReplyOf<P>, CallError | CallingSelf | InvalidOptions> =>
  Effect.suspend((): Effect.Effect<Behaviour.ReplyOf<P>, CallError | CallingSelf | InvalidOptions> => {
    const invalid = options === undefined ? undefined : Options.checkCallOptions(options)
    return invalid === undefined ? callUnsafe(target, request, options) : Effect.fail(invalid)
  })

/**
 * `call`'s synchronous half: delivers the request now and returns the reply as an effect — an `Exit` when the
 * actor answered synchronously (check with `Exit.isExit`), else an effect that waits for it. For wrappers on hot
 * paths (e.g. an agent server mapping replies) that want to inspect a synchronous answer without combinators.
 * Must be called from inside an effect (it reads the current fiber for `CallingSelf`). Fails as `call`: a
 * `CallError` (`NoProc`, `CallTimeout`, `ActorExited`, `MailboxFull`) or `CallingSelf`; its options are trusted
 * (not decoded: check untrusted ones first, as `call` does), so a malformed timeout is a defect.
 */
export const callUnsafe = <P extends Behaviour.Protocol>(
  target: Target<P>,
  request: Behaviour.CallOf<P>,
  options?: CallOptions
): Effect.Effect<Behaviour.ReplyOf<P>, CallError | CallingSelf> => {
  const process = resolve(target)
  if (process === undefined || process.exitReason !== undefined) {
    return Effect.fail(new NoProc({ target: targetName(target) }))
  }
  if (process.isCurrent) return Effect.fail(new CallingSelf({ target: process.name }))
  const from = new From<Behaviour.ReplyOf<P>>(request, options?.onTimeout === "interrupt")
  // the mailbox holds protocol-erased envelopes; the reply type is restored by `call`'s signature
  const outcome = process.deliver(from as From<unknown>)
  if (outcome === DELIVERED) {
    if (from.exit !== undefined) return from.exit
    return awaitReply(process, from, options)
  }
  if (outcome === DEAD) return Effect.fail(new NoProc({ target: process.name }))
  // FULL
  if (process.overflow === "backpressure") {
    // the caller's timeout covers the wait for room and the wait for the reply together; the mailbox puts the
    // request in on the caller's behalf when room opens (oldest blocked sender first)
    const waited = Effect.flatMap(
      waitForRoom(process, from as From<unknown>), // protocol-erased envelope, as above
      (delivered): Effect.Effect<Behaviour.ReplyOf<P>, CallError> =>
        delivered === DEAD ? Effect.fail(new NoProc({ target: process.name })) : awaitReply(process, from, untimed)
    )
    return withTimeout(process, options, Effect.onInterrupt(waited, () => Effect.sync(() => from.abandon())))
  }
  if (process.overflow === "sliding") {
    // evicts the oldest user message; still FULL when an evicted caller took the slot again (protocol-erased)
    const slid = process.deliverSliding(from as From<unknown>)
    if (slid === DELIVERED) return from.exit ?? awaitReply(process, from, options)
    if (slid === DEAD) return Effect.fail(new NoProc({ target: process.name }))
  }
  process.countDropped()
  return Effect.fail(new MailboxFull({ target: process.name, capacity: process.capacity }))
}

/**
 * Is a `callUnsafe` answer already complete? True exactly when it is an `Exit` (the actor answered
 * synchronously, or the call failed at once). `callUnsafe` returns either an `Exit` or an effect that waits,
 * and only `Exit`s carry a `Success`/`Failure` tag, so this reads one field instead of `Exit.isExit`'s
 * prototype lookup.
 */
export const isSyncReply = <A, E>(reply: Effect.Effect<A, E>): reply is Exit.Exit<A, E> => {
  // reading an optional tag of any effect value: undefined when it has none
  const tag = (reply as { readonly _tag?: unknown })._tag
  return tag === "Success" || tag === "Failure"
}

const deliverOneWay = (
  target: Target<Behaviour.Protocol> | Process,
  envelope: Envelope
): Effect.Effect<void, MailboxFull> =>
  Effect.suspend(() => {
    const process = resolve(target)
    if (process === undefined) return Effect.void
    const outcome = process.deliver(envelope)
    if (outcome !== DELIVERED && outcome !== DEAD) {
      switch (process.overflow) {
        case "backpressure":
          // waiting for room in one's own mailbox would never end: fail at once instead
          if (process.isCurrent) {
            process.countDropped()
            return Effect.fail(new MailboxFull({ target: process.name, capacity: process.capacity, selfSend: true }))
          }
          // delivered when room opens, oldest blocked sender first; a dead actor swallows it
          return Effect.asVoid(waitForRoom(process, envelope))
        case "sliding":
          // evicts the oldest user message; dropped when the slot was taken again meanwhile
          if (process.deliverSliding(envelope) === FULL) process.countDropped()
          return Effect.void
        case "dropping":
          process.countDropped()
          return Effect.void
        case "fail":
          process.countDropped()
          return Effect.fail(new MailboxFull({ target: process.name, capacity: process.capacity }))
      }
    }
    return Effect.void
  })

/**
 * Sends a one-way message to `handleCast`. Never fails because of the target (a dead actor swallows it); under
 * the `fail` overflow strategy a full mailbox fails it with `MailboxFull`.
 */
export const cast = <P extends Behaviour.Protocol>(
  target: Target<P>,
  message: Behaviour.CastOf<P>
): Effect.Effect<void, MailboxFull> =>
  // deliverOneWay resolves both a ref and a registration itself
  deliverOneWay(target as Process, { kind: ENVELOPE_CAST, message })

/**
 * Sends a plain message to `handleInfo` (Erlang's `!`). Same delivery rules as `cast`: fails with `MailboxFull` only
 * when the bounded mailbox is full under the `fail` overflow strategy.
 */
export const send = <P extends Behaviour.Protocol>(
  target: Target<P>,
  message: Behaviour.InfoOf<P>
): Effect.Effect<void, MailboxFull> =>
  // deliverOneWay resolves both a ref and a registration itself
  deliverOneWay(target as Process, { kind: ENVELOPE_INFO, message })

/**
 * Synchronous `send` for callbacks outside Effect; returns false when not delivered (dead, or a full bounded
 * mailbox: it never waits).
 */
export const sendUnsafe = (target: Process, message: unknown): boolean =>
  target instanceof ActorProcess && target.deliver({ kind: ENVELOPE_INFO, message }) === DELIVERED

/**
 * Delivers a system message to `handleInfo`: never dropped and never waiting for room (it bypasses a mailbox
 * bound), like an Erlang signal. For the runtime's own notices (monitor `Down`s, exit notices, timers, a process's
 * messages to itself). Returns false only when the target is not a live actor.
 */
export const sendSystemUnsafe = (target: Process, message: unknown): boolean =>
  target instanceof ActorProcess && target.deliverSystemInfo(message) === DELIVERED

/** Replies to a call answered `noreply`, from any fiber. A reply after the caller gave up is dropped. */
export const reply = <R>(from: From<R>, value: R): Effect.Effect<void> =>
  Effect.sync(() => {
    replyUnsafe(from, value)
  })

/** Synchronous `reply`. Returns false when the call was already answered or abandoned. */
export const replyUnsafe = <R>(from: From<R>, value: R): boolean => from.reply(value)

/**
 * Stops the actor with `reason` (default `normal`), waits for `terminate` to finish and returns (`gen_server:stop`:
 * the stop is a system message, so `terminate` runs whether or not the actor traps exits).
 * Fails with `NoProc` if it is not alive; with `StopFailed { reason }` when it exited with another reason than
 * `reason` (its `terminate` crashed, or it was killed meanwhile); with `CallTimeout` if it has not exited within
 * `timeout` (default: wait forever), in which case it keeps running, as with `proc_lib:stop`; and with
 * `InvalidOptions` when `reason` is not an exit reason or `timeout` not a duration.
 */
export const stop = (
  target: Process | NameRegistration,
  reason: ExitReason.ExitReason = ExitReason.normal,
  timeout: Duration.Input | "infinity" = "infinity"
): Effect.Effect<void, NoProc | CallTimeout | StopFailed | InvalidOptions> =>
  Effect.suspend((): Effect.Effect<void, NoProc | CallTimeout | StopFailed | InvalidOptions> => {
    if (!ExitReason.isExitReason(reason)) {
      return Effect.fail(Options.invalid("stop", "reason", "not an exit reason (ExitReason.normal, shutdown, …)"))
    }
    const badTimeout = Options.checkStopTimeout(timeout)
    if (badTimeout !== undefined) return Effect.fail(badTimeout)
    const registration = typeof target === "object" && target !== null &&
        // reading the tag that tells a registration from a ref
        (target as unknown as NameRegistration)._tag === "NameRegistration"
      // the tag was checked just above
      ? target as NameRegistration
      : undefined
    const process = registration !== undefined ? registration.resolve() : isProcess(target) ? target : undefined
    if (process === undefined || process.exitReason !== undefined) {
      return Effect.fail(
        new NoProc({ target: registration?.display ?? (isProcess(target) ? target.name : String(target)) })
      )
    }
    if (process instanceof ActorProcess) process.requestStop(reason)
    else process.signalStop(reason)
    const waited = Effect.flatMap(awaitExit(process), (exited) =>
      ExitReason.equals(exited, reason)
        ? Effect.void
        : Effect.fail(new StopFailed({ target: process.name, requested: reason, reason: exited })))
    return withTimeout(process, { timeout }, waited)
  })

/**
 * `exit(Pid, kill)`: the process exits `killed` at once; `terminate` does not run, and finalizers still running
 * are detached, not awaited.
 */
export const kill = (target: Process): Effect.Effect<void> => Effect.sync(() => target.kill())

/** The actor running the current fiber (inside its callbacks), if any. */
export const self: Effect.Effect<Process | undefined> = Effect.withFiber((fiber) => Effect.succeed(actorOfFiber(fiber)))

/** `self`, typed with the protocol the caller knows it speaks. */
export const selfAs = <P extends Behaviour.Protocol>(): Effect.Effect<ActorRef<P> | undefined> =>
  // the caller asserts the protocol its own actor speaks (that is what selfAs is for)
  self as Effect.Effect<ActorRef<P> | undefined>

/** Is the value an actor ref? */
export const isActorRef = (u: unknown): u is ActorRef => u instanceof ActorProcess

/** Whether the actor is alive. */
export const isAlive = (ref: Process): boolean => ref.exitReason === undefined
