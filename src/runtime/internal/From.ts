/**
 * `From`: a pending call — the request envelope in the mailbox and the handle a server replies through.
 *
 * Mirrors gen_server's `From`: a server may reply inside `handleCall` (`reply` result) or later, from any fiber,
 * through `Actor.reply(from, value)`. A reply arriving after the caller gave up (timeout or interruption) is
 * dropped, as in OTP 24+. An actor holding a `noreply` call forgets it as soon as its caller gives up, so its table
 * of pending calls holds only calls someone still waits for. When the caller asked for `onTimeout: "interrupt"`,
 * giving up also interrupts the handler that is serving this call.
 *
 * The same object is the mailbox envelope, so a call allocates one object besides its Exit.
 */
import { Exit } from "effect"
import type { ActorExited, CallTimeout, MailboxFull, NoProc } from "../RuntimeError.ts"

/** Errors a call can fail with. */
export type CallError = NoProc | CallTimeout | ActorExited | MailboxFull

export const ENVELOPE_CALL = 0
export const ENVELOPE_CAST = 1
export const ENVELOPE_INFO = 2
export const ENVELOPE_STOP = 3
/** a system message for `handleInfo` (`Actor.sendSystemUnsafe`, the runtime's own notices) */
export const ENVELOPE_SYSTEM = 4

const PENDING = 0
const DONE = 1
const ABANDONED = 2

export class From<Reply = unknown> {
  readonly kind = ENVELOPE_CALL
  readonly message: unknown
  readonly interruptOnAbandon: boolean
  private status = PENDING
  /** set when completed before the caller suspended */
  exit: Exit.Exit<Reply, CallError> | undefined = undefined
  /** set when the caller suspended */
  private resume: ((exit: Exit.Exit<Reply, CallError>) => void) | undefined = undefined
  /** set while a handler runs for this call and the caller asked for interruption on timeout */
  onAbandon: (() => void) | undefined = undefined
  /** the actor holding this call after a `noreply`, told when it is answered or abandoned */
  owner: { settled(from: From<unknown>): void } | undefined = undefined

  constructor(message: unknown, interruptOnAbandon: boolean) {
    this.message = message
    this.interruptOnAbandon = interruptOnAbandon
  }

  /** Still waiting for a reply (not replied, not abandoned)? */
  get isPending(): boolean {
    return this.status === PENDING
  }

  /** Completes the call; returns false if it was already completed or abandoned (the value is dropped). */
  complete(exit: Exit.Exit<Reply, CallError>): boolean {
    if (this.status !== PENDING) return false
    this.status = DONE
    if (this.owner !== undefined) {
      // the owner tracks pending calls of any reply type
      this.owner.settled(this as From<unknown>)
      this.owner = undefined
    }
    const resume = this.resume
    if (resume === undefined) this.exit = exit
    else {
      this.resume = undefined
      resume(exit)
    }
    return true
  }

  /** Replies with a value (a no-op after a timeout). */
  reply(value: Reply): boolean {
    return this.complete(Exit.succeed(value))
  }

  /** The caller suspends: `resume` runs when the call completes. */
  await(resume: (exit: Exit.Exit<Reply, CallError>) => void): void {
    if (this.exit !== undefined) resume(this.exit)
    else this.resume = resume
  }

  /**
   * The caller gave up (timeout or interruption): later replies are dropped, and the actor holding the call after
   * a `noreply` forgets it at once (abandoned calls leave no entry behind).
   */
  abandon(): void {
    if (this.status !== PENDING) return
    this.status = ABANDONED
    this.resume = undefined
    if (this.owner !== undefined) {
      // the owner tracks pending calls of any reply type
      this.owner.settled(this as From<unknown>)
      this.owner = undefined
    }
    const onAbandon = this.onAbandon
    this.onAbandon = undefined
    if (onAbandon !== undefined) onAbandon()
  }

  toJSON(): unknown {
    return { _id: "From", pending: this.status === PENDING }
  }
}

export interface CastEnvelope {
  readonly kind: typeof ENVELOPE_CAST | typeof ENVELOPE_INFO
  readonly message: unknown
}

export interface StopEnvelope {
  readonly kind: typeof ENVELOPE_STOP
  readonly reason: import("../ExitReason.ts").ExitReason
}

export interface SystemInfoEnvelope {
  readonly kind: typeof ENVELOPE_SYSTEM
  readonly message: unknown
}

/** An envelope that bypasses the mailbox bound: never dropped, never evicted, never counted against the capacity. */
export type SystemEnvelope = StopEnvelope | SystemInfoEnvelope

export type Envelope = From<unknown> | CastEnvelope | SystemEnvelope

/** Is this a system envelope (a stop signal or a system message)? */
export const isSystem = (envelope: Envelope): envelope is SystemEnvelope => envelope.kind >= ENVELOPE_STOP
