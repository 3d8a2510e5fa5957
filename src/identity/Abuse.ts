/**
 * Abuse detection and blocking: signals counted over sliding windows block a key, a principal or an IP for a
 * period, with escalating periods.
 *
 * Rules:
 * - a signal is one of `auth_failure`, `rate_limited`, `guardrail_hit`, `spend` (weight = the amount, e.g. USD),
 *   reported for the targets it concerns (`ip`, `key`, `principal`);
 * - the policy (`AbusePolicy`, Schema-validated, live-updatable with `setPolicy`) is a list of rules
 *   `{ signal, target, threshold, windowMs, blockMs, escalation, maxBlockMs }`: when the weights of one signal for
 *   one target within the last `windowMs` (a sliding window, read on the `Clock`) reach `threshold`, the target is
 *   blocked for `blockMs × escalation^(n-1)` (capped at `maxBlockMs`), n being its number of blocks so far;
 *   a bad policy fails `InvalidIdentityInput` naming the path and leaves the current one in force; any threshold
 *   is reachable: a window keeps a running total over at most `windowBuckets` (default 10,000) time buckets
 *   `windowMs / windowBuckets` wide (at least 1 ms, so with the default a window up to 10 s is exact to the millisecond), and a
 *   signal slides out with the last signal of its bucket (it may count up to one bucket width longer);
 * - `check(targets)` returns the active block of the first blocked target; an expired block is no block;
 * - `list()` lists the active blocks; `lift(target)` ends one (failing `KeyNotFound` when it is not blocked) and
 *   keeps the escalation count; with an `Audit` given, every block and every lift is audited (`abuse.block`,
 *   `abuse.lift`, tenant `_`);
 * - every table is bounded (`maxTracked`, default 100,000 targets; the oldest is forgotten first; a window holds
 *   at most `windowBuckets` + 2 buckets).
 *
 * - backends: `make` / `layerMemory` keep the state in the process; `makeRedis` / `layerRedis` keep the sliding
 *   logs, the blocks (with their expiry) and the escalation counts in Redis under `prefix` (effect's `Redis`
 *   service), so a block decided by one gateway process is seen by every other at once, the signals of all the
 *   processes count toward one threshold, and escalation is shared; each signal is one Lua script (read the window,
 *   add, compare, block: atomic); times are the callers' `Clock`s (keep them in sync), so `TestClock` drives both
 *   backends alike; the policy is per process (give every process the same one: logs are keyed by a hash of the
 *   policy, so processes on the same policy share them and a changed policy starts afresh); escalation counts live
 *   `offenseTtlMs` (default 30 days) after the last block; the index of the blocked targets (for `list`) drops the
 *   expired blocks at every block and keeps at most `maxTracked` (the soonest to expire go first; their blocks
 *   still hold for `check`); a Redis failure is logged and counts as no block (abuse
 *   blocking fails open rather than taking the gateway down).
 * Hand-rolled (a bucketed sliding window per rule and target, with a running total).
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import type { Redis } from "effect/persistence"
import type { AuditShape } from "./Audit.ts"
import { InvalidIdentityInput, KeyNotFound } from "./IdentityError.ts"
import { makeRedisState } from "./internal/AbuseRedis.ts"
import { toInvalidInput } from "./Keys.ts"

/** The abuse signals. */
export const AbuseSignal = Schema.Literals(["auth_failure", "rate_limited", "guardrail_hit", "spend"])
export type AbuseSignal = typeof AbuseSignal.Type

/** What a rule blocks. */
export const BlockTargetKind = Schema.Literals(["ip", "key", "principal"])
export type BlockTargetKind = typeof BlockTargetKind.Type

const Positive = Schema.Finite.check(Schema.isGreaterThan(0))

/** One rule: `threshold` of `signal` for one `target` within `windowMs` blocks it for an escalating period. */
export const AbuseRule = Schema.Struct({
  signal: AbuseSignal,
  target: BlockTargetKind,
  threshold: Positive,
  windowMs: Positive,
  blockMs: Positive,
  escalation: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(1))),
  maxBlockMs: Schema.optionalKey(Positive)
})
export type AbuseRule = typeof AbuseRule.Type

/** The abuse policy: a list of rules (Schema-validated data, from config or the admin API). */
export const AbusePolicy = Schema.Struct({ rules: Schema.Array(AbuseRule).check(Schema.isMaxLength(64)) })
export type AbusePolicy = typeof AbusePolicy.Type

