/**
 * The memory backend: a `MemoryStore` behind the `RateLimitBackend` contract. Operations are synchronous;
 * the Effect-returning methods just wrap them (used by `acquire`, `status`, …), while `check` calls
 * `decideSync` directly. Process-local: for several instances use the Redis backend.
 */
import { Effect } from "effect"
import { MemoryStore } from "./MemoryStore.ts"
import type { RateLimitBackend } from "./RateLimitBackend.ts"

/** The in-process backend over a `MemoryStore` (synchronous, so every check is atomic). */
export const makeMemoryBackend = (store: MemoryStore = new MemoryStore()): RateLimitBackend => ({
  kind: "memory",
  memory: store,
  decideSync: (key, policy, cost, now) => store.decide(key, policy, cost, now),
  consume: (key, policy, cost, now) => Effect.sync(() => store.decideOrRefuse(key, policy, cost, now)),
  simulate: (key, policy, costs, now) => Effect.sync(() => store.simulate(key, policy, costs, now)),
  status: (key, policy, now) => Effect.sync(() => store.status(key, policy, now)),
  adjust: (key, policy, delta, now) => Effect.sync(() => store.adjust(key, policy, delta, now)),
  reset: (key) => Effect.sync(() => store.reset(key)),
  keys: () => store.size,
  evicted: () => store.evicted,
  sweep: (now) => store.sweep(now),
  tick: (now) => {
    store.tick(now)
  }
})
