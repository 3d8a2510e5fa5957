/**
 * The running actor: state, the behaviour's callbacks, start and exit — gen_server's process.
 *
 * Mirrors gen_server's receive loop. The mailbox (unbounded by default, direct hand-off to the parked fiber,
 * optional bound with overflow strategies) is the base class `MailboxProcess` (`Mailbox.ts`); the loop's shared
 * Effect values are in `ActorLoop.ts`; a handler of an `onTimeout: "interrupt"` call runs by `InterruptibleCall.ts`.
 *
 * Exit signals follow `process_flag(trap_exit, ...)`, chosen per actor with `trapExit` (default false, as an
 * Elixir GenServer): an exit signal (`signalStop`, what a supervisor's shutdown sends) ends a non-trapping actor at
 * once with that reason, without `terminate` (a `normal` signal is ignored); a trapping actor receives it in
 * mailbox order and runs `terminate(reason)`. `terminate` therefore runs when a callback returns `stop`, when a
 * callback crashes, on `Actor.stop` (`gen_server:stop`, a system message, trapping or not), and on an exit signal
 * to a trapping actor — never on `kill`.
 *
 * A `{stop, reason, reply}` result sends its reply after `terminate`, even when `terminate` crashes (gen_server's
 * `try terminate(...) after reply(From, Reply) end`); if the actor is killed before replying, the caller fails
 * with `ActorExited`, never hangs.
 *
 * What is hand-rolled here, and why:
 * - **Bursts.** Handlers that return plain results are applied in a loop; after `MAX_BURST` messages the fiber
 *   yields so that one busy actor cannot starve the others.
 * - **Shared loop effects.** The loop's Effect values are module constants that find their actor through the
 *   running fiber, so an actor costs one object plus its fiber; rarely used state (blocked senders, `noreply`
 *   calls, idle timers) lives in a lazily created `ActorExtras`.
 * - **Exit.** The fiber's exit becomes the actor's exit reason (interruption = `killed`); pending callers (the
 *   one being served, queued calls, and calls answered `noreply`) fail with `ActorExited { reason }`.
 * - **Kill.** A kill does not wait for finalizers: when the interrupted fiber is still running (a finalizer that
 *   hangs, an uninterruptible region), the actor exits `killed` at once anyway and the fiber is detached
 *   (`Kill.ts`), so `Actor.kill`, a `brutalKill` and a shutdown timeout never hang on it.
 */
import { Cause, type Context, Duration, Effect, Exit } from "effect"
import type * as Behaviour from "../Behaviour.ts"
import * as ExitReason from "../ExitReason.ts"
import type { ProcessKind } from "../Process.ts"
import { ActorExited, InitFailed, StartIgnored } from "../RuntimeError.ts"
import {
  continueLoop,
  launchWith,
  loopFrom,
  mainEffect,
  mainLoop,
  park,
  parkWithOptions,
  type Step,
  step,
  type StopRequest,
  yieldThenStep
} from "./ActorLoop.ts"
import {
  type Envelope,
  ENVELOPE_CALL,
  ENVELOPE_CAST,
  ENVELOPE_INFO,
  ENVELOPE_STOP,
  ENVELOPE_SYSTEM,
  type From
} from "./From.ts"
import { interruptibleBy } from "./InterruptibleCall.ts"
import { interruptDetached } from "./Kill.ts"
import { type ActorSettings, MailboxProcess, wakeAll } from "./Mailbox.ts"

export { actorOfFiber } from "./ActorLoop.ts"
export {
  type ActorSettings,
  actorSettings,
  DEAD,
  defaultSettings,
  DELIVERED,
  type DeliveryOutcome,
  FULL,
  type Overflow
} from "./Mailbox.ts"

const MAX_BURST = 512

type AnyBehaviour = Behaviour.Behaviour<unknown, Behaviour.Protocol, unknown, unknown, never>
type AnyResult = Behaviour.CallResult<unknown, unknown, unknown> | Behaviour.NoReplyResult<unknown, unknown>
type StartExit = Exit.Exit<void, InitFailed | StartIgnored>

const isEffect = Effect.isEffect

export class ActorProcess extends MailboxProcess {
  readonly name: string
  readonly kind: ProcessKind
  private readonly behaviour: AnyBehaviour
  state: unknown = undefined
  /** the call being handled, or the call owed a `{stop, reason, reply}` reply while `terminate` runs */
  private current: From<unknown> | undefined = undefined
  /** `init`'s args until it runs, then the start outcome until `start` collects it */
  private startState:
    | { args: unknown; exit: StartExit | undefined; notify: ((exit: StartExit) => void) | undefined }
    | undefined = undefined