/** The default policy: 100 auth failures per IP per minute, 20 per key, 50 refusals per key per minute. */
export const defaultPolicy: AbusePolicy = {
  rules: [
    {
      signal: "auth_failure",
      target: "ip",
      threshold: 100,
      windowMs: 60_000,
      blockMs: 60_000,
      escalation: 4,
      maxBlockMs: 86_400_000
    },
    {
      signal: "auth_failure",
      target: "key",
      threshold: 20,
      windowMs: 60_000,
      blockMs: 60_000,
      escalation: 4,
      maxBlockMs: 86_400_000
    },
    {
      signal: "rate_limited",
      target: "key",
      threshold: 50,
      windowMs: 60_000,
      blockMs: 60_000,
      escalation: 2,
      maxBlockMs: 3_600_000
    },
    {
      signal: "guardrail_hit",
      target: "principal",
      threshold: 10,
      windowMs: 600_000,
      blockMs: 600_000,
      escalation: 2,
      maxBlockMs: 86_400_000
    }
  ]
}

/** The targets a signal or a check concerns (any subset). */
export interface AbuseTargets {
  readonly ip?: string | undefined
  readonly key?: string | undefined
  readonly principal?: string | undefined
}

/** An active block. */
export interface Block {
  readonly kind: BlockTargetKind
  readonly id: string
  readonly until: number
  readonly offenses: number
  readonly reason: string
}

/** Abuse detection and blocking. */
export interface AbuseShape {
  /** Records a signal for its targets (a weight that is not a finite number counts as 0); returns the block it caused, if any. */
  readonly signal: (signal: AbuseSignal, targets: AbuseTargets, weight?: number) => Effect.Effect<Option.Option<Block>>
  /** The active block of the first blocked target (ip, key, principal), if any. */
  readonly check: (targets: AbuseTargets) => Effect.Effect<Option.Option<Block>>
  /** The active blocks. */
  readonly list: () => Effect.Effect<ReadonlyArray<Block>>
  /** Lifts a block; fails `KeyNotFound` when the target is not blocked. */
  readonly lift: (kind: BlockTargetKind, id: string) => Effect.Effect<Block, KeyNotFound>
  /** Replaces the policy; fails `InvalidIdentityInput` naming the path (the current policy stays). */
  readonly setPolicy: (policy: unknown) => Effect.Effect<AbusePolicy, InvalidIdentityInput>
  readonly policy: () => AbusePolicy
}

/** Options of `Abuse.make`. */
export interface AbuseOptions {
  readonly policy?: unknown
  readonly audit?: AuditShape
  readonly maxTracked?: number
  /**
   * How many time buckets each sliding window keeps (default 10,000): a window of `windowMs` is counted in buckets
   * `windowMs / windowBuckets` wide (at least 1 ms), and a signal slides out with the last signal of its bucket.
   */
  readonly windowBuckets?: number
}

/** The number of time buckets per sliding window of `options` (default 10,000, at least 1). */
export const windowBucketsOf = (options: AbuseOptions): number =>
  Math.max(1, Math.floor(options.windowBuckets ?? 10_000))

const targetsOf = (t: AbuseTargets): ReadonlyArray<readonly [BlockTargetKind, string]> => {
  const out: Array<readonly [BlockTargetKind, string]> = []
  if (t.ip !== undefined && t.ip !== "") out.push(["ip", t.ip])
  if (t.key !== undefined && t.key !== "") out.push(["key", t.key])
  if (t.principal !== undefined && t.principal !== "") out.push(["principal", t.principal])
  return out
}

/**
 * Where an abuse detector keeps its state (a backend): sliding logs, blocks and escalation counts.
 * @internal
 */
export interface AbuseState {
  /** Adds `weight` to the log of (rule, target); blocks the target when the window total reaches the threshold. */
  readonly record: (
    index: number,
    rule: AbuseRule,
    signal: AbuseSignal,
    kind: BlockTargetKind,
    id: string,
    now: number,
    weight: number
  ) => Effect.Effect<Block | undefined>
  readonly active: (
    targets: ReadonlyArray<readonly [BlockTargetKind, string]>,
    now: number
  ) => Effect.Effect<Block | undefined>
  readonly list: (now: number) => Effect.Effect<ReadonlyArray<Block>>
  /** Removes an active block (the escalation count stays); `undefined` when the target is not blocked. */
  readonly remove: (kind: BlockTargetKind, id: string, now: number) => Effect.Effect<Block | undefined>
  /** A new policy: the sliding logs start afresh. */
  readonly reset: (policy: AbusePolicy) => Effect.Effect<void>
}

