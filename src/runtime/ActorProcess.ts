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
 * - **Exit.** The fiber's exit becomes the actor's exit reason (interruption = `killed`); pending callers (the
 *   one being served, queued calls, and calls answered `noreply`) fail with `ActorExited { reason }`.
 */
import { Cause, Duration, Effect, Exit, type Fiber } from "effect"
import type * as Behaviour from "./Behaviour.ts"
import * as ExitReason from "./ExitReason.ts"
import { ENVELOPE_CALL, ENVELOPE_CAST, ENVELOPE_INFO, ENVELOPE_STOP, type Envelope, From } from "./From.ts"
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

const isEffect = Effect.isEffect

/** Registered by the fiber → actor lookup behind `Actor.self`. */
export const actorOfFiber = new WeakMap<Fiber.Fiber<unknown, unknown>, ActorProcess>()

export class ActorProcess extends ProcessBase {
  readonly name: string
  readonly kind: ProcessKind
  readonly capacity: number
  readonly overflow: Overflow
  private readonly behaviour: AnyBehaviour
  state: unknown = undefined
  private queue: MessageQueue<Envelope> | undefined = undefined
  /** the parked fiber's resume; set while waiting for a message */
  private waiting: ((exit: Exit.Exit<Envelope>) => void) | undefined = undefined
  private blockedSenders: MessageQueue<() => void> | undefined = undefined
  /** the call being handled */
  private current: From<unknown> | undefined = undefined
  /** calls answered `noreply`, awaiting `Actor.reply` */
  private pendingReplies: Set<From<unknown>> | undefined = undefined
  fiber: Fiber.Fiber<ExitReason.ExitReason, unknown> | undefined = undefined
  private idleMillis: number | undefined = undefined
  private idleTimer: Fiber.Fiber<void> | undefined = undefined
  private hibernating = false
  private onStarted: ((exit: Exit.Exit<void, InitFailed | StartIgnored>) => void) | undefined = undefined
  /** messages dropped or evicted by the overflow strategy */
  dropped = 0

  constructor(behaviour: AnyBehaviour, name: string | undefined, kind: ProcessKind, capacity: number, overflow: Overflow) {
    super()
    this.behaviour = behaviour
    this.name = name ?? behaviour.name ?? `actor#${this.pid}`
    this.kind = kind
    this.capacity = capacity
    this.overflow = overflow
  }

  // ---------------------------------------------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------------------------------------------

  /**
   * Forks the actor's fiber with `context` and runs `init` on it; `onStarted` is told the outcome (success, or
   * `InitFailed` / `StartIgnored`). A synchronous `init` completes before this returns.
   */
  start(
    run: (effect: Effect.Effect<ExitReason.ExitReason, unknown>) => Fiber.Fiber<ExitReason.ExitReason, unknown>,
    args: unknown,
    onStarted: (exit: Exit.Exit<void, InitFailed | StartIgnored>) => void
  ): void {
    this.onStarted = onStarted
    const fiber = run(this.main(args))
    if (fiber.pollUnsafe() !== undefined) this.onFiberExit(fiber.pollUnsafe() as Exit.Exit<ExitReason.ExitReason, unknown>)
    else fiber.addObserver((exit) => this.onFiberExit(exit))
  }

  private signalStarted(exit: Exit.Exit<void, InitFailed | StartIgnored>): void {
    const onStarted = this.onStarted
    this.onStarted = undefined
    if (onStarted !== undefined) onStarted(exit)
  }