  constructor(behaviour: AnyBehaviour, name: string | undefined, kind: ProcessKind, settings: ActorSettings) {
    super(settings)
    this.behaviour = behaviour
    this.name = name ?? behaviour.name ?? `actor#${this.pid}`
    this.kind = kind
  }

  // ---------------------------------------------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------------------------------------------

  /**
   * Forks the actor's fiber with `context` and runs `init` on it. Returns the start outcome when `init` completed
   * synchronously, else `undefined` and `notify` is called later.
   */
  launch(context: Context.Context<never>, args: unknown): StartExit | undefined {
    this.startState = { args, exit: undefined, notify: undefined }
    const fiber = launchWith(this, () => Effect.runForkWith(context)(mainEffect))
    const exit = fiber.pollUnsafe()
    if (exit !== undefined) this.onFiberExit(exit)
    else fiber.addObserver((e) => this.onFiberExit(e))
    const started = this.startState?.exit
    if (started !== undefined) this.startState = undefined
    return started
  }

  /** A start interrupted before `launch` (after its name registration): the unlaunched process exits `killed`. */
  abandonStart(): void {
    if (this.fiber === undefined && this.startState === undefined && this.exitReason === undefined) {
      this.exited(ExitReason.killed)
    }
  }

  /** Registers for the start outcome of an `init` that did not complete synchronously. */
  onStarted(notify: (exit: StartExit) => void): void {
    const state = this.startState
    if (state === undefined) return
    if (state.exit !== undefined) {
      this.startState = undefined
      notify(state.exit)
    } else {
      state.notify = notify
    }
  }

  private signalStarted(exit: StartExit): void {
    const state = this.startState
    if (state === undefined || state.exit !== undefined) return
    if (state.notify !== undefined) {
      this.startState = undefined
      state.notify(exit)
    } else {
      state.exit = exit
    }
  }

  private get starting(): boolean {
    return this.startState !== undefined && this.startState.exit === undefined
  }

  runInit(): Effect.Effect<ExitReason.ExitReason, unknown> {
    const args = this.startState?.args
    let result: ReturnType<AnyBehaviour["init"]>
    try {
      result = this.behaviour.init(args)
    } catch (defect) {
      return this.initCrashed(Cause.die(defect))
    }
    if (!isEffect(result)) return this.afterInit(result)
    return Effect.flatMap(
      Effect.exit(result),
      (exit) => Exit.isSuccess(exit) ? this.afterInit(exit.value) : this.initCrashed(exit.cause)
    )
  }

  private initCrashed(cause: Cause.Cause<unknown>): Effect.Effect<ExitReason.ExitReason, unknown> {
    if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
    const reason = ExitReason.failure(cause)
    this.signalStarted(Exit.fail(new InitFailed({ name: this.name, reason })))
    return Effect.succeed(reason)
  }

