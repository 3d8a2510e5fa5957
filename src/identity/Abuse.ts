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
 *   a bad policy fails `InvalidIdentityInput` naming the path and leaves the current one in force;
 * - `check(targets)` returns the active block of the first blocked target; an expired block is no block;
 * - `list()` lists the active blocks; `lift(target)` ends one (failing `KeyNotFound` when it is not blocked) and
 *   keeps the escalation count; with an `Audit` given, every block and every lift is audited (`abuse.block`,
 *   `abuse.lift`, tenant `_`);
 * - every table is bounded (`maxTracked`, default 100,000 targets; the oldest is forgotten first).
 *
 * Not yet: sharing blocks through Redis across gateway processes (the state is per process).
 * Hand-rolled (a sliding log per rule and target, like the sliding-window limiter of src/ratelimit).
 *
 * @since 0.1.0
 */
import { Clock, Effect, Option, Schema } from "effect"
import type { AuditShape } from "./Audit.ts"
import { InvalidIdentityInput, KeyNotFound } from "./IdentityError.ts"
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
    { signal: "auth_failure", target: "ip", threshold: 100, windowMs: 60_000, blockMs: 60_000, escalation: 4, maxBlockMs: 86_400_000 },
    { signal: "auth_failure", target: "key", threshold: 20, windowMs: 60_000, blockMs: 60_000, escalation: 4, maxBlockMs: 86_400_000 },
    { signal: "rate_limited", target: "key", threshold: 50, windowMs: 60_000, blockMs: 60_000, escalation: 2, maxBlockMs: 3_600_000 },
    { signal: "guardrail_hit", target: "principal", threshold: 10, windowMs: 600_000, blockMs: 600_000, escalation: 2, maxBlockMs: 86_400_000 }
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
  /** Records a signal for its targets; returns the block it caused, if any. */
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
}

const targetsOf = (t: AbuseTargets): ReadonlyArray<readonly [BlockTargetKind, string]> => {
  const out: Array<readonly [BlockTargetKind, string]> = []
  if (t.ip !== undefined && t.ip !== "") out.push(["ip", t.ip])
  if (t.key !== undefined && t.key !== "") out.push(["key", t.key])
  if (t.principal !== undefined && t.principal !== "") out.push(["principal", t.principal])
  return out
}

/** Builds the in-process abuse detector. Fails `InvalidIdentityInput` when the initial policy is invalid. */
export const make = (options: AbuseOptions = {}): Effect.Effect<AbuseShape, InvalidIdentityInput> =>
  Effect.gen(function*() {
    const decode = (policy: unknown) =>
      Schema.decodeUnknownEffect(AbusePolicy)(policy).pipe(Effect.mapError(toInvalidInput("policy")))
    let policy = yield* decode(options.policy ?? defaultPolicy)
    const maxTracked = options.maxTracked ?? 100_000
    // sliding logs: `rule index|kind|id` -> [time, weight] pairs within the window
    const logs = new Map<string, Array<readonly [number, number]>>()
    const blocks = new Map<string, Block>()
    const offenses = new Map<string, number>()
    const bounded = <V>(map: Map<string, V>, key: string, value: V) => {
      map.delete(key)
      map.set(key, value)
      if (map.size > maxTracked) map.delete(map.keys().next().value!)
    }
    const audit = (action: string, block: Block, status: "success" | "denied") =>
      options.audit === undefined ? Effect.void : options.audit.record({
        tenant: "_",
        actor: "system:abuse",
        action,
        resource: `${block.kind}:${block.id}`.slice(0, 512),
        status,
        metadata: { until: block.until, offenses: block.offenses, reason: block.reason }
      }).pipe(Effect.ignore)

    const active = (kind: BlockTargetKind, id: string, now: number): Block | undefined => {
      const b = blocks.get(`${kind}|${id}`)
      return b !== undefined && b.until > now ? b : undefined
    }

    const signal: AbuseShape["signal"] = (sig, targets, weight = 1) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        let caused: Block | undefined
        policy.rules.forEach((rule, index) => {
          if (rule.signal !== sig) return
          for (const [kind, id] of targetsOf(targets)) {
            if (kind !== rule.target || active(kind, id, now) !== undefined) continue
            const logKey = `${index}|${kind}|${id}`
            const log = (logs.get(logKey) ?? []).filter(([at]) => at > now - rule.windowMs)
            log.push([now, weight])
            const total = log.reduce((s, [, w]) => s + w, 0)
            if (total < rule.threshold) {
              bounded(logs, logKey, log.length > 10_000 ? log.slice(-10_000) : log)
              continue
            }
            logs.delete(logKey)
            const n = (offenses.get(`${kind}|${id}`) ?? 0) + 1
            bounded(offenses, `${kind}|${id}`, n)
            const ms = Math.min(rule.blockMs * (rule.escalation ?? 2) ** (n - 1), rule.maxBlockMs ?? Number.MAX_SAFE_INTEGER)
            const block: Block = { kind, id, until: now + ms, offenses: n, reason: `${sig} >= ${rule.threshold} in ${rule.windowMs} ms` }
            bounded(blocks, `${kind}|${id}`, block)
            caused ??= block
          }
        })
        if (caused !== undefined) yield* audit("abuse.block", caused, "success")
        return Option.fromUndefinedOr(caused)
      })

    return {
      signal,
      check: (targets) =>
        Clock.currentTimeMillis.pipe(Effect.map((now) => {
          for (const [kind, id] of targetsOf(targets)) {
            const b = active(kind, id, now)
            if (b !== undefined) return Option.some(b)
          }
          return Option.none()
        })),
      list: () => Clock.currentTimeMillis.pipe(Effect.map((now) => [...blocks.values()].filter((b) => b.until > now))),
      lift: (kind, id) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const b = active(kind, id, now)
          if (b === undefined) return yield* new KeyNotFound({ tenant: "_", keyId: `${kind}:${id}` })
          blocks.delete(`${kind}|${id}`)
          yield* audit("abuse.lift", b, "success")
          return b
        }),
      setPolicy: (input) => decode(input).pipe(Effect.tap((p) => Effect.sync(() => { policy = p; logs.clear() }))),
      policy: () => policy
    }
  })
