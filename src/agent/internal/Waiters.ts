/**
 * The callers of `AgentServer.awaitStatus` waiting on one agent: a bounded table of pending calls, each answered
 * with the agent when it reaches the status asked for.
 *
 * Rules:
 * - A caller that stops waiting (its timeout elapsed, or it was interrupted) leaves nothing behind: the server
 *   tells the agent (a `WaiterGone` system message) and the agent forgets every waiter whose call is no longer
 *   pending. Polling with short timeouts does not grow the agent's memory.
 * - The table is bounded (`maxWaiters`, default `DEFAULT_MAX_WAITERS` = 10,000 per agent): when it is full, the
 *   callers gone are forgotten first; if it is still full, the new call is refused at once with `MailboxFull`
 *   naming the agent's waiters and the bound.
 *
 * Mirrors a gen_server keeping `From`s of deferred replies (`{noreply, State}` then `gen_server:reply/2`); OTP
 * leaves their cleanup to the server, and a caller's timeout is only visible through the call's `isPending`.
 * Hand-rolled: one array, compacted in one pass.
 */
import { Effect } from "effect"
import { Actor, MailboxFull, type Process } from "../../runtime/index.ts"
import type * as Agent from "../Agent.ts"

/** The default bound on the callers waiting on one agent's status. */
export const DEFAULT_MAX_WAITERS = 10_000

interface Waiter {
  readonly status: Agent.Status
  readonly from: Actor.From<unknown>
}

const WAITER_GONE = { _tag: "WaiterGone" } as const

/** Tells the agent `process` (if running) that one of its callers stopped waiting. */
export const waiterGone = (process: Process.Process | undefined): Effect.Effect<void> =>
  Effect.sync(() => {
    if (process !== undefined) Actor.sendSystemUnsafe(process, WAITER_GONE)
  })

/** The waiters of one agent. */
export class Waiters {
  private list: Array<Waiter> = []
  readonly agentId: string
  readonly capacity: number

  constructor(agentId: string, capacity: number) {
    this.agentId = agentId
    this.capacity = capacity
  }

  /** How many callers are held. */
  get size(): number {
    return this.list.length
  }

  /** Holds `from` until the agent reaches `status`; a full table (after forgetting callers gone) refuses it. */
  add(status: Agent.Status, from: Actor.From<unknown>): MailboxFull | undefined {
    if (this.list.length >= this.capacity) this.prune()
    if (this.list.length >= this.capacity) {
      return new MailboxFull({ target: `agent ${this.agentId} (awaitStatus waiters)`, capacity: this.capacity })
    }
    this.list.push({ status, from })
    return undefined
  }

  /** Forgets the callers that stopped waiting (timed out or interrupted). */
  prune(): void {
    if (this.list.every((w) => w.from.isPending)) return
    this.list = this.list.filter((w) => w.from.isPending)
  }

  /** Answers every waiter of the agent's current status with the agent (and forgets callers gone). */
  notify(agent: Agent.Agent<unknown>): void {
    if (this.list.length === 0) return
    const kept: Array<Waiter> = []
    for (const waiter of this.list) {
      if (!waiter.from.isPending) continue
      if (waiter.status === agent.status) waiter.from.reply(agent)
      else kept.push(waiter)
    }
    this.list = kept
  }
}
