/**
 * The running actor: mailbox, state, and the fiber that processes one message at a time, in order.
 *
 * Mirrors gen_server's receive loop. What is hand-rolled, and why:
 * - **Direct hand-off.** When the actor is parked waiting for a message, `deliver` resumes its fiber
 *   synchronously with the message (Effect's `callback` resume evaluates the suspended fiber on the caller's
 *   stack). A call to an idle actor therefore runs the handler and gets its reply without any scheduler hop,
 *   which is what makes `call` cheaper than an Effect `Queue` + `Deferred` round trip. Nesting is bounded
 *   (`MAX_INLINE_DEPTH`); past it, the wake-up goes through a microtask.
 * - **Bounded mailbox** with a declared overflow strategy (`backpressure` | `dropping` | `sliding` | `fail`), a
 *   ring buffer (`MessageQueue`), and a FIFO list of senders blocked by backpressure. Stop signals bypass the
 *   bound, like system messages.
 * - **Bursts.** Handlers that return plain results are applied in a loop; after `MAX_BURST` messages the fiber
 *   yields so that one busy actor cannot starve the others.
 * - **Shared loop effects.** The loop's Effect values are module constants that find their actor through the
 *   running fiber, so an actor costs one object plus its fiber; rarely used state (blocked senders, `noreply`
 *   calls, idle timers) lives in a lazily created `ActorExtras`.
 * - **Exit.** The fiber's exit becomes the actor's exit reason (interruption = `killed`); pending callers (the
 *   one being served, queued calls, and calls answered `noreply`) fail with `ActorExited { reason }`.
 */
import { Cause, type Context, Duration, Effect, Exit, Fiber } from "effect"
import type * as Behaviour from "./Behaviour.ts"
import * as ExitReason from "./ExitReason.ts"
import { ENVELOPE_CALL, ENVELOPE_CAST, ENVELOPE_INFO, ENVELOPE_STOP, type Envelope, type From } from "./From.ts"
import { MessageQueue } from "./MessageQueue.ts"
import { ProcessBase, type ProcessKind } from "./Process.ts"
import { ActorExited, InitFailed, MailboxFull, StartIgnored } from "./RuntimeError.ts"

export type Overflow = "backpressure" | "dropping" | "sliding" | "fail"

export const DELIVERED = 0
export const FULL = 1
export const DEAD = 2
export type DeliveryOutcome = typeof DELIVERED | typeof FULL | typeof DEAD

const MAX_INLINE_DEPTH = 48
const MAX_BURST = 512
let inlineDepth = 0

/** Runs `wake` now on this stack, or from a microtask when wake-ups are nested too deeply. */
const wakeInline = (wake: () => void): void => {
  if (inlineDepth < MAX_INLINE_DEPTH) {
    inlineDepth++
    try {
      wake()
    } finally {
      inlineDepth--
    }
  } else {
    queueMicrotask(wake)
  }
}

/** What the loop does once it decides to stop: the reason, and a reply owed by `{stop, Reason, Reply, State}`. */
interface StopRequest {
  readonly reason: ExitReason.ExitReason
  readonly from?: From<unknown>
  readonly reply?: { readonly value: unknown }
}

type AnyBehaviour = Behaviour.Behaviour<unknown, Behaviour.Protocol, unknown, unknown, never>
type AnyResult = Behaviour.CallResult<unknown, unknown, unknown> | Behaviour.NoReplyResult<unknown, unknown>
type StartExit = Exit.Exit<void, InitFailed | StartIgnored>
type Step = Effect.Effect<StopRequest, unknown>

const isEffect = Effect.isEffect

// ---------------------------------------------------------------------------------------------------------------
// Fiber → actor
// ---------------------------------------------------------------------------------------------------------------

const ACTOR: unique symbol = Symbol.for("troupe/ActorProcess")
interface ActorFiber {
  [ACTOR]?: ActorProcess
}

