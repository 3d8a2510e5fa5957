/**
 * The actor's mailbox: a bounded FIFO with direct hand-off to the parked fiber, overflow strategies, blocked
 * senders, and the idle timer (gen_server's `timeout`). A base class of `ActorProcess` (not a separate object, so an
 * actor costs one object plus its fiber).
 *
 * Hand-rolled: Effect's `Queue` wakes a waiting taker through the scheduler of the fiber that created it (a
 * scheduler hop per message). Here, when the actor's fiber is parked in `receive`, `deliver` resumes it
 * synchronously with the envelope (Effect's `callback` resume evaluates the suspended fiber on the caller's stack),
 * so a call to an idle actor is answered without any hop. Nesting is bounded (`MAX_INLINE_DEPTH`); past it, the
 * wake-up goes through a microtask. Stop signals bypass the bound, like system messages.
 */
import { Duration, Effect, Exit, type Fiber } from "effect"
import type * as ExitReason from "./ExitReason.ts"
import { ENVELOPE_CALL, ENVELOPE_INFO, ENVELOPE_STOP, type Envelope, type From } from "./From.ts"
import { MessageQueue } from "./MessageQueue.ts"
import { ProcessBase } from "./Process.ts"
import { MailboxFull } from "./RuntimeError.ts"

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

/** Rarely used per-actor state, allocated on first use. */
export interface ActorExtras {
  blockedSenders: MessageQueue<() => void> | undefined
  /** calls answered `noreply`, awaiting `Actor.reply` */
  pendingReplies: Set<From<unknown>> | undefined
  idleMillis: number | undefined
  idleTimer: Fiber.Fiber<void> | undefined
  hibernating: boolean
  dropped: number
}

export abstract class MailboxProcess extends ProcessBase {
  readonly capacity: number
  readonly overflow: Overflow
  protected queue: MessageQueue<Envelope> | undefined = undefined
  /** the parked fiber's resume; set while waiting for a message */
  waiting: ((exit: Exit.Exit<Envelope>) => void) | undefined = undefined
  fiber: Fiber.Fiber<ExitReason.ExitReason, unknown> | undefined = undefined
  protected extras: ActorExtras | undefined = undefined

  constructor(capacity: number, overflow: Overflow) {
    super()
    this.capacity = capacity
    this.overflow = overflow
  }

  protected get more(): ActorExtras {
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

  protected poll(): Envelope | undefined {
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
          this.deliver({ kind: ENVELOPE_INFO, message: idleTimeoutInfo })
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