/** The reason of a block caused by `rule`. */
export const reasonOf = (signal: AbuseSignal, rule: AbuseRule): string =>
  `${signal} >= ${rule.threshold} in ${rule.windowMs} ms`

/** The period of the `n`-th block of a target under `rule`: `blockMs × escalation^(n-1)`, capped at `maxBlockMs`. */
export const periodOf = (rule: AbuseRule, n: number): number =>
  Math.min(rule.blockMs * (rule.escalation ?? 2) ** (n - 1), rule.maxBlockMs ?? Number.MAX_SAFE_INTEGER)

/** The width (ms, at least 1) of the time buckets of a window of `windowMs` kept in `buckets` buckets. */
export const bucketWidthOf = (windowMs: number, buckets: number): number => Math.max(1, Math.ceil(windowMs / buckets))

/** One time bucket of a sliding window: its index (`at / width`), the time of its last signal, its weight. */
interface Bucket {
  readonly index: number
  last: number
  weight: number
}

/** A sliding window: its buckets, oldest first, and their running total. */
interface Window {
  readonly buckets: Array<Bucket>
  total: number
}

const memoryState = (maxTracked: number, windowBuckets: number): AbuseState => {
  // sliding windows: `rule index|kind|id` -> time buckets within the window and their total
  const logs = new Map<string, Window>()
  const blocks = new Map<string, Block>()
  const offenses = new Map<string, number>()
  const bounded = <V>(map: Map<string, V>, key: string, value: V) => {
    map.delete(key)
    map.set(key, value)
    if (map.size > maxTracked) map.delete(map.keys().next().value!)
  }
  const activeOne = (kind: BlockTargetKind, id: string, now: number): Block | undefined => {
    const b = blocks.get(`${kind}|${id}`)
    return b !== undefined && b.until > now ? b : undefined
  }
  /** Adds `weight` at `now` to `log` after sliding out the buckets whose last signal left the window. */
  const add = (log: Window, rule: AbuseRule, now: number, weight: number) => {
    const { buckets } = log
    let expired = 0
    while (expired < buckets.length && buckets[expired]!.last <= now - rule.windowMs) {
      log.total -= buckets[expired]!.weight
      expired++
    }
    if (expired > 0) buckets.splice(0, expired)
    if (buckets.length === 0) log.total = 0 // no drift of the running total past an empty window
    const index = Math.floor(now / bucketWidthOf(rule.windowMs, windowBuckets))
    const newest = buckets.at(-1)
    // a time earlier than the newest bucket's (a clock set back) counts in the newest bucket
    if (newest !== undefined && newest.index >= index) {
      newest.last = Math.max(newest.last, now)
      newest.weight += weight
    } else {
      buckets.push({ index, last: now, weight })
    }
    log.total += weight // the bucket indices only grow: a window spans at most windowBuckets + 2 buckets
  }
  return {
    record: (index, rule, sig, kind, id, now, weight) =>
      Effect.sync(() => {
        if (activeOne(kind, id, now) !== undefined) return undefined
        const logKey = `${index}|${kind}|${id}`
        const log = logs.get(logKey) ?? { buckets: [], total: 0 }
        add(log, rule, now, weight)
        if (log.total < rule.threshold) {
          bounded(logs, logKey, log)
          return undefined
        }
        logs.delete(logKey)
        const n = (offenses.get(`${kind}|${id}`) ?? 0) + 1
        bounded(offenses, `${kind}|${id}`, n)
        const block: Block = { kind, id, until: now + periodOf(rule, n), offenses: n, reason: reasonOf(sig, rule) }
        bounded(blocks, `${kind}|${id}`, block)
        return block
      }),
    active: (targets, now) =>
      Effect.sync(() => {
        for (const [kind, id] of targets) {
          const b = activeOne(kind, id, now)
          if (b !== undefined) return b
        }
        return undefined
      }),
    list: (now) => Effect.sync(() => [...blocks.values()].filter((b) => b.until > now)),
    remove: (kind, id, now) =>
      Effect.sync(() => {
        const b = activeOne(kind, id, now)
        if (b !== undefined) blocks.delete(`${kind}|${id}`)
        return b
      }),
    reset: () => Effect.sync(() => logs.clear())
  }
}

const decodePolicy = (policy: unknown) =>
  Schema.decodeUnknownEffect(AbusePolicy)(policy).pipe(Effect.mapError(toInvalidInput("policy")))

