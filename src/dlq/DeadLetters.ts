/**
 * The dead-letter queue (`troupe/dlq`): requests and agent turns that failed permanently — after their retries and
 * fallbacks — are recorded with their input (secrets masked), error, attempts and timestamps, and can be listed,
 * inspected, redriven and purged through this service and the gateway's admin endpoints (`GET /admin/dlq`,
 * `GET /admin/dlq/stats`, `GET /admin/dlq/{id}`, `POST /admin/dlq/redrive`, `DELETE /admin/dlq`).
 *
 * Rules:
 * - record is once per id: recording an id the queue holds is a no-op (the first letter is kept).
 * - redrive hands a `dead` letter to the layer's `redrive` handler. It first claims the letter (status `dead` →
 *   `redriving`, stamped `claimedAt`, a compare-and-set in the backend on the version read — status, `redrives`
 *   count and claim stamp — so a claim from a stale read loses), so a letter is redriven at most once at a time
 *   across processes and no attempt is lost; on success it becomes `redriven` (a tombstone, kept until purged), on
 *   failure it is `dead` again with `redrives + 1` and the new error. Redrive is idempotent: redriving a `redriven`
 *   letter, or a `redriving` one within its lease, is skipped.
 * - a claim is a lease of `redriveLease` (default 5 minutes, from `claimedAt`): a `redriving` letter past it — its
 *   redrive's process was killed, or its handler outlasted the lease — is redrivable again, taken over by the same
 *   compare-and-set (on the old claim's stamp, so of two takeovers one wins). The redrive that lost its claim then
 *   finds the letter changed and its final write is dropped (its handler may have run: pick a lease longer than the
 *   handler's longest run). A `redriving` letter without a stamp (claimed before leases existed) is past its lease.
 *   The lease compares the clocks of the processes sharing a backend (keep them in sync, as for any lease).
 * - redrive of many (a filter, or all) runs one letter at a time, at most `ratePerSecond` letters per second
 *   (default 10), oldest first. A letter whose own stored form cannot be read or claimed (the backend's error names
 *   it) is `skipped` with the `reason`, and the run goes on; a failure of the backend itself ends it.
 * - purge removes the letters a filter selects (all when empty), whatever their status.
 * - metrics: `troupe_dlq_depth` (letters not yet redriven: `dead` or `redriving`) and
 *   `troupe_dlq_oldest_age_seconds` (now minus the `deadAt` of the oldest of them; 0 when none), both gauges with
 *   attribute `queue` (the layer's `name`), set by every `stats` and after every record, redrive and purge of this
 *   process (another process's changes show at this one's next change or `stats`; the gateway's
 *   `GET /admin/dlq/stats` calls `stats`).
 *
 * Backends: `layerMemory` (default, at most 10,000 letters; past that the oldest is dropped), `layerRedis` (a Redis
 * stream plus three hashes, one Lua script per change) and `layerPostgres` (one table), behind one conformance suite;
 * in Redis and PostgreSQL a letter's version sits beside it, so a claim never parses the letter.
 *
 * Why not effect's `PersistedQueue` alone: it marks an element whose attempts are exhausted as failed and keeps it
 * only for `layerCleanup` to delete — nothing lists, inspects or redrives failed elements, and offering an element
 * again under its id is a silent no-op (the id is de-duplicated forever), so a fixed request could never be re-run
 * under its own id. test/dlq/PersistedQueueGap.test.ts shows the re-offer no-op; this queue fills the gap.
 */
import { Clock, Context, Duration, Effect, Layer, Metric, Schema } from "effect"
import { Redis } from "effect/persistence"
import { SqlClient } from "effect/sql"
import { randomUUID } from "node:crypto"
import { AFunction, DurationInput, invalid, validate } from "../runtime/internal/Options.ts"
import type { InvalidOptions } from "../runtime/RuntimeError.ts"
import type { DeadLetter, DeadLetterKind, DeadLetterStatus } from "./DeadLetter.ts"
import { DeadLetterFilter, describeError, matches, sanitizeInput } from "./DeadLetter.ts"
import { DeadLetterNotFound, type DlqStoreError } from "./DlqError.ts"
import type { DlqStoreShape } from "./internal/DlqStore.ts"
import { makeMemoryDlqStore } from "./internal/MemoryDlqStore.ts"
import { makePostgresDlqStore } from "./internal/PostgresDlqStore.ts"
import { makeRedisDlqStore } from "./internal/RedisDlqStore.ts"

