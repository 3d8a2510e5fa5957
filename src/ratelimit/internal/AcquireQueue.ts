/**
 * FIFO waiting for `acquire`: one queue per key; only the head waiter sleeps, and it sleeps exactly until
 * its tokens are due (the backend's exact `retryAfter`), never polling. When the head is admitted (or
 * leaves: timeout, interruption) it hands the turn to the next waiter, which checks at once and, if needed,
 * sleeps exactly for its own wait. Under `TestClock` the wake-up time is therefore exact.
 *
 * A waiter that joins a non-empty queue learns its exact wait up front from `backend.simulate` (the queued
 * costs ahead of it, then its own, each admitted as early as possible in order); if that exceeds its
 * timeout it fails with `RateLimited` immediately instead of queueing. Anything that changes a key's state
 * out of band (penalty, reward, reset, an interval tick) `kick`s the head, which re-checks and re-computes
 * its sleep; a waiter whose deadline can no longer be met fails with `RateLimited`.
 *
 * Policy changes apply to queued waiters at once: a waiter holds the policy *name* it asked for (or none),
 * never a compiled policy, and every re-check resolves it again exactly as a new check with the same options
 * would (`PolicyRegistry.policyOf`); a policy change kicks the head of every queue. So a loosened limit admits
 * waiters at the change, a tightened one is never bypassed, and a waiter whose named policy was removed fails
 * with the `InvalidRateLimitInput` (`unknown policy`) a check naming it gets — one that named none follows
 * the key's provider policy, else the default policy.
 *
 * Plain `check` calls respect the queue: while waiters are queued on a key, a check is refused with the wait
 * it would have as the next waiter, so queued acquirers are never overtaken.
 *
 * Hand-rolled: Effect's RateLimiter only reports a delay (`onExceeded: "delay"`) and its `sleep` helper has
 * no ordering between waiters; rate-limiter-flexible's RateLimiterQueue polls.
 */
import { type Clock, Deferred, Duration, Effect } from "effect"
import { InvalidRateLimitInput, type RateLimited, type RateLimitStoreError } from "../RateLimitError.ts"
import type { CompiledPolicy } from "../RateLimitPolicy.ts"
import type { Allowed, Refusal } from "../RateLimitResult.ts"
import type { PolicyRegistry } from "./PolicyRegistry.ts"
import type { RateLimitBackend } from "./RateLimitBackend.ts"

interface Waiter {
  readonly cost: number
  /** the `policy` option of the `acquire` (resolved again on every re-check) */
  readonly policyName: string | undefined
  readonly deadline: number
  /** completed when this waiter becomes head (already done for a waiter that starts as head) */
  readonly turn: Deferred.Deferred<void>
  /** completed to make a sleeping head re-check now */
  kick: Deferred.Deferred<void> | undefined
}

/** Builds the `RateLimited` a refused waiter fails with. */
export type MakeLimited = (key: string, policy: CompiledPolicy, cost: number, refusal: Refusal) => RateLimited

/** The FIFO queue of `acquire` waiters per key: the head is served first, an interrupted waiter leaves at once. */
export class AcquireQueue {
  readonly queues = new Map<string, Array<Waiter>>()
  waiting = 0
  private arrived: Deferred.Deferred<void> | undefined = undefined

  /** Completed when the next acquirer queues (the interval ticker waits on it while nobody waits). */
  arrival(): Deferred.Deferred<void> {
    this.arrived ??= Deferred.makeUnsafe<void>()
    return this.arrived
  }
  private readonly backend: RateLimitBackend
  private readonly limited: MakeLimited
  private readonly clock: Clock.Clock
  private readonly registry: PolicyRegistry

  constructor(backend: RateLimitBackend, limited: MakeLimited, clock: Clock.Clock, registry: PolicyRegistry) {
    this.backend = backend
    this.limited = limited
    this.clock = clock
    this.registry = registry
    registry.onChange(() => this.kick())
  }

  /** True when acquirers are queued on `key` (checks must not overtake them). */
  hasWaiters(key: string): boolean {
    return this.queues.size !== 0 && this.queues.has(key)
  }

  /** The refusal a check of `cost` gets while waiters are queued: the wait it would have as the next waiter. */
  queuedRefusal(
    key: string,
    policy: CompiledPolicy,
    cost: number,
    now: number
  ): Effect.Effect<Refusal, RateLimitStoreError> {
    const queue = this.queues.get(key) ?? []
    return this.backend.simulate(key, policy, [...queue.map((w) => w.cost), cost], now)
  }