  private main(args: unknown): Effect.Effect<ExitReason.ExitReason, unknown> {
    return Effect.withFiber((fiber) => {
      // registered before init runs, so that `Actor.self` and `CallingSelf` work inside init
      this.fiber = fiber as Fiber.Fiber<ExitReason.ExitReason, unknown>
      actorOfFiber.set(fiber, this)
      const result = this.behaviour.init(args)
      return isEffect(result)
        ? Effect.flatMap(Effect.exit(result), (exit) =>
          Exit.isSuccess(exit) ? this.afterInit(exit.value) : this.initCrashed(exit.cause))
        : this.afterInit(result)
    }).pipe(
      Effect.catchCause((cause) => this.onStarted !== undefined ? this.initCrashed(cause) : Effect.failCause(cause))
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
        const loop = next === undefined ? this.stepEffect : Effect.flatMap(next, this.continueLoop)
        return Effect.flatMap(Effect.catchCause(loop, this.onCrash), this.runTerminate)
      }
      case "Ignore":
        this.signalStarted(Exit.fail(new StartIgnored({ name: this.name })))
        return Effect.succeed(ExitReason.normal)
      case "InitStop":
        this.signalStarted(Exit.fail(new InitFailed({ name: this.name, reason: result.reason })))
        return Effect.succeed(result.reason)
      default:
        return Effect.die(new Error(`${this.name}: init returned ${String(result)}, not ok/ignore/stopInit`))
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Mailbox
  // ---------------------------------------------------------------------------------------------------------

  /** Puts an envelope in the mailbox, or hands it straight to the parked fiber. */
  deliver(envelope: Envelope): DeliveryOutcome {
    if (this.exitReason !== undefined) return DEAD
    if (this.idleTimer !== undefined) this.cancelIdleTimer()
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
    if (queue.length >= this.capacity || (this.blockedSenders !== undefined && this.blockedSenders.length > 0)) {
      return FULL
    }
    queue.push(envelope)
    return DELIVERED
  }

  /** Evicts the oldest non-system message (for `sliding`); a call evicted this way fails with `MailboxFull`. */
  evictOldest(): void {
    const queue = this.queue
    if (queue === undefined) return
    const oldest = queue.shift()
    if (oldest === undefined) return
    this.dropped++
    if (oldest.kind === ENVELOPE_STOP) {
      queue.push(oldest)
    } else if (oldest.kind === ENVELOPE_CALL) {
      oldest.complete(Exit.fail(new MailboxFull({ target: this.name, capacity: this.capacity })))
    }
  }

  /** Parks a sender blocked by backpressure; `wake` runs (once) when there is room or the actor exits. */
  blockSender(wake: () => void): () => void {
    const senders = (this.blockedSenders ??= new MessageQueue())
    let active = true
    const entry = () => {
      if (active) {
        active = false
        wake()
      }
    }
    senders.push(entry)
    return () => {
      active = false
    }
  }

  private poll(): Envelope | undefined {
    const queue = this.queue
    if (queue === undefined) return undefined
    const envelope = queue.shift()
    const senders = this.blockedSenders
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

  private readonly receive: Effect.Effect<Envelope> = Effect.callback<Envelope>((resume) => {
    this.waiting = resume
  })

  private readonly stepEffect: Effect.Effect<StopRequest, unknown> = Effect.suspend(() => this.step())
  private readonly continueLoop = (): Effect.Effect<StopRequest, unknown> => this.stepEffect
  private readonly onReceived = (envelope: Envelope): Effect.Effect<StopRequest, unknown> =>
    this.dispatch(envelope) ?? this.stepEffect
  private readonly park: Effect.Effect<StopRequest, unknown> = Effect.flatMap(this.receive, this.onReceived)
  private readonly parkWithOptions: Effect.Effect<StopRequest, unknown> = Effect.suspend(() => {
    if (this.hibernating) {
      this.hibernating = false
      this.queue?.compact()
      if (this.queue?.length === 0) this.queue = undefined
    }
    if (this.idleMillis !== undefined) this.armIdleTimer(this.idleMillis)
    return this.park
  })
  private readonly yieldThenStep: Effect.Effect<StopRequest, unknown> = Effect.flatMap(Effect.yieldNow, this.continueLoop)

  private step(): Effect.Effect<StopRequest, unknown> {
    for (let burst = 0; burst < MAX_BURST; burst++) {
      const envelope = this.poll()
      if (envelope === undefined) {
        return this.idleMillis === undefined && !this.hibernating ? this.park : this.parkWithOptions
      }
      const next = this.dispatch(envelope)
      if (next !== undefined) return next
    }
    return this.yieldThenStep
  }

  /** Handles one envelope: `undefined` when done synchronously, else the effect that finishes it and loops on. */
  private dispatch(envelope: Envelope): Effect.Effect<StopRequest, unknown> | undefined {
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
        return Effect.flatMap(guarded, (r) => r === undefined ? this.afterAbandoned() : this.afterCall(envelope, r) ?? this.stepEffect)
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
        return Effect.flatMap(result, (r) => this.afterNoReply(r) ?? this.stepEffect)
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

  private afterAbandoned(): Effect.Effect<StopRequest, unknown> {
    this.current = undefined
    return this.stepEffect
  }

  private afterCall(from: From<unknown>, result: AnyResult): Effect.Effect<StopRequest, unknown> | undefined {
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
          ;(this.pendingReplies ??= new Set()).add(from)
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

  private afterNoReply(result: Behaviour.NoReplyResult<unknown, unknown>): Effect.Effect<StopRequest, unknown> | undefined {
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
  private applyOptions(options: Behaviour.ResultOptions<unknown> | undefined): Effect.Effect<StopRequest, unknown> | undefined {
    if (options === undefined) {
      this.idleMillis = undefined
      return undefined
    }
    this.idleMillis = options.timeout === undefined ? undefined : Duration.toMillis(Duration.fromInputUnsafe(options.timeout))
    if (options.hibernate === true) this.hibernating = true
    if (!("continue" in options) || options.continue === undefined) return undefined
    const handler = this.behaviour.handleContinue
    if (handler === undefined) return Effect.die(new Error(`${this.name}: continue without handleContinue`))
    const result = handler(options.continue as never, this.state)
    if (!isEffect(result)) return this.afterNoReply(result) ?? this.stepEffect
    return Effect.flatMap(result, (r) => this.afterNoReply(r) ?? this.stepEffect)
  }

  private readonly onCrash = (cause: Cause.Cause<unknown>): Effect.Effect<StopRequest, unknown> =>
    Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.succeed({ reason: ExitReason.failure(cause) })

  /** `terminate(Reason, State)`, then the owed stop reply; a crash in `terminate` becomes the exit reason. */
  private readonly runTerminate = (request: StopRequest): Effect.Effect<ExitReason.ExitReason, unknown> => {
    const terminate = this.behaviour.terminate
    const finish = (): Effect.Effect<ExitReason.ExitReason> => {
      if (request.from !== undefined && request.reply !== undefined) request.from.reply(request.reply.value)
      return Effect.succeed(request.reason)
    }
    if (terminate === undefined) return finish()
    return Effect.suspend(() => {
      const result = terminate(request.reason, this.state)
      return isEffect(result) ? Effect.flatMap(result, finish) : finish()
    })
  }

  // ---------------------------------------------------------------------------------------------------------
  // Idle timeout
  // ---------------------------------------------------------------------------------------------------------

  private armIdleTimer(millis: number): void {
    const fiber = this.fiber
    if (fiber === undefined) return
    const timer = Effect.runForkWith(fiber.context)(
      Effect.flatMap(Effect.sleep(Duration.millis(millis)), () =>
        Effect.sync(() => {
          if (this.idleTimer !== timer) return
          this.idleTimer = undefined
          this.deliver({ kind: ENVELOPE_INFO, message: idleTimeoutInfo })
        }))
    )
    this.idleTimer = timer
  }

  private cancelIdleTimer(): void {
    const timer = this.idleTimer
    this.idleTimer = undefined
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
    this.pendingReplies?.delete(from)
  }

  private onFiberExit(exit: Exit.Exit<ExitReason.ExitReason, unknown>): void {
    if (this.exitReason !== undefined) return
    const reason = Exit.isSuccess(exit)
      ? exit.value
      : Cause.hasInterruptsOnly(exit.cause)
      ? ExitReason.killed
      : ExitReason.failure(exit.cause)
    if (this.onStarted !== undefined) this.signalStarted(Exit.fail(new InitFailed({ name: this.name, reason })))
    if (this.idleTimer !== undefined) this.cancelIdleTimer()
    const orphans: Array<From<unknown>> = []
    if (this.current !== undefined) orphans.push(this.current)
    this.current = undefined
    if (this.pendingReplies !== undefined) orphans.push(...this.pendingReplies)
    this.pendingReplies = undefined
    for (const envelope of this.queue?.drain() ?? []) if (envelope.kind === ENVELOPE_CALL) orphans.push(envelope)
    this.queue = undefined
    this.waiting = undefined
    const senders = this.blockedSenders?.drain() ?? []
    this.blockedSenders = undefined
    this.markExited(reason)
    if (orphans.length > 0) {
      const error = Exit.fail(new ActorExited({ target: this.name, reason }))
      for (const from of orphans) from.complete(error)
    }
    for (const wake of senders) wake()
  }
}

const idleTimeoutInfo: Behaviour.IdleTimeout = Object.freeze({ _tag: "IdleTimeout" })

/** Creates a `From` for a call (exported for `Actor.call`). */
export const makeFrom = (message: unknown, interruptOnTimeout: boolean): From<unknown> => new From(message, interruptOnTimeout)