/** What `record` takes: the failed input and its error; `id` defaults to a random UUID, `firstFailedAt` to now. */
export interface DeadLetterEntry {
  readonly id?: string
  readonly kind: DeadLetterKind
  readonly source: string
  readonly input: unknown
  readonly error: unknown
  readonly attempts: number
  readonly firstFailedAt?: number
}

/** The outcome of redriving one letter. */
export interface RedriveOutcome {
  readonly id: string
  /**
   * `redriven`: the handler succeeded; `failed`: it failed (the letter is dead again); `skipped`: not redrivable
   * (`redriven`, or `redriving` within its lease), or its stored form could not be read or claimed (`reason`).
   */
  readonly result: "redriven" | "failed" | "skipped"
  /** Why a `skipped` letter could not be claimed, when it was redrivable but its stored form failed (never its input). */
  readonly reason?: string
}

/** Options of a redrive of many letters. */
export interface RedriveOptions {
  /** At most this many letters per second (default 10). */
  readonly ratePerSecond?: number
  /** At most this many letters (default all selected). */
  readonly limit?: number
}

/**
 * Depth (letters not yet redriven: `dead` or `redriving`), the age of the oldest of them by `deadAt` (0 when none),
 * the total held (tombstones included), the depth per kind and the count per status.
 */
export interface DlqStats {
  readonly depth: number
  readonly oldestAgeMillis: number
  readonly total: number
  readonly byKind: Readonly<Record<DeadLetterKind, number>>
  readonly byStatus: Readonly<Record<DeadLetterStatus, number>>
}

/** The handler a redrive hands a letter to (the layer's `redrive` option). */
export type RedriveHandler = (letter: DeadLetter) => Effect.Effect<unknown, unknown>

/** The dead-letter queue. */
export interface DeadLettersShape {
  /**
   * Records a permanently failed input (masked); the stored letter (the earlier one when the id is held). Fails
   * with `DlqStoreError` when the Redis or PostgreSQL backend fails the insert, or, for an id already held, fails
   * to read the earlier letter or that letter no longer decodes (the memory backend never fails).
   */
  readonly record: (entry: DeadLetterEntry) => Effect.Effect<DeadLetter, DlqStoreError>
  /**
   * Letters a filter selects, oldest first (at most `limit`, default 100). Fails with `DlqStoreError` when the
   * Redis or PostgreSQL backend fails to read the letters or a stored letter no longer decodes (memory never fails).
   */
  readonly list: (filter?: DeadLetterFilter, limit?: number) => Effect.Effect<ReadonlyArray<DeadLetter>, DlqStoreError>
  /**
   * One letter; `DeadLetterNotFound` when the id is unknown. Fails with `DlqStoreError` when the Redis or
   * PostgreSQL backend fails the read or the stored letter no longer decodes.
   */
  readonly inspect: (id: string) => Effect.Effect<DeadLetter, DlqStoreError | DeadLetterNotFound>
  /**
   * Redrives one letter; `DeadLetterNotFound` when the id is unknown. A failing handler is no error (the outcome is
   * `failed`, the letter dead again); a letter not redrivable is `skipped`, and so is one whose stored form cannot be
   * read or claimed (with its `reason`). Fails with `DlqStoreError` when the Redis or PostgreSQL backend fails the
   * read, the claim or the final status write.
   */
  readonly redrive: (id: string) => Effect.Effect<RedriveOutcome, DlqStoreError | DeadLetterNotFound>
  /**
   * Redrives the redrivable letters a filter selects (all when empty: `dead` ones, and `redriving` ones past their
   * lease), oldest first, at most `ratePerSecond`. Failing handlers are outcomes, not errors, and a letter whose
   * stored form cannot be read or claimed is `skipped` with its `reason`. Fails with `DlqStoreError` at the first
   * failure of the backend itself (the selection, a re-read, a claim or a status write); the letters redriven before
   * it keep their new status.
   */
  readonly redriveMany: (
    filter?: DeadLetterFilter,
    options?: RedriveOptions
  ) => Effect.Effect<ReadonlyArray<RedriveOutcome>, DlqStoreError>
  /**
   * Removes the letters a filter selects (all when empty); the number removed. Fails with `DlqStoreError` when the
   * Redis or PostgreSQL backend fails to read the letters (or one no longer decodes) or fails the removal.
   */
  readonly purge: (filter?: DeadLetterFilter) => Effect.Effect<number, DlqStoreError>
  /**
   * Depth and age, also published as metrics. Fails with `DlqStoreError` when the Redis or PostgreSQL backend fails
   * to read the letters or a stored letter no longer decodes (the gauges are then not updated).
   */
  readonly stats: () => Effect.Effect<DlqStats, DlqStoreError>
}

