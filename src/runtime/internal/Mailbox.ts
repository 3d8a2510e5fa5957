/**
 * The actor's mailbox: a FIFO with direct hand-off to the parked fiber, an optional bound with overflow strategies,
 * blocked senders, and the idle timer (gen_server's `timeout`). A base class of `ActorProcess` (not a separate
 * object, so an actor costs one object plus its fiber).
 *
 * Rules:
 * - Unbounded by default, as an Erlang mailbox: a send never blocks and never fails. A bound
 *   (`mailbox: { capacity, overflow }`) is an explicit option.
 * - Under `backpressure`, every blocked sender eventually delivers, in FIFO order, and later messages never
 *   overtake already-blocked senders: a send is refused room while any sender is blocked, and when room opens the
 *   oldest blocked sender's envelope is put in the mailbox on its behalf before it is woken.
 * - System messages are never dropped and never wait for room (`deliverSystem`): stop signals, monitor `Down`s,
 *   exit notices from children, idle timeouts, supervisor retry/backoff timers and other runtime self-messages
 *   bypass the bound, as Erlang's signals do. They are marked (`isSystem`) and never count against the capacity:
 *   the bound compares the user messages waiting (the queue's length less `queuedSystem`) with it, under every
 *   overflow strategy. `sliding` evicts the oldest user message, never a system one, and moves nothing else: every
 *   other message keeps its place ("one message at a time, in order").
 *
 * Hand-rolled: Effect's `Queue` wakes a waiting taker through the scheduler of the fiber that created it (a
 * scheduler hop per message). Here, when the actor's fiber is parked in `receive`, `deliver` resumes it
 * synchronously with the envelope (Effect's `callback` resume evaluates the suspended fiber on the caller's stack),
 * so a call to an idle actor is answered without any hop. Nesting is bounded (`MAX_INLINE_DEPTH`); past it, the
 * wake-up goes through a microtask. System messages bypass the bound.
 */
import { Duration, Effect, Exit, type Fiber } from "effect"
import type * as ExitReason from "../ExitReason.ts"
import { ProcessBase } from "../Process.ts"
import { MailboxFull } from "../RuntimeError.ts"
import { onFiberOf } from "./ActorLoop.ts"
import { type Envelope, ENVELOPE_CALL, ENVELOPE_SYSTEM, type From, isSystem, type SystemEnvelope } from "./From.ts"
import { MessageQueue } from "./MessageQueue.ts"

export type Overflow = "backpressure" | "dropping" | "sliding" | "fail"

export const DELIVERED = 0
export const FULL = 1
export const DEAD = 2
export type DeliveryOutcome = typeof DELIVERED | typeof FULL | typeof DEAD

const MAX_INLINE_DEPTH = 48
let inlineDepth = 0