const makeWith = (
  options: AbuseOptions,
  makeState: (policy: AbusePolicy) => Effect.Effect<AbuseState>
): Effect.Effect<AbuseShape, InvalidIdentityInput> =>
  Effect.gen(function*() {
    let policy = yield* decodePolicy(options.policy ?? defaultPolicy)
    const state = yield* makeState(policy)
    const audit = (action: string, block: Block, status: "success" | "denied") =>
      options.audit === undefined ? Effect.void : options.audit.record({
        tenant: "_",
        actor: "system:abuse",
        action,
        resource: `${block.kind}:${block.id}`.slice(0, 512),
        status,
        metadata: { until: block.until, offenses: block.offenses, reason: block.reason }
      }).pipe(Effect.ignore)

    const signal: AbuseShape["signal"] = (sig, targets, given = 1) =>
      Effect.gen(function*() {
        const weight = Number.isFinite(given) ? given : 0 // a NaN would stick in the window's running total
        const now = yield* Clock.currentTimeMillis
        const current = policy
        let caused: Block | undefined
        for (const [index, rule] of current.rules.entries()) {
          if (rule.signal !== sig) continue
          for (const [kind, id] of targetsOf(targets)) {
            if (kind !== rule.target) continue
            const block = yield* state.record(index, rule, sig, kind, id, now, weight)
            caused ??= block
          }
        }
        if (caused !== undefined) yield* audit("abuse.block", caused, "success")
        return Option.fromUndefinedOr(caused)
      })

    return {
      signal,
      check: (targets) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => state.active(targetsOf(targets), now)).pipe(
          Effect.map(Option.fromUndefinedOr)
        ),
      list: () => Effect.flatMap(Clock.currentTimeMillis, state.list),
      lift: (kind, id) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const b = yield* state.remove(kind, id, now)
          if (b === undefined) return yield* new KeyNotFound({ tenant: "_", keyId: `${kind}:${id}` })
          yield* audit("abuse.lift", b, "success")
          return b
        }),
      setPolicy: (input) =>
        decodePolicy(input).pipe(Effect.tap((p) =>
          Effect.suspend(() => {
            policy = p
            return state.reset(p)
          })
        )),
      policy: () => policy
    }
  })

/** Builds the in-process abuse detector. Fails `InvalidIdentityInput` when the initial policy is invalid. */
export const make = (options: AbuseOptions = {}): Effect.Effect<AbuseShape, InvalidIdentityInput> =>
  makeWith(options, () => Effect.succeed(memoryState(options.maxTracked ?? 100_000, windowBucketsOf(options))))

/** Options of `Abuse.makeRedis`: those of `make`, the key prefix and how long escalation counts are kept. */
export interface AbuseRedisOptions extends AbuseOptions {
  /** Prefix of every key (default `troupe:abuse:`). */
  readonly prefix?: string
  /** How long a target's escalation count lives after its last block (default 30 days). */
  readonly offenseTtlMs?: number
}

/**
 * Builds the abuse detector over Redis (shared by every process on the same prefix). Fails
 * `InvalidIdentityInput` when the initial policy is invalid.
 */
export const makeRedis = (
  options: AbuseRedisOptions = {}
): Effect.Effect<AbuseShape, InvalidIdentityInput, Redis.Redis> =>
  Effect.flatMap(
    Effect.context<Redis.Redis>(),
    (context) =>
      makeWith(options, (policy) =>
        makeRedisState({
          prefix: options.prefix ?? "troupe:abuse:",
          offenseTtlMs: options.offenseTtlMs ?? 30 * 86_400_000,
          maxTracked: Math.max(1, Math.floor(options.maxTracked ?? 100_000)),
          windowBuckets: windowBucketsOf(options),
          policy
        }).pipe(
          Effect.provideContext(context)
        ))
  )

/** The abuse detector as a service (what `layerMemory` and `layerRedis` provide). */
export class Detector extends Context.Service<Detector, AbuseShape>()("troupe/identity/Abuse/Detector") {}

/** The in-process detector as a layer. Fails `InvalidIdentityInput` when the initial policy is invalid. */
export const layerMemory = (options: AbuseOptions = {}): Layer.Layer<Detector, InvalidIdentityInput> =>
  Layer.effect(Detector, make(options))

/** The detector over Redis as a layer. Fails `InvalidIdentityInput` when the initial policy is invalid. */
export const layerRedis = (options: AbuseRedisOptions = {}): Layer.Layer<Detector, InvalidIdentityInput, Redis.Redis> =>
  Layer.effect(Detector, makeRedis(options))