/** Options of every DLQ layer. */
export interface DeadLettersOptions {
  /** Where a redrive hands a letter (default: a handler that fails, so letters stay dead). */
  readonly redrive?: RedriveHandler
  /** Label of the metric series (`queue` attribute; default `default`). */
  readonly name?: string
  /**
   * How long a redrive's claim holds (default 5 minutes, above 0): a `redriving` letter claimed longer ago is
   * redrivable again (its redrive is taken to be lost). Longer than the redrive handler's longest run.
   */
  readonly redriveLease?: Duration.Input
}

const OptionsSchema = Schema.Struct({
  redrive: Schema.optional(AFunction),
  name: Schema.optional(Schema.String),
  redriveLease: Schema.optional(DurationInput)
})

/** The lease in milliseconds of decoded options, or the `InvalidOptions` naming the bad field. */
const leaseOf = (options: DeadLettersOptions): Effect.Effect<number, InvalidOptions> =>
  Effect.gen(function*() {
    const o = yield* Effect.fromResult(validate(OptionsSchema, options, "dead-letter queue options"))
    const lease = Duration.toMillis(Duration.fromInputUnsafe(o.redriveLease ?? "5 minutes")) // decoded: a duration
    if (!(lease > 0)) return yield* invalid("dead-letter queue options", "redriveLease", "expected a duration above 0")
    return lease
  })

const depthGauge = Metric.gauge("troupe_dlq_depth", { description: "dead letters not yet redriven" })
const ageGauge = Metric.gauge("troupe_dlq_oldest_age_seconds", {
  description: "age of the oldest dead letter not yet redriven"
})

const noHandler: RedriveHandler = () => Effect.fail(new Error("no redrive handler configured"))