/** The actor a fiber runs, if it is an actor's fiber. */
export const actorOfFiber = (fiber: Fiber.Fiber<unknown, unknown>): ActorProcess | undefined =>
  (fiber as unknown as ActorFiber)[ACTOR]

/** The actor of the fiber evaluating this code (only called from the actor's own loop effects). */
const current = (): ActorProcess => {
  const fiber = Fiber.getCurrent()
  // the shared loop effects below only ever run on an actor's fiber, which has ACTOR set before init
  return (fiber as unknown as ActorFiber)[ACTOR] as ActorProcess
}

/** Handed from `launch` to the first evaluation of `mainEffect`, which runs synchronously inside `runForkWith`. */
let launching: ActorProcess | undefined = undefined

// ---------------------------------------------------------------------------------------------------------------
// Shared loop effects
// ---------------------------------------------------------------------------------------------------------------

const receive: Effect.Effect<Envelope> = Effect.callback<Envelope>((resume) => {
  current().waiting = resume
})
const step: Step = Effect.suspend(() => current().step())
const continueLoop = (): Step => step
const onReceived = (envelope: Envelope): Step => current().dispatch(envelope) ?? step
const park: Step = Effect.flatMap(receive, onReceived)
const parkWithOptions: Step = Effect.suspend(() => current().prepareToPark())
const yieldThenStep: Step = Effect.flatMap(Effect.yieldNow, continueLoop)
const onCrash = (cause: Cause.Cause<unknown>): Step =>
  Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.succeed({ reason: ExitReason.failure(cause) })
const runTerminate = (request: StopRequest): Effect.Effect<ExitReason.ExitReason, unknown> =>
  Effect.suspend(() => current().terminate(request))
const loopFrom = (first: Step): Effect.Effect<ExitReason.ExitReason, unknown> =>
  Effect.flatMap(Effect.catchCause(first, onCrash), runTerminate)
const mainLoop = loopFrom(step)
const mainEffect: Effect.Effect<ExitReason.ExitReason, unknown> = Effect.withFiber((fiber) => {
  const actor = launching as ActorProcess // set by `launch` right before it forks this fiber
  launching = undefined
  ;(fiber as unknown as ActorFiber)[ACTOR] = actor
  actor.fiber = fiber as Fiber.Fiber<ExitReason.ExitReason, unknown>
  return actor.runInit()
})

/** Rarely used per-actor state, allocated on first use. */
interface ActorExtras {
  blockedSenders: MessageQueue<() => void> | undefined
  /** calls answered `noreply`, awaiting `Actor.reply` */
  pendingReplies: Set<From<unknown>> | undefined
  idleMillis: number | undefined
  idleTimer: Fiber.Fiber<void> | undefined
  hibernating: boolean
  dropped: number
}

export class ActorProcess extends ProcessBase {
  readonly name: string
  readonly kind: ProcessKind
  readonly capacity: number
  readonly overflow: Overflow
  private readonly behaviour: AnyBehaviour
  state: unknown = undefined
  private queue: MessageQueue<Envelope> | undefined = undefined
  /** the parked fiber's resume; set while waiting for a message */
  waiting: ((exit: Exit.Exit<Envelope>) => void) | undefined = undefined
  /** the call being handled */
  private current: From<unknown> | undefined = undefined
  fiber: Fiber.Fiber<ExitReason.ExitReason, unknown> | undefined = undefined
  private extras: ActorExtras | undefined = undefined
  /** `init`'s args until it runs, then the start outcome until `start` collects it */
  private startState: { args: unknown; exit: StartExit | undefined; notify: ((exit: StartExit) => void) | undefined } | undefined =
    undefined

  constructor(behaviour: AnyBehaviour, name: string | undefined, kind: ProcessKind, capacity: number, overflow: Overflow) {
    super()
    this.behaviour = behaviour
    this.name = name ?? behaviour.name ?? `actor#${this.pid}`
    this.kind = kind
    this.capacity = capacity
    this.overflow = overflow
  }

  private get more(): ActorExtras {
    return this.extras ??= {
      blockedSenders: undefined,
      pendingReplies: undefined,
      idleMillis: undefined,
      idleTimer: undefined,
      hibernating: false,
      dropped: 0
    }
  }