  private afterInit(result: Behaviour.InitResult<unknown, unknown>): Effect.Effect<ExitReason.ExitReason, unknown> {
    switch (result?._tag) {
      case "Ok": {
        this.state = result.state
        this.signalStarted(Exit.void)
        const next = this.applyOptions(result.options)
        return next === undefined ? mainLoop : loopFrom(Effect.flatMap(next, continueLoop))
      }
      case "Ignore":
        this.signalStarted(Exit.fail(new StartIgnored({ name: this.name })))
        return Effect.succeed(ExitReason.normal)
      case "InitStop":
        this.signalStarted(Exit.fail(new InitFailed({ name: this.name, reason: result.reason })))
        return Effect.succeed(result.reason)
      default:
        return this.initCrashed(
          Cause.die(new Error(`${this.name}: init returned ${String(result)}, not ok/ignore/stopInit`))
        )
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Loop
  // ---------------------------------------------------------------------------------------------------------

  step(): Step {
    for (let burst = 0; burst < MAX_BURST; burst++) {
      const envelope = this.poll()
      if (envelope === undefined) {
        const extras = this.extras
        return extras === undefined || (extras.idleMillis === undefined && !extras.hibernating) ? park : parkWithOptions
      }
      const next = this.dispatch(envelope)
      if (next !== undefined) return next
    }
    return yieldThenStep
  }

  prepareToPark(): Step {
    const extras = this.more
    if (extras.hibernating) {
      extras.hibernating = false
      this.queue?.compact()
      if (this.queue?.length === 0) this.queue = undefined
    }
    if (extras.idleMillis !== undefined) this.armIdleTimer(extras, extras.idleMillis)
    return park
  }

  /** Handles one envelope: `undefined` when done synchronously, else the effect that finishes it and loops on. */
  dispatch(envelope: Envelope): Step | undefined {
    const behaviour = this.behaviour
    switch (envelope.kind) {
      case ENVELOPE_CALL: {
        if (!envelope.isPending && envelope.interruptOnAbandon) return undefined
        const handler = behaviour.handleCall
        if (handler === undefined) return Effect.die(new Error(`${this.name}: unexpected call (no handleCall)`))
        this.current = envelope
        // the mailbox is protocol-erased; a call envelope carries the call type of this behaviour's protocol
        const result = handler(envelope.message as never, envelope, this.state)
        if (!isEffect(result)) return this.afterCall(envelope, result)
        // onTimeout "interrupt": on a fiber of its own, as this actor, interrupted when the caller gives up
        const guarded = envelope.interruptOnAbandon ? interruptibleBy(this, envelope, result) : result
        return Effect.flatMap(
          guarded,
          (r) => r === undefined ? this.afterAbandoned() : this.afterCall(envelope, r) ?? step
        )
      }
      case ENVELOPE_CAST:
      case ENVELOPE_INFO:
      case ENVELOPE_SYSTEM: {
        const handler = envelope.kind === ENVELOPE_CAST ? behaviour.handleCast : behaviour.handleInfo
        if (handler === undefined) {
          if (envelope.kind !== ENVELOPE_CAST) return undefined // like Elixir: unhandled info is dropped
          return Effect.die(new Error(`${this.name}: unexpected cast (no handleCast)`))
        }
        // the mailbox is protocol-erased; a cast/info envelope carries this behaviour's message type
        const result = handler(envelope.message as never, this.state)
        if (!isEffect(result)) return this.afterNoReply(result)
        return Effect.flatMap(result, (r) => this.afterNoReply(r) ?? step)
      }
      case ENVELOPE_STOP:
        return Effect.succeed({ reason: envelope.reason })
    }
  }

  private afterAbandoned(): Step {
    this.current = undefined
    return step
  }

  private afterCall(from: From<unknown>, result: AnyResult): Step | undefined {
    this.current = undefined
    from.onAbandon = undefined
    switch (result?._tag) {
      case "Reply":
        this.state = result.state
        from.reply(result.reply)
        return this.applyOptions(result.options)
      case "NoReply":
        this.state = result.state
        if (from.isPending) {
          const extras = this.more
          ;(extras.pendingReplies ??= new Set()).add(from)
          from.owner = this
        }
        return this.applyOptions(result.options)
      case "Stop":
        this.state = result.state
        return Effect.succeed(
          result.reply === undefined ? { reason: result.reason } : { reason: result.reason, from, reply: result.reply }
        )
      default:
        return Effect.die(new Error(`${this.name}: handleCall returned ${String(result)}, not reply/noreply/stop`))
    }
  }

  private afterNoReply(result: Behaviour.NoReplyResult<unknown, unknown>): Step | undefined {
    switch (result?._tag) {
      case "NoReply":
        this.state = result.state
        return this.applyOptions(result.options)
      case "Stop":
        this.state = result.state
        return Effect.succeed({ reason: result.reason })
      default:
        return Effect.die(new Error(`${this.name}: handler returned ${String(result)}, not noreply/stop`))
    }
  }

  /** Applies `{continue, timeout, hibernate}`; returns the `handleContinue` step when there is one. */
  private applyOptions(options: Behaviour.ResultOptions<unknown> | undefined): Step | undefined {
    if (options === undefined) {
      if (this.extras !== undefined) this.extras.idleMillis = undefined
      return undefined
    }
    const extras = this.more
    extras.idleMillis = options.timeout === undefined
      ? undefined
      : Duration.toMillis(Duration.fromInputUnsafe(options.timeout))
    if (options.hibernate === true) extras.hibernating = true
    if (!("continue" in options) || options.continue === undefined) return undefined
    const handler = this.behaviour.handleContinue
    if (handler === undefined) return Effect.die(new Error(`${this.name}: continue without handleContinue`))
    // the continue value was produced by this behaviour's own handler
    const result = handler(options.continue as never, this.state)
    if (!isEffect(result)) return this.afterNoReply(result) ?? step
    return Effect.flatMap(result, (r) => this.afterNoReply(r) ?? step)
  }

  /**
   * `terminate(Reason, State)`, then the owed stop reply; a crash in `terminate` becomes the exit reason.
   *
   * As gen_server's `try terminate(...) after reply(From, Reply) end`: the stop reply is sent even when
   * `terminate` crashes. While `terminate` runs, the owed call is `current`, so an actor killed before replying
   * fails its caller with `ActorExited` like every other pending call.
   */
  terminate(request: StopRequest): Effect.Effect<ExitReason.ExitReason, unknown> {
    const terminate = this.behaviour.terminate
    const owed = request.from !== undefined && request.reply !== undefined ? request.from : undefined
    const sendReply = (): void => {
      if (owed === undefined || request.reply === undefined) return
      if (this.current === owed) this.current = undefined
      owed.reply(request.reply.value)
    }
    if (terminate === undefined) {
      sendReply()
      return Effect.succeed(request.reason)
    }
    if (owed !== undefined) this.current = owed
    let result: ReturnType<NonNullable<AnyBehaviour["terminate"]>>
    try {
      result = terminate(request.reason, this.state)
    } catch (defect) {
      sendReply()
      return Effect.die(defect)
    }
    if (!isEffect(result)) {
      sendReply()
      return Effect.succeed(request.reason)
    }
    if (owed === undefined) return Effect.as(result, request.reason)
    return Effect.onExit(result, (exit) =>
      Effect.sync(() => {
        // killed (interrupted) before replying: no reply; the exit fails the caller with ActorExited
        if (Exit.isSuccess(exit) || !Cause.hasInterruptsOnly(exit.cause)) sendReply()
      })).pipe(Effect.as(request.reason))
  }

  // ---------------------------------------------------------------------------------------------------------
  // Signals and exit
  // ---------------------------------------------------------------------------------------------------------

  /**
   * An exit signal (`exit(Pid, Reason)`, what a supervisor's shutdown sends). A trapping actor gets it as a stop
   * message in mailbox order and runs `terminate(reason)`; a non-trapping one exits at once with `reason` (its
   * fiber is interrupted, `terminate` does not run, a caller it was serving fails with `ActorExited { reason }`),
   * and ignores `normal`, as Erlang does.
   */
  signalStop(reason: ExitReason.ExitReason): void {
    if (this.exitReason !== undefined) return
    if (this.settings.trapExit) this.deliverSystem({ kind: ENVELOPE_STOP, reason })
    else if (reason._tag !== "Normal") this.exitWith(reason)
  }

  /** `gen_server:stop`: a system message, handled in mailbox order whether or not the actor traps exits. */
  requestStop(reason: ExitReason.ExitReason): void {
    this.deliverSystem({ kind: ENVELOPE_STOP, reason })
  }

  /**
   * `exit(Pid, kill)`: the fiber is interrupted and the actor exits `killed` at once, also over an exit signal
   * still being handled (a shutdown timeout escalating). A kill does not wait for finalizers: those still running
   * (a handler's `Effect.ensuring`, an uninterruptible `terminate`) are detached and reported (`Kill.ts`).
   */
  kill(): void {
    if (this.exitReason !== undefined) return
    this.more.exitSignal = ExitReason.killed
    const fiber = this.fiber
    if (fiber !== undefined && interruptDetached(this, fiber)) this.exited(ExitReason.killed)
  }

  /** Ends the actor now with `reason` (the first such signal wins, a kill overrides it); `terminate` does not run. */
  private exitWith(reason: ExitReason.ExitReason): void {
    if (this.exitReason !== undefined) return
    const extras = this.more
    if (extras.exitSignal !== undefined) return
    extras.exitSignal = reason
    this.fiber?.interruptUnsafe()
  }

  /** Forgets a `noreply` call once it has been answered from elsewhere. */
  settled(from: From<unknown>): void {
    this.extras?.pendingReplies?.delete(from)
  }

  private onFiberExit(exit: Exit.Exit<ExitReason.ExitReason, unknown>): void {
    if (this.exitReason !== undefined) return
    const reason = Exit.isSuccess(exit)
      ? exit.value
      : Cause.hasInterruptsOnly(exit.cause)
      ? this.extras?.exitSignal ?? ExitReason.killed
      : ExitReason.failure(exit.cause)
    this.exited(reason)
  }

  /** Records the exit: a start in progress fails, pending callers fail with `ActorExited`, blocked senders wake. */
  private exited(reason: ExitReason.ExitReason): void {
    if (this.starting) this.signalStarted(Exit.fail(new InitFailed({ name: this.name, reason })))
    const extras = this.extras
    if (extras !== undefined && extras.idleTimer !== undefined) this.cancelIdleTimer(extras)
    const orphans: Array<From<unknown>> = []
    if (this.current !== undefined) orphans.push(this.current)
    this.current = undefined
    if (extras?.pendingReplies !== undefined) orphans.push(...extras.pendingReplies)
    for (const envelope of this.queue?.drain() ?? []) if (envelope.kind === ENVELOPE_CALL) orphans.push(envelope)
    this.queue = undefined
    this.waiting = undefined
    const senders = extras?.blockedSenders?.drain() ?? []
    this.extras = undefined
    this.markExited(reason)
    if (orphans.length > 0) {
      const error = Exit.fail(new ActorExited({ target: this.name, reason }))
      for (const from of orphans) from.complete(error)
    }
    wakeAll(senders)
  }
}
