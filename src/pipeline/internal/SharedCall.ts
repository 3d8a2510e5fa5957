/**
 * The rules of a call shared by identical callers — the response cache's single-flight (`ResponseCacheStep`) and
 * `CoalesceStep` — stated once here, applied by both:
 *
 * - **Each caller of a shared call is bounded by its own deadline**: a waiter whose deadline passes fails with its
 *   own `CallDeadlineExceeded` and only leaves the shared call; the leader and the other waiters go on. The
 *   `Llm` pipeline hands each step the caller's bound (`CallerDeadline`, see `CallDeadline.ts`).
 * - **A leader's own deadline or refusal is not handed to waiters**: a failure that belongs to the leader's own
 *   options — its `CallDeadlineExceeded`, a `BudgetExceeded` of its scopes (its `user` is not in the key), an
 *   `InvalidLlmRequest` of its budget scopes, a `RateLimitRefused` of its key, a `QueueFull` or `Shed` of its queue
 *   priority — is the leader's only: a waiter with time left runs the call itself (it becomes a new leader).
 * - **An answer or a provider error of the shared call is every waiter's**: that is the point of sharing. The shared
 *   call is made with the leader's retries and fallbacks (and its hedge and queue priority): a provider error they
 *   left (a `ProviderError`, an open circuit, a store failure) is every waiter's.
 * - **An interrupted leader does not fail its waiters** (the cache's single-flight: a waiter runs the call itself;
 *   `CoalesceStep`: the shared call runs in its own fiber and goes on while anyone waits).
 *
 * Mirrors Go's `singleflight`, whose callers each keep their own context deadline.
 *
 * @internal
 */
import type { Effect } from "effect"
import { Cause, Option } from "effect"
import { BudgetExceeded } from "../../budget/index.ts"
import { InvalidLlmRequest } from "../../llm/index.ts"
import { QueueFull, Shed } from "../../queue/index.ts"
import { CallDeadlineExceeded, RateLimitRefused } from "../PipelineError.ts"

/** Bounds what one caller of a shared call waits for by that caller's own deadline. */
export type CallerDeadline = <A, E>(self: Effect.Effect<A, E>) => Effect.Effect<A, E | CallDeadlineExceeded>

/** Whether a shared call's failure belongs to the options of the caller that made it (see the module doc). */
export const isLeadersOwn = (cause: Cause.Cause<unknown>): boolean => {
  const error = Cause.findErrorOption(cause)
  if (Option.isNone(error)) return false
  const e = error.value
  return e instanceof CallDeadlineExceeded || e instanceof BudgetExceeded || e instanceof RateLimitRefused ||
    e instanceof QueueFull || e instanceof Shed || e instanceof InvalidLlmRequest
}