const make = (store: DlqStoreShape, options: DeadLettersOptions, leaseMillis: number): DeadLettersShape => {
  const handler = options.redrive ?? noHandler
  const attributes = { queue: options.name ?? "default" }
  const stats = () =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const all = yield* store.all()
      const waiting = all.filter((l) => l.status !== "redriven")
      const oldest = waiting.reduce((min, l) => Math.min(min, l.deadAt), Number.POSITIVE_INFINITY)
      const byKind = { request: 0, turn: 0 }
      for (const l of waiting) byKind[l.kind]++
      const byStatus = { dead: 0, redriving: 0, redriven: 0 }
      for (const l of all) byStatus[l.status]++
      const s: DlqStats = {
        depth: waiting.length,
        oldestAgeMillis: waiting.length === 0 ? 0 : Math.max(0, now - oldest),
        total: all.length,
        byKind,
        byStatus
      }
      yield* Metric.update(Metric.withAttributes(depthGauge, attributes), s.depth)
      yield* Metric.update(Metric.withAttributes(ageGauge, attributes), s.oldestAgeMillis / 1000)
      return s
    })
  const publish = <A, E>(effect: Effect.Effect<A, E>) => Effect.tap(effect, () => Effect.ignore(stats()))

  // `dead`, or `redriving` past its lease (or with no stamp: claimed before leases)
  const redrivable = (l: DeadLetter, now: number): boolean =>
    l.status === "dead" ||
    (l.status === "redriving" && (l.claimedAt === undefined || now - l.claimedAt >= leaseMillis))

  const redriveLetter = (letter: DeadLetter): Effect.Effect<RedriveOutcome, DlqStoreError> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const claimedAt = yield* Clock.currentTimeMillis
        if (!redrivable(letter, claimedAt)) return { id: letter.id, result: "skipped" } as const
        const { claimedAt: _stale, ...base } = letter
        const claimed: DeadLetter = { ...base, status: "redriving", claimedAt }
        const read = { status: letter.status, redrives: letter.redrives, claimedAt: letter.claimedAt }
        if (!(yield* store.swap(read, claimed))) return { id: letter.id, result: "skipped" } as const
        const exit = yield* Effect.exit(restore(Effect.suspend(() => handler(claimed))))
        const now = yield* Clock.currentTimeMillis
        // settles our claim only: one taken over since (our lease ran out) is left to its new holder
        const held = { status: "redriving", redrives: letter.redrives, claimedAt } as const
        if (exit._tag === "Success") {
          yield* store.swap(held, { ...base, status: "redriven", redrives: letter.redrives + 1, redrivenAt: now })
          return { id: letter.id, result: "redriven" } as const
        }
        const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
        const error = failure !== undefined && failure._tag === "Fail"
          ? describeError(failure.error)
          : { tag: "Interrupted", message: "redrive interrupted or died" }
        yield* store.swap(held, {
          ...base,
          status: "dead",
          redrives: letter.redrives + 1,
          attempts: letter.attempts + 1,
          error
        })
        return { id: letter.id, result: "failed" } as const
      })
    )

  // a letter whose own stored form fails (the store's error names it) is skipped with the reason, not an error
  const letterSkipped = (id: string) => (e: DlqStoreError): Effect.Effect<RedriveOutcome, DlqStoreError> =>
    e.id === id ? Effect.succeed({ id, result: "skipped", reason: e.detail }) : Effect.fail(e)

  const selected = (filter: DeadLetterFilter) => Effect.map(store.all(), (all) => all.filter((l) => matches(filter, l)))

  return {
    record: (entry) =>
      publish(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const letter: DeadLetter = {
          id: entry.id ?? randomUUID(),
          kind: entry.kind,
          source: entry.source,
          input: sanitizeInput(entry.input),
          error: describeError(entry.error),
          attempts: Math.max(1, Math.trunc(entry.attempts)),
          firstFailedAt: entry.firstFailedAt ?? now,
          deadAt: now,
          status: "dead",
          redrives: 0
        }
        if (yield* store.put(letter)) return letter
        return (yield* store.get(letter.id)) ?? letter
      })),
    list: (filter = {}, limit = 100) => Effect.map(selected(filter), (ls) => ls.slice(0, Math.max(0, limit))),
    inspect: (id) =>
      Effect.flatMap(
        store.get(id),
        (l) => l === undefined ? Effect.fail(new DeadLetterNotFound({ id })) : Effect.succeed(l)
      ),
    redrive: (id) =>
      publish(
        Effect.flatMap(
          store.get(id),
          (l): Effect.Effect<RedriveOutcome, DlqStoreError | DeadLetterNotFound> =>
            l === undefined ? Effect.fail(new DeadLetterNotFound({ id })) : redriveLetter(l)
        ).pipe(Effect.catchTag("DlqStoreError", letterSkipped(id)))
      ),
    redriveMany: (filter = {}, redriveOptions = {}) =>
      publish(Effect.gen(function*() {
        const rate = redriveOptions.ratePerSecond ?? 10
        const gap = Duration.millis(rate > 0 ? 1000 / rate : 0)
        const now = yield* Clock.currentTimeMillis
        const letters = (yield* selected(filter)).filter((l) => redrivable(l, now)).slice(0, redriveOptions.limit)
        const out: Array<RedriveOutcome> = []
        for (let i = 0; i < letters.length; i++) {
          if (i > 0) yield* Effect.sleep(gap)
          const id = (letters[i] as DeadLetter).id // i < length
          const outcome = yield* Effect.catch(
            Effect.flatMap(store.get(id), (fresh) => fresh === undefined ? Effect.undefined : redriveLetter(fresh)),
            letterSkipped(id)
          )
          if (outcome !== undefined) out.push(outcome)
        }
        return out
      })),
    purge: (filter = {}) => publish(Effect.flatMap(selected(filter), (ls) => store.remove(ls.map((l) => l.id)))),
    stats
  }
}

