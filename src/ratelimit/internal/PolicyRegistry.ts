/**
 * The named policies of one RateLimiter instance, replaceable at runtime without losing per-key state:
 * stores keep a reference to the compiled policy a key was last checked under, and migrate the key's state
 * tier by tier (matched by name) the first time they see a newer version (`TierState.migrate`).
 *
 * Resolution of a check's policy: the `policy` option if given; else the provider scope of the key
 * (`provider=anthropic|…` → policy `anthropic`) when such a policy exists; else the default policy. The
 * provider segment is matched as `RateLimitKey` writes it (each policy name escaped, or hashed for length,
 * the same way), so a provider whose name holds `%`, `|`, `=` or `#`, or is long, finds its policy.
 * Queued `acquire` callers resolve again on every re-check (see `AcquireQueue.ts`).
 *
 * Hand-rolled (Effect's RateLimiter takes limit/window per call and has no policy registry).
 */
import { Deferred, Effect } from "effect"
import { InvalidRateLimitInput } from "../RateLimitError.ts"
import { escapeSegment, providerSegmentOf } from "../RateLimitKey.ts"
import { type CompiledPolicy, decodePolicy, TierKind } from "../RateLimitPolicy.ts"

/** The compiled policies by name, with the default policy. */
export class PolicyRegistry {
  readonly byName = new Map<string, CompiledPolicy>()
  /** the policies by their name as a key's provider segment holds it (`RateLimitKey.escapeSegment`) */
  private bySegment = new Map<string, CompiledPolicy>()
  readonly defaultName: string
  /** bumped on every change; the interval ticker and waiters re-read policies when it moves */
  version = 0
  private listeners: Array<() => void> = []
  /** completed (and replaced) on every change: the interval ticker waits on it */
  changed: Deferred.Deferred<void> = Deferred.makeUnsafe<void>()

  constructor(defaultName: string) {
    this.defaultName = defaultName
  }

  /** Resolves the policy for a check (see module doc); `undefined` when a named policy does not exist. */
  resolve(key: string, name: string | undefined): CompiledPolicy | undefined {
    if (name !== undefined) return this.byName.get(name)
    if (key.charCodeAt(0) === 112 /* p */) {
      const segment = providerSegmentOf(key)
      if (segment !== undefined) {
        const found = this.bySegment.get(segment)
        if (found !== undefined) return found
      }
    }
    return this.byName.get(this.defaultName)
  }

  /** `resolve` for untrusted input: a name that is not a string or names no policy is a typed error. */
  policyOf(key: string, name: unknown): CompiledPolicy | InvalidRateLimitInput {
    if (name !== undefined && typeof name !== "string") {
      return InvalidRateLimitInput.at(["policy"], "Expected a policy name")
    }
    return this.resolve(key, name) ?? InvalidRateLimitInput.at(["policy"], `unknown policy "${String(name)}"`)
  }

  /** Decodes every entry first (all or nothing), then installs them; `replace` also drops unnamed ones. */
  install(
    input: Readonly<Record<string, unknown>>,
    replace: boolean
  ): Effect.Effect<
    { readonly names: ReadonlyArray<string>; readonly removed: ReadonlyArray<string> },
    InvalidRateLimitInput
  > {
    const self = this
    return Effect.gen(function*() {
      if (typeof input !== "object" || input === null || Array.isArray(input)) {
        return yield* InvalidRateLimitInput.at(["policies"], "Expected a record of policies by name")
      }
      const compiled: Array<CompiledPolicy> = []
      for (const [name, value] of Object.entries(input)) {
        if (name.length === 0 || name.length > 128) {
          return yield* InvalidRateLimitInput.at(["policies", name], "policy names must have 1 to 128 characters")
        }
        compiled.push(yield* decodePolicy(name, value, ["policies", name]))
      }
      const names = compiled.map((p) => p.name)
      if (replace && !names.includes(self.defaultName) && !self.byName.has(self.defaultName)) {
        return yield* InvalidRateLimitInput.at(
          ["policies", self.defaultName],
          `the default policy "${self.defaultName}" is missing`
        )
      }
      const removed: Array<string> = []
      if (replace) {
        for (const name of self.byName.keys()) {
          if (!names.includes(name) && name !== self.defaultName) removed.push(name)
        }
        for (const name of removed) self.byName.delete(name)
      }
      for (const policy of compiled) self.byName.set(policy.name, policy)
      self.bySegment = new Map([...self.byName.values()].map((p) => [escapeSegment(p.name), p]))
      self.version++
      const changed = self.changed
      self.changed = Deferred.makeUnsafe<void>()
      Deferred.doneUnsafe(changed, Effect.void)
      for (const listener of self.listeners) listener()
      return { names, removed }
    })
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener)
  }

  /** Distinct refill periods (ms) of interval buckets across all policies. */
  intervalPeriods(): ReadonlyArray<number> {
    const periods = new Set<number>()
    for (const policy of this.byName.values()) {
      for (const tier of policy.tiers) if (tier.kind === TierKind.BucketInterval) periods.add(tier.periodMs)
    }
    return [...periods]
  }
}