  /** messages dropped or evicted by the overflow strategy */
  get dropped(): number {
    return this.extras?.dropped ?? 0
  }
  countDropped(): void {
    this.more.dropped++
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
    launching = this
    const fiber = Effect.runForkWith(context)(mainEffect)
    launching = undefined
    const exit = fiber.pollUnsafe()
    if (exit !== undefined) this.onFiberExit(exit)
    else fiber.addObserver((e) => this.onFiberExit(e))
    const started = this.startState?.exit
    if (started !== undefined) this.startState = undefined
    return started
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
    return Effect.flatMap(Effect.exit(result), (exit) =>
      Exit.isSuccess(exit) ? this.afterInit(exit.value) : this.initCrashed(exit.cause))
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
        return this.initCrashed(Cause.die(new Error(`${this.name}: init returned ${String(result)}, not ok/ignore/stopInit`)))
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Mailbox
  // ---------------------------------------------------------------------------------------------------------

  /** Puts an envelope in the mailbox, or hands it straight to the parked fiber. */
  deliver(envelope: Envelope): DeliveryOutcome {
    if (this.exitReason !== undefined) return DEAD
    const extras = this.extras
    if (extras !== undefined && extras.idleTimer !== undefined) this.cancelIdleTimer(extras)
    const waiting = this.waiting
    if (waiting !== undefined) {
      this.waiting = undefined
      if (inlineDepth < MAX_INLINE_DEPTH) {
        inlineDepth++
        try {
          waiting(Exit.succeed(envelope))
        } finally {
          inlineDepth--
        }
      } else {
        ;(this.queue ??= new MessageQueue()).push(envelope)
        queueMicrotask(() => {
          const next = this.queue?.shift()
          if (next !== undefined) waiting(Exit.succeed(next))
        })
      }
      return DELIVERED
    }
    const queue = (this.queue ??= new MessageQueue())
    if (envelope.kind === ENVELOPE_STOP) {
      queue.push(envelope)
      return DELIVERED
    }
    const blocked = extras?.blockedSenders
    if (queue.length >= this.capacity || (blocked !== undefined && blocked.length > 0)) return FULL
    queue.push(envelope)
    return DELIVERED
  }

  /** Evicts the oldest non-system message (for `sliding`); a call evicted this way fails with `MailboxFull`. */
  evictOldest(): void {
    const queue = this.queue
    if (queue === undefined) return
    const oldest = queue.shift()
    if (oldest === undefined) return
    this.countDropped()
    if (oldest.kind === ENVELOPE_STOP) {
      queue.push(oldest)
    } else if (oldest.kind === ENVELOPE_CALL) {
      oldest.complete(Exit.fail(new MailboxFull({ target: this.name, capacity: this.capacity })))
    }
  }

  /** Parks a sender blocked by backpressure; `wake` runs (once) when there is room or the actor exits. */
  blockSender(wake: () => void): () => void {
    const extras = this.more
    const senders = (extras.blockedSenders ??= new MessageQueue())
    let active = true
    senders.push(() => {
      if (active) {
        active = false
        wake()
      }
    })
    return () => {
      active = false
    }
  }

  private poll(): Envelope | undefined {
    const queue = this.queue
    if (queue === undefined) return undefined
    const envelope = queue.shift()
    const senders = this.extras?.blockedSenders
    if (envelope !== undefined && senders !== undefined && senders.length > 0 && queue.length < this.capacity) {
      const next = senders.shift()
      if (next !== undefined) wakeInline(next)
    }
    return envelope
  }

  /** Messages waiting in the mailbox. */
  get mailboxSize(): number {
    return this.queue?.length ?? 0
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
        const result = handler(envelope.message as never, envelope, this.state)
        if (!isEffect(result)) return this.afterCall(envelope, result)
        const guarded = envelope.interruptOnAbandon ? this.interruptibleBy(envelope, result) : result
        return Effect.flatMap(guarded, (r) => r === undefined ? this.afterAbandoned() : this.afterCall(envelope, r) ?? step)
      }
      case ENVELOPE_CAST:
      case ENVELOPE_INFO: {
        const handler = envelope.kind === ENVELOPE_CAST ? behaviour.handleCast : behaviour.handleInfo
        if (handler === undefined) {
          if (envelope.kind === ENVELOPE_INFO) return undefined // like Elixir: unhandled info is dropped
          return Effect.die(new Error(`${this.name}: unexpected cast (no handleCast)`))
        }
        const result = handler(envelope.message as never, this.state)
        if (!isEffect(result)) return this.afterNoReply(result)
        return Effect.flatMap(result, (r) => this.afterNoReply(r) ?? step)
      }
      case ENVELOPE_STOP:
        return Effect.succeed({ reason: envelope.reason })
    }
  }

  /** Runs `handler` so that abandoning `from` (caller timeout with `onTimeout: "interrupt"`) interrupts it. */
  private interruptibleBy<A, E, R>(from: From<unknown>, handler: Effect.Effect<A, E, R>): Effect.Effect<A | undefined, E, R> {
    const abandoned = Effect.callback<undefined>((resume) => {
      from.onAbandon = () => resume(Effect.succeed(undefined))
    })
    return Effect.raceFirst(handler, abandoned)
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
    extras.idleMillis = options.timeout === undefined ? undefined : Duration.toMillis(Duration.fromInputUnsafe(options.timeout))
    if (options.hibernate === true) extras.hibernating = true
    if (!("continue" in options) || options.continue === undefined) return undefined
    const handler = this.behaviour.handleContinue
    if (handler === undefined) return Effect.die(new Error(`${this.name}: continue without handleContinue`))
    const result = handler(options.continue as never, this.state)
    if (!isEffect(result)) return this.afterNoReply(result) ?? step
    return Effect.flatMap(result, (r) => this.afterNoReply(r) ?? step)
  }

  /** `terminate(Reason, State)`, then the owed stop reply; a crash in `terminate` becomes the exit reason. */
  terminate(request: StopRequest): Effect.Effect<ExitReason.ExitReason, unknown> {
    const terminate = this.behaviour.terminate
    const finish = (): Effect.Effect<ExitReason.ExitReason> => {
      if (request.from !== undefined && request.reply !== undefined) request.from.reply(request.reply.value)
      return Effect.succeed(request.reason)
    }
    if (terminate === undefined) return finish()
    const result = terminate(request.reason, this.state)
    return isEffect(result) ? Effect.flatMap(result, finish) : finish()
  }

  // ---------------------------------------------------------------------------------------------------------
  // Idle timeout
  // ---------------------------------------------------------------------------------------------------------

  private armIdleTimer(extras: ActorExtras, millis: number): void {
    const fiber = this.fiber
    if (fiber === undefined) return
    const timer = Effect.runForkWith(fiber.context)(
      Effect.flatMap(Effect.sleep(Duration.millis(millis)), () =>
        Effect.sync(() => {
          if (extras.idleTimer !== timer) return
          extras.idleTimer = undefined
          this.deliver({ kind: ENVELOPE_INFO, message: idleTimeoutInfo })
        }))
    )
    extras.idleTimer = timer
  }

  private cancelIdleTimer(extras: ActorExtras): void {
    const timer = extras.idleTimer
    extras.idleTimer = undefined
    timer?.interruptUnsafe()
  }

  // ---------------------------------------------------------------------------------------------------------
  // Signals and exit
  // ---------------------------------------------------------------------------------------------------------

  signalStop(reason: ExitReason.ExitReason): void {
    this.deliver({ kind: ENVELOPE_STOP, reason })
  }

  kill(): void {
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
      ? ExitReason.killed
      : ExitReason.failure(exit.cause)
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
    for (const wake of senders) wake()
  }
}

const idleTimeoutInfo: Behaviour.IdleTimeout = Object.freeze({ _tag: "IdleTimeout" })