/** Decodes an untrusted filter (the admin API's query or body). */
export const decodeFilter = Schema.decodeUnknownEffect(DeadLetterFilter)

/**
 * The dead-letter queue service.
 *
 * @example
 * ```ts
 * Effect.gen(function*() {
 *   const dlq = yield* DeadLetters
 *   yield* dlq.record({ kind: "request", source: "gpt-4o", input: body, error, attempts: 3 })
 *   yield* dlq.redriveMany({ source: "gpt-4o" }, { ratePerSecond: 5 })
 * }).pipe(Effect.provide(DeadLetters.layerMemory({ redrive: (l) => resend(l.input) })))
 * ```
 */
export class DeadLetters extends Context.Service<DeadLetters, DeadLettersShape>()("troupe/dlq/DeadLetters") {
  /**
   * In process memory, at most `maxLetters` (default 10,000); past that the oldest letter is dropped. Building fails
   * with `InvalidOptions` when an option is not of its type (a `redriveLease` that is not a duration above 0).
   */
  static readonly layerMemory = (
    options: DeadLettersOptions & { readonly maxLetters?: number } = {}
  ): Layer.Layer<DeadLetters, InvalidOptions> =>
    Layer.effect(
      DeadLetters,
      Effect.map(
        leaseOf(options),
        (lease) => make(makeMemoryDlqStore(Math.max(1, options.maxLetters ?? 10_000)), options, lease)
      )
    )

  /**
   * On Redis (`Redis` from `effect/persistence`): a stream and three hashes under `prefix` (default `troupe:dlq:`).
   * Building fails with `InvalidOptions` when an option is not of its type.
   */
  static readonly layerRedis = (
    options: DeadLettersOptions & { readonly prefix?: string } = {}
  ): Layer.Layer<DeadLetters, InvalidOptions, Redis.Redis> =>
    Layer.effect(
      DeadLetters,
      Effect.gen(function*() {
        const lease = yield* leaseOf(options)
        const redis = yield* Redis.Redis
        return make(makeRedisDlqStore(redis, options.prefix ?? "troupe:dlq:"), options, lease)
      })
    )

  /**
   * On PostgreSQL through `SqlClient`: table `troupe_dead_letters` in `schema` (default `public`). Building fails
   * with `InvalidOptions` when an option is not of its type, and with `DlqStoreError` (operation `init`) when
   * `schema` is not a valid identifier (`[a-z_][a-z0-9_]*`), or when creating the schema or the table fails
   * (database unreachable, no privilege).
   */
  static readonly layerPostgres = (
    options: DeadLettersOptions & { readonly schema?: string } = {}
  ): Layer.Layer<DeadLetters, DlqStoreError | InvalidOptions, SqlClient.SqlClient> =>
    Layer.effect(
      DeadLetters,
      Effect.gen(function*() {
        const lease = yield* leaseOf(options)
        const sql = yield* SqlClient.SqlClient
        return make(yield* makePostgresDlqStore(sql, options.schema ?? "public"), options, lease)
      })
    )
}
