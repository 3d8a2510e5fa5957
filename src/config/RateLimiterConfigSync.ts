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
 * Whether a change is a policy change is decided on the policies themselves, never on the changed paths (a
 * provider name may contain a `.`): the watcher compares the policies of each configuration it receives with the
 * ones it last installed, and installs them when they differ. The change feed is bounded (see `ConfigStore`), so a
 * slow watcher may miss intermediate changes, never the latest; comparing with what it last installed (not with
 * `change.previous`) means the latest policies are always the ones installed.
 *
 * The watcher is a supervised child (`Supervisor.start` + `ChildSpec.task` from troupe's runtime, OTP one-for-one):
 * a crash restarts it, and every (re)start subscribes first, then applies the current configuration, so the latest
 * configuration is never missed. A policy the limiter refuses (e.g. duplicate tier names) is logged and skipped;
 * the watcher keeps running, and tries again when the policies next change. `appliedVersion` tells callers (and
 * tests) which configuration version the limiter runs.
 */
import { Context, Effect, Layer, Stream, SubscriptionRef } from "effect"
import { RateLimiter } from "../ratelimit/index.ts"
import { ChildSpec, Supervisor } from "../runtime/index.ts"
import type { ConfigChange } from "./ConfigStore.ts"
import { ConfigStore } from "./ConfigStore.ts"
import type { RateLimitPolicy } from "./RateLimitPolicyRef.ts"
import { diffPaths } from "./RawTree.ts"
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

/** True if two sets of policies differ (compared structurally, as the store compares configurations). */
const policiesDiffer = (
  before: Readonly<Record<string, RateLimitPolicy>>,
  after: Readonly<Record<string, RateLimitPolicy>>
): boolean => diffPaths(before, after).length > 0

/** True if a change altered the policies the configuration asks for (compared by value, not by path). */
export const touchesRateLimits = (change: ConfigChange): boolean =>
  policiesDiffer(policiesOf(change.previous), policiesOf(change.config))

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
      const current = yield* store.get
      // the policies this watcher last installed (or tried to): each change is compared with them, not with
      // `change.previous`, because the bounded feed may have dropped the changes in between
      let installed = policiesOf(current)
      yield* apply(current, version)
      yield* changes.pipe(
        Stream.runForEach((change) => {
          const wanted = policiesOf(change.config)
          if (!policiesDiffer(installed, wanted)) return SubscriptionRef.set(applied, change.version)
          installed = wanted
          return apply(change.config, change.version)
        })
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
