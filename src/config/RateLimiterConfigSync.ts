/**
 * Live wiring from the ConfigStore to the RateLimiter: configured rate-limit policies are applied to the running
 * limiter as soon as they change, without a restart and without losing per-key state (the limiter migrates state
 * tier by tier).
 *
 * Policies taken from the configuration: every `rateLimits.<name>` entry, and `providers.<name>.rateLimit` under
 * the provider's name (which is how the limiter resolves a key's policy: `provider=openai|…` → policy `openai`);
 * the provider field wins over a `rateLimits` entry of the same name. They are laid over the limiter's own
 * policies as they were when the sync started (its built-in provider defaults), and installed with
 * `applyPolicies` (replace semantics), so removing a policy from the configuration falls back to the limiter's
 * built-in one.
 *
 * The watcher is a supervised child (`Supervisor.start` + `ChildSpec.task` from troupe's runtime, OTP one-for-one):
 * a crash restarts it, and every (re)start subscribes first, then applies the current configuration, so no change
 * is ever missed. A policy the limiter refuses (e.g. duplicate tier names) is logged and skipped; the watcher keeps
 * running. `appliedVersion` tells callers (and tests) which configuration version the limiter runs.
 */
import { Context, Effect, Layer, Stream, SubscriptionRef } from "effect"
import { RateLimiter } from "../ratelimit/index.ts"
import { ChildSpec, Supervisor } from "../runtime/index.ts"
import type { ConfigChange } from "./ConfigStore.ts"
import { ConfigStore } from "./ConfigStore.ts"
import type { RateLimitPolicy } from "./RateLimitPolicyRef.ts"
import type { TroupeConfig } from "./TroupeConfig.ts"

/** What the sync needs from a rate limiter (the RateLimiter service satisfies it). */
export interface PolicySink {
  readonly policies: Effect.Effect<ReadonlyMap<string, RateLimitPolicy>>
  readonly applyPolicies: (policies: Readonly<Record<string, RateLimitPolicy>>) => Effect.Effect<void, unknown>
}

/** The policies a configuration asks for, by name. */
export const policiesOf = (config: TroupeConfig): Record<string, RateLimitPolicy> => {
  const out: Record<string, RateLimitPolicy> = { ...config.rateLimits }
  for (const [name, provider] of Object.entries(config.providers)) {
    if (provider.rateLimit !== undefined) out[name] = provider.rateLimit
  }
  return out
}

/** True if a change touched a rate-limit policy. */
export const touchesRateLimits = (change: ConfigChange): boolean =>
  change.paths.some((path) => path.startsWith("rateLimits.") || /^providers\.[^.]+\.rateLimit(\.|$)/.test(path))

/** The sync's service: which configuration version the limiter currently runs. */
export class RateLimiterConfigSync extends Context.Service<RateLimiterConfigSync, {
  /** The last configuration version whose policies were applied (or skipped as unchanged). */
  readonly appliedVersion: Effect.Effect<number>
  /** Waits until the configuration version `version` (or a later one) is applied. */
  readonly awaitVersion: (version: number) => Effect.Effect<void>
}>()("troupe/RateLimiterConfigSync") {
  /** Syncs any {@link PolicySink} (used by tests and for limiters other than troupe's). */
  static readonly layerSink = (sink: PolicySink) => Layer.effect(RateLimiterConfigSync, make(sink))

  /** Syncs the RateLimiter service with the ConfigStore. */
  static readonly layer = Layer.effect(
    RateLimiterConfigSync,
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      return yield* make({ policies: limiter.policies, applyPolicies: limiter.applyPolicies })
    })
  )
}

const make = (sink: PolicySink) =>
  Effect.gen(function*() {
    const store = yield* ConfigStore
    const baseline = new Map(yield* sink.policies) // the limiter's own policies, before any configuration
    const applied = yield* SubscriptionRef.make(0)

    const apply = (config: TroupeConfig, version: number) =>
      sink.applyPolicies({ ...Object.fromEntries(baseline), ...policiesOf(config) }).pipe(
        Effect.tapError((error) =>
          Effect.logError(`rate-limit policies of configuration version ${version} were refused by the limiter`, error)
        ),
        Effect.ignore, // a refused policy is reported, not retried: the next configuration change tries again
        Effect.andThen(SubscriptionRef.set(applied, version)),
        Effect.annotateLogs({ service: "troupe/RateLimiterConfigSync" })
      )

    // subscribe first, then apply the current configuration: a change committed in between is seen twice, never lost
    const watch = Effect.scoped(Effect.gen(function*() {
      const changes = yield* store.subscribe
      const { version } = yield* store.stats
      yield* apply(yield* store.get, version)
      yield* changes.pipe(
        Stream.runForEach((change) =>
          touchesRateLimits(change)
            ? apply(change.config, change.version)
            : SubscriptionRef.set(applied, change.version)
        )
      )
    }))

    yield* Supervisor.start({
      name: "config-ratelimiter-sync",
      strategy: "oneForOne",
      children: [ChildSpec.task({ id: "policy-watcher", run: watch })]
    })

    return RateLimiterConfigSync.of({
      appliedVersion: SubscriptionRef.get(applied),
      awaitVersion: (version) =>
        SubscriptionRef.changes(applied).pipe(Stream.filter((v) => v >= version), Stream.take(1), Stream.runDrain)
    })
  })