  /** Makes the head of `key`'s queue (or of every queue) re-check now. */
  kick(key?: string): void {
    if (key !== undefined) {
      this.kickHead(this.queues.get(key))
      return
    }
    for (const queue of this.queues.values()) this.kickHead(queue)
  }

  private kickHead(queue: Array<Waiter> | undefined): void {
    const head = queue?.[0]
    if (head?.kick !== undefined) Deferred.doneUnsafe(head.kick, Effect.void)
  }

  /**
   * Waits in FIFO order for `cost` on `key`, at most `timeoutMs` (Infinity: no limit). `policy` is what
   * `policyName` resolves to now (used to predict the wait); every re-check resolves `policyName` again.
   */
  acquire(
    key: string,
    policyName: string | undefined,
    policy: CompiledPolicy,
    cost: number,
    timeoutMs: number
  ): Effect.Effect<Allowed, RateLimited | InvalidRateLimitInput | RateLimitStoreError> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        // The place in line is taken synchronously, before any store I/O, so arrival order is FIFO order
        // even when the backend answers asynchronously (Redis).
        const now = this.clock.currentTimeMillisUnsafe()
        const queue = this.queues.get(key)
        const waiter: Waiter = {
          cost,
          policyName,
          deadline: now + timeoutMs,
          turn: Deferred.makeUnsafe<void>(),
          kick: undefined
        }
        let ahead: ReadonlyArray<number> = []
        if (queue === undefined || queue.length === 0) {
          Deferred.doneUnsafe(waiter.turn, Effect.void)
          this.queues.set(key, [waiter])
        } else {
          ahead = queue.map((w) => w.cost)
          queue.push(waiter)
        }
        this.waiting++
        if (this.arrived !== undefined) {
          Deferred.doneUnsafe(this.arrived, Effect.void)
          this.arrived = undefined
        }
        const predict = ahead.length === 0
          ? Effect.void
          : Effect.flatMap(this.backend.simulate(key, policy, [...ahead, cost], now), (predicted) =>
            !Number.isFinite(predicted.retryAfterMillis) || predicted.retryAfterMillis > timeoutMs
              ? Effect.fail(this.limited(key, policy, cost, predicted))
              : Effect.void)
        return predict.pipe(
          Effect.andThen(restore(this.wait(key, waiter))),
          Effect.onExit(() =>
            Effect.sync(() =>
              this.leave(key, waiter)
            )
          )
        )
      })
    )
  }

  private wait(
    key: string,
    waiter: Waiter
  ): Effect.Effect<Allowed, RateLimited | InvalidRateLimitInput | RateLimitStoreError> {
    const self = this
    return Effect.gen(function*() {
      yield* Deferred.await(waiter.turn)
      while (true) {
        // the policy in force now: a change since the last pass applies (see the module doc)
        const policy = self.registry.policyOf(key, waiter.policyName)
        if (policy instanceof InvalidRateLimitInput) return yield* Effect.fail(policy)
        const now = self.clock.currentTimeMillisUnsafe()
        const decision = yield* self.backend.consume(key, policy, waiter.cost, now)
        if (decision._tag === "Allowed") return decision
        if (!Number.isFinite(decision.retryAfterMillis) || now + decision.retryAfterMillis > waiter.deadline) {
          return yield* Effect.fail(self.limited(key, policy, waiter.cost, decision))
        }
        // sleep until an absolute due time, so time spent on store I/O is not added to the wait
        const due = now + decision.retryAfterMillis
        const kick = Deferred.makeUnsafe<void>()
        waiter.kick = kick
        yield* Effect.raceFirst(
          self.clock.sleep(Duration.millis(Math.max(0, due - self.clock.currentTimeMillisUnsafe()))),
          Deferred.await(kick)
        )
        waiter.kick = undefined
      }
    })
  }

  private leave(key: string, waiter: Waiter): void {
    this.waiting--
    const queue = this.queues.get(key)
    if (queue === undefined) return
    const index = queue.indexOf(waiter)
    if (index === -1) return
    queue.splice(index, 1)
    if (queue.length === 0) {
      this.queues.delete(key)
    } else if (index === 0) {
      // the queue is not empty (checked above)
      Deferred.doneUnsafe((queue[0] as Waiter).turn, Effect.void)
    }
  }
}