/** Runs `wake` now on this stack, or from a microtask when wake-ups are nested too deeply. */
export const wakeInline = (wake: () => void): void => {
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

/**
 * A sender waiting for room with its envelope; `active` is false once it gave up or was woken. `wake` is told
 * `DELIVERED` (its envelope entered the mailbox) or `DEAD` (the actor exited first).
 */
export interface BlockedSender {
  readonly envelope: Envelope
  readonly wake: (outcome: DeliveryOutcome) => void
  active: boolean
}

/** Wakes every sender still waiting with `DEAD` (the actor exited before their envelopes entered the mailbox). */
export const wakeAll = (senders: ReadonlyArray<BlockedSender>): void => {
  for (const sender of senders) {
    if (sender.active) {
      sender.active = false
      sender.wake(DEAD)
    }
  }
}

/** Rarely used per-actor state, allocated on first use. */
export interface ActorExtras {
  blockedSenders: MessageQueue<BlockedSender> | undefined
  /** calls answered `noreply`, awaiting `Actor.reply` */
  pendingReplies: Set<From<unknown>> | undefined
  idleMillis: number | undefined
  idleTimer: Fiber.Fiber<void> | undefined
  hibernating: boolean
  dropped: number
  /** system envelopes waiting in the queue (they do not count against the capacity) */
  queuedSystem: number
  /** the reason of an exit signal that is ending this (non-trapping) actor: its exit reason */
  exitSignal: ExitReason.ExitReason | undefined
}

/**
 * Per-actor settings that are rarely not the default: shared between actors (the default is one frozen object),
 * so an actor pays one field for all of them.
 */
export interface ActorSettings {
  readonly capacity: number
  readonly overflow: Overflow
  readonly trapExit: boolean
}

export const defaultSettings: ActorSettings = Object.freeze({
  capacity: Number.POSITIVE_INFINITY,
  overflow: "backpressure",
  trapExit: false
})
const internedSettings = new Map<string, ActorSettings>()

/** The shared settings object for these values (interned; a bounded table, fresh objects past its bound). */
export const actorSettings = (capacity: number, overflow: Overflow, trapExit: boolean): ActorSettings => {
  if (
    capacity === defaultSettings.capacity && overflow === defaultSettings.overflow &&
    trapExit === defaultSettings.trapExit
  ) {
    return defaultSettings
  }
  const key = `${capacity}|${overflow}|${trapExit}`
  const found = internedSettings.get(key)
  if (found !== undefined) return found
  const made: ActorSettings = Object.freeze({ capacity, overflow, trapExit })
  if (internedSettings.size < 1024) internedSettings.set(key, made)
  return made
}

export abstract class MailboxProcess extends ProcessBase {
  readonly settings: ActorSettings
  protected queue: MessageQueue<Envelope> | undefined = undefined
  /** the parked fiber's resume; set while waiting for a message */
  waiting: ((exit: Exit.Exit<Envelope>) => void) | undefined = undefined
  fiber: Fiber.Fiber<ExitReason.ExitReason, unknown> | undefined = undefined
  protected extras: ActorExtras | undefined = undefined

  constructor(settings: ActorSettings) {
    super()
    this.settings = settings
  }

  /** the mailbox bound (`Infinity`: unbounded, the default) */
  get capacity(): number {
    return this.settings.capacity
  }
  /** what a send to a full mailbox does (only with a bound) */
  get overflow(): Overflow {
    return this.settings.overflow
  }

  protected get more(): ActorExtras {
    return this.extras ??= {
      blockedSenders: undefined,
      pendingReplies: undefined,
      idleMillis: undefined,
      idleTimer: undefined,
      hibernating: false,
      dropped: 0,
      queuedSystem: 0,
      exitSignal: undefined
    }
  }

  /** messages dropped or evicted by the overflow strategy */
  get dropped(): number {
    return this.extras?.dropped ?? 0
  }
  countDropped(): void {
    this.more.dropped++
  }

  /** Puts an envelope in the mailbox, or hands it straight to the parked fiber. */
  deliver(envelope: Envelope): DeliveryOutcome {
    if (this.exitReason !== undefined) return DEAD
    const extras = this.extras
    if (extras !== undefined && extras.idleTimer !== undefined) this.cancelIdleTimer(extras)
    const waiting = this.waiting
    if (waiting !== undefined) {
      // the hot path, kept inline here (deliverSystem shares `handOff`)
      this.waiting = undefined
      if (inlineDepth < MAX_INLINE_DEPTH) {
        inlineDepth++
        try {
          waiting(Exit.succeed(envelope))
        } finally {
          inlineDepth--
        }
      } else {
        this.handOff(waiting, envelope)
      }
      return DELIVERED
    }
    const queue = (this.queue ??= new MessageQueue())
    if (isSystem(envelope)) {
      this.pushSystem(queue, envelope)
      return DELIVERED
    }
    const blocked = extras?.blockedSenders
    if (queue.length - (extras?.queuedSystem ?? 0) >= this.settings.capacity) return FULL
    if (blocked !== undefined && blocked.length > 0) return FULL
    queue.push(envelope)
    return DELIVERED
  }

  /**
   * Delivers a system message: never dropped, never waits for room (it bypasses the bound and does not count
   * against it). `DEAD` when the actor has exited.
   */
  deliverSystem(envelope: SystemEnvelope): DeliveryOutcome {
    if (this.exitReason !== undefined) return DEAD
    const extras = this.extras
    if (extras !== undefined && extras.idleTimer !== undefined) this.cancelIdleTimer(extras)
    const waiting = this.waiting
    if (waiting !== undefined) this.handOff(waiting, envelope)
    else this.pushSystem(this.queue ??= new MessageQueue(), envelope)
    return DELIVERED
  }

  /** Delivers `message` to `handleInfo` as a system message (`deliverSystem`). */
  deliverSystemInfo(message: unknown): DeliveryOutcome {
    return this.deliverSystem({ kind: ENVELOPE_SYSTEM, message })
  }

  /**
   * `sliding`: evicts the oldest user message (`evictOldest`), then delivers `envelope`. Still `FULL` when the slot
   * was taken again meanwhile (an evicted caller resumes at once and may send), in which case nothing was delivered.
   */
  deliverSliding(envelope: Envelope): DeliveryOutcome {
    this.evictOldest()
    return this.deliver(envelope)
  }

  private pushSystem(queue: MessageQueue<Envelope>, envelope: SystemEnvelope): void {
    queue.push(envelope)
    this.more.queuedSystem++
  }

  /** The oldest envelope, removed from `queue`, with the system count kept. */
  private take(queue: MessageQueue<Envelope>): Envelope | undefined {
    const envelope = queue.shift()
    if (envelope !== undefined && isSystem(envelope) && this.extras !== undefined) this.extras.queuedSystem--
    return envelope
  }

  /** Resumes the parked fiber with `envelope`: on this stack, or through a microtask when nested too deeply. */
  private handOff(waiting: (exit: Exit.Exit<Envelope>) => void, envelope: Envelope): void {
    this.waiting = undefined
    if (inlineDepth < MAX_INLINE_DEPTH) {
      inlineDepth++
      try {
        waiting(Exit.succeed(envelope))
      } finally {
        inlineDepth--
      }
    } else {
      const queue = (this.queue ??= new MessageQueue())
      if (isSystem(envelope)) this.pushSystem(queue, envelope)
      else queue.push(envelope)
      queueMicrotask(() => {
        const next = this.queue === undefined ? undefined : this.take(this.queue)
        if (next !== undefined) waiting(Exit.succeed(next))
      })
    }
  }

  /**
   * Evicts the oldest user message (for `sliding`): system messages are never evicted, and every other message
   * keeps its place. A call evicted this way fails with `MailboxFull`. False when there is none to evict.
   */
  evictOldest(): boolean {
    const oldest = this.queue?.removeFirst(isUser)
    if (oldest === undefined) return false
    this.countDropped()
    if (oldest.kind === ENVELOPE_CALL) {
      oldest.complete(Exit.fail(new MailboxFull({ target: this.name, capacity: this.capacity })))
    }
    return true
  }

  /**
   * Parks a sender blocked by backpressure with its `envelope`. When room opens, the oldest blocked sender's
   * envelope is put in the mailbox on its behalf and `wake(DELIVERED)` runs; `wake(DEAD)` when the actor exits
   * first. The returned cancel (the sender gave up: timeout, interruption) makes its entry skipped, so its
   * envelope is never delivered and never takes a slot.
   */
  blockSender(envelope: Envelope, wake: (outcome: DeliveryOutcome) => void): () => void {
    const extras = this.more
    const senders = (extras.blockedSenders ??= new MessageQueue())
    const entry: BlockedSender = { envelope, wake, active: true }
    senders.push(entry)
    return () => {
      entry.active = false
    }
  }

  protected poll(): Envelope | undefined {
    const queue = this.queue
    if (queue === undefined) return undefined
    const envelope = this.take(queue)
    const senders = this.extras?.blockedSenders
    if (senders === undefined || senders.length === 0) return envelope
    this.admitBlocked(queue, senders)
    return envelope ?? this.take(queue)
  }

  /**
   * Fills the free slots with blocked senders' envelopes, oldest sender first, and wakes those senders: every
   * blocked sender eventually delivers, in FIFO order, and later messages never overtake already-blocked senders
   * (a new send is refused room while any sender is blocked). System messages take no slot.
   */
  private admitBlocked(queue: MessageQueue<Envelope>, senders: MessageQueue<BlockedSender>): void {
    const system = this.extras?.queuedSystem ?? 0
    while (queue.length - system < this.settings.capacity) {
      const next = senders.shift()
      if (next === undefined) return
      if (!next.active) continue
      next.active = false
      queue.push(next.envelope)
      const wake = next.wake
      wakeInline(() => wake(DELIVERED))
    }
  }

  /** Is the fiber evaluating this code this actor's (its own, or that of a handler it runs)? For the self checks. */
  get isCurrent(): boolean {
    return onFiberOf(this)
  }

  /** Messages waiting in the mailbox. */
  get mailboxSize(): number {
    return this.queue?.length ?? 0
  }

  // ---------------------------------------------------------------------------------------------------------
  // Idle timeout
  // ---------------------------------------------------------------------------------------------------------

  protected armIdleTimer(extras: ActorExtras, millis: number): void {
    const fiber = this.fiber
    if (fiber === undefined) return
    const timer = Effect.runForkWith(fiber.context)(
      Effect.flatMap(Effect.sleep(Duration.millis(millis)), () =>
        Effect.sync(() => {
          if (extras.idleTimer !== timer) return
          extras.idleTimer = undefined
          this.deliverSystemInfo(idleTimeoutInfo)
        }))
    )
    extras.idleTimer = timer
  }

  protected cancelIdleTimer(extras: ActorExtras): void {
    const timer = extras.idleTimer
    extras.idleTimer = undefined
    timer?.interruptUnsafe()
  }
}

const idleTimeoutInfo = Object.freeze({ _tag: "IdleTimeout" as const })
const isUser = (envelope: Envelope): boolean => !isSystem(envelope)
