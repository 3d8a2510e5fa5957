/**
 * GDPR erasure (issue 13 §4): `Privacy.erase({ tenant, principal })` removes what troupe keeps about a subject and
 * reports what was erased where.
 *
 * Rules:
 * - the subject is a principal `{ tenant, principal }` (its id in that tenant), decoded with Schema
 *   (`InvalidIdentityInput` naming the path);
 * - the steps run in this order: keys, audit, memory, cache (the report lists them audit, keys, memory, cache);
 * - **keys**: every issued key of the principal in the tenant (`KeyStore.list(tenant, principal)`) is revoked
 *   through `Keys` when it is in the context (so this process's validation cache forgets it at once; another
 *   process's cache may accept it for its `ttl`, 5 s by default) and then deleted (`KeyStore.remove`): its
 *   principal and name go with the record, and presenting it afterwards is `unknown`. This comes first, so no
 *   request with the subject's key is accepted (in this process) once the audit step begins; a request accepted
 *   before it (or by another process within its cache `ttl`) may still record an entry for the subject after
 *   the data key is destroyed, under a new data key: erasing again (after the `ttl`) destroys that one too;
 * - **audit** (crypto-shredding): the subject's data key is destroyed in the `SubjectKeys` store. Every audit entry
 *   recorded with `subject` set to that principal holds its personal fields (`ip`, `userAgent`, `metadata`, the
 *   actor when it names the subject) only as an envelope under that key (Audit.ts), so those fields now read as
 *   `[erased]` while the chain, its checkpoints and `verify` stay intact and other subjects' entries are untouched.
 *   The queued entries are written first (`Audit.flush`); the count is the number of the tenant's stored entries
 *   sealed under the destroyed key (read from the `AuditStore`). An entry is attributed to a subject only through its explicit `subject` (the gateway's key auth
 *   sets the principal of a validated key): entries recorded without one (an anonymous or rejected key) are not
 *   the subject's and stay as they are;
 * - **memory**: the conversations linked to the subject in the `SubjectIndex` are cleared from `ConversationMemory`
 *   (conversation ids are chosen by the caller and do not name their owner, so only linked ones can be found; the
 *   gateway's agent routes link the caller's principal to the agent's conversation on every turn);
 * - **cache**: the cache keys linked to the subject in the `SubjectIndex` are deleted from the `Cache`. The response
 *   cache links each entry it stores or serves for a call made for a subject (`options.tenant` + `options.subject`,
 *   which the gateway sets for an issued key's principal), so those are found, a shared entry by either subject.
 *   An entry of a call made without a subject (embedded use without `subject`, an agent's own model calls) has a key
 *   that is a SHA-256 of the request, partitioned by tenant and not by user: it cannot be attributed and expires
 *   with its TTL (or a tenant-wide `Cache.clear`). The report says so in the cache item's `note`;
 * - then the subject's `SubjectIndex` links are forgotten, and the erasure itself is audited: `privacy.erase`
 *   (`success`), actor `input.actor` (default `system:privacy`), resource `subject:<ref>` where `ref` is the first
 *   32 hex digits of SHA-256("troupe-privacy\n" + tenant + "\n" + principal) — a pseudonym, so the log proves that
 *   a subject was erased to whoever already knows the subject, without naming it — and the counts as metadata,
 *   never the data;
 * - the report is `{ subject, erasedAt, items }`, one item per place (`audit`, `keys`, `memory`, `cache`) with its
 *   `count` and a `note` when something could not be done or found (a service absent from the context, or the
 *   cache's limit above);
 * - idempotent: erasing again finds nothing (the key, the keys and the links are gone) and reports zero counts;
 * - only `Audit` is required; `SubjectKeys`, `AuditStore`, `KeyStore`, `SubjectIndex`, `ConversationMemory` and
 *   `Cache` are found with `Effect.serviceOption` when the layer is built, and an absent one is a zero count with a
 *   note saying which service was absent;
 * - a failing step stops the erasure with `ErasureIncomplete` naming it; the steps before it are done, a
 *   `privacy.erase` entry with status `failure` is recorded when possible, and erasing again finishes the rest.
 *
 * Hand-rolled; crypto-shredding reuses SecretBox's AES-256-GCM envelopes and the `KeyProvider` master keys.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import { createHash } from "node:crypto"
import { Cache } from "../cache/Cache.ts"
import { ConversationMemory } from "../memory/ConversationMemory.ts"
import { Audit } from "./Audit.ts"
import { AuditStore } from "./AuditStore.ts"
import { ErasureIncomplete, type InvalidIdentityInput } from "./IdentityError.ts"
import { sealedKeyId } from "./internal/AuditSeal.ts"
import { Keys, toInvalidInput } from "./Keys.ts"
import { KeyStore } from "./KeyStore.ts"
import { Id } from "./Principal.ts"
import { SubjectIndex } from "./SubjectIndex.ts"
import { SubjectKeys } from "./SubjectKeys.ts"

/** What `erase` takes (untrusted: decoded with Schema). */
export const EraseInput = Schema.Struct({
  tenant: Id,
  principal: Id,
  /** who asks (audited as the actor of `privacy.erase`); default `system:privacy` */
  actor: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(128)))
})
export type EraseInput = typeof EraseInput.Encoded

/** Where something was erased. */
export type ErasureWhere = "audit" | "keys" | "memory" | "cache"

/** One line of the report: where, how many, and why not more. */
export interface ErasureItem {
  readonly where: ErasureWhere
  readonly count: number
  readonly note?: string
}

/** What `erase` did. */
export interface ErasureReport {
  readonly subject: { readonly tenant: string; readonly principal: string }
  readonly erasedAt: number
  readonly items: ReadonlyArray<ErasureItem>
}

/** The erasure service. */
export interface PrivacyShape {
  /**
   * Erases the subject (see the module doc). Fails `InvalidIdentityInput` (bad input, path named; nothing done)
   * or `ErasureIncomplete` (a step failed: `where` names it; the earlier steps are done, a retry is safe).
   */
  readonly erase: (input: EraseInput) => Effect.Effect<ErasureReport, InvalidIdentityInput | ErasureIncomplete>
}

/** The GDPR erasure service. */
export class Privacy extends Context.Service<Privacy, PrivacyShape>()("troupe/identity/Privacy") {
  /** `EraseInput` of this module, as a static member. */
  static get EraseInput() {
    return EraseInput
  }
  /** `subjectRef` of this module, as a static member. */
  static get subjectRef() {
    return subjectRef
  }
  /** `make` of this module, as a static member. */
  static get make() {
    return make
  }
  /** `layer` of this module, as a static member. */
  static get layer() {
    return layer
  }
}

/** The pseudonym of a subject in the `privacy.erase` entry: 32 hex digits of a SHA-256. */
export const subjectRef = (tenant: string, principal: string): string =>
  createHash("sha256").update(`troupe-privacy\n${tenant}\n${principal}`).digest("hex").slice(0, 32)

/** The cache's limit, in every report's cache item. */
export const CACHE_NOTE = "response-cache entries of calls made for the subject (options.subject) are linked and " +
  "deleted; entries of calls made without a subject are keyed by a SHA-256 of the request and partitioned by " +
  "tenant, not by user: they cannot be attributed and expire with their TTL; only cache keys linked in the " +
  "SubjectIndex are deleted"

const MAX_AUDIT_SCAN = 10_000_000
const REPORT_ORDER: ReadonlyArray<ErasureWhere> = ["audit", "keys", "memory", "cache"]
const absent = (service: string) => `no ${service} in the context`

/** Builds the service: `Audit` is required, every other store is optional (see the module doc). */
export const make: Effect.Effect<PrivacyShape, never, Audit> = Effect.gen(function*() {
  const audit = yield* Audit
  const subjectKeys = Option.getOrUndefined(yield* Effect.serviceOption(SubjectKeys))
  const auditStore = Option.getOrUndefined(yield* Effect.serviceOption(AuditStore))
  const keyStore = Option.getOrUndefined(yield* Effect.serviceOption(KeyStore))
  const keysService = Option.getOrUndefined(yield* Effect.serviceOption(Keys))
  const index = Option.getOrUndefined(yield* Effect.serviceOption(SubjectIndex))
  const memory = Option.getOrUndefined(yield* Effect.serviceOption(ConversationMemory))
  const cache = Option.getOrUndefined(yield* Effect.serviceOption(Cache))
  const decode = Schema.decodeUnknownEffect(EraseInput)

  const erase: PrivacyShape["erase"] = Effect.fn("Privacy.erase")(function*(raw) {
    const input = yield* decode(raw, { errors: "all" }).pipe(Effect.mapError(toInvalidInput("erase")))
    const { principal, tenant } = input
    const items: Array<ErasureItem> = []
    const step = <E extends { readonly message: string }>(
      where: ErasureWhere | "index",
      effect: Effect.Effect<ErasureItem | undefined, E>
    ) =>
      effect.pipe(
        Effect.mapError((e) =>
          new ErasureIncomplete({ where, message: e.message, completed: items.map((i) => i.where) })
        ),
        Effect.map((item) => {
          if (item !== undefined) items.push(item)
        })
      )

    const auditStep = Effect.gen(function*() {
      if (subjectKeys === undefined) {
        return {
          where: "audit",
          count: 0,
          note: `${absent("SubjectKeys store")}: audit entries are not sealed per subject`
        } as const
      }
      yield* audit.flush
      const found = yield* subjectKeys.find(tenant, principal)
      if (Option.isNone(found)) return { where: "audit", count: 0 } as const
      const keyId = found.value.keyId
      const entries = auditStore === undefined
        ? undefined
        : yield* auditStore.query({ tenant, limit: MAX_AUDIT_SCAN })
      yield* subjectKeys.destroy(tenant, principal)
      return entries === undefined
        ? {
          where: "audit",
          count: 0,
          note: `data key destroyed; ${absent("AuditStore")} to count the entries`
        } as const
        : { where: "audit", count: entries.filter((r) => sealedKeyId(r) === keyId).length } as const
    })

    const keysStep = Effect.gen(function*() {
      if (keyStore === undefined) return { where: "keys", count: 0, note: absent("KeyStore") } as const
      const keys = yield* keyStore.list(tenant, principal)
      let count = 0
      for (const key of keys) {
        if (keysService !== undefined) yield* Effect.ignore(keysService.revoke(tenant, key.id))
        if (yield* keyStore.remove(tenant, key.id)) count++
      }
      return { where: "keys", count } as const
    })

    const memoryStep = Effect.gen(function*() {
      if (index === undefined) {
        return {
          where: "memory",
          count: 0,
          note: `${absent("SubjectIndex")}: conversations cannot be attributed`
        } as const
      }
      const ids = yield* index.refs(tenant, principal, "memory")
      if (memory === undefined) {
        return { where: "memory", count: 0, note: absent("ConversationMemory") } as const
      }
      for (const id of ids) yield* memory.clear(id)
      return { where: "memory", count: ids.length } as const
    })

    const cacheStep = Effect.gen(function*() {
      if (index === undefined) {
        return { where: "cache", count: 0, note: `${absent("SubjectIndex")}; ${CACHE_NOTE}` } as const
      }
      const keys = yield* index.refs(tenant, principal, "cache")
      if (cache === undefined) return { where: "cache", count: 0, note: `${absent("Cache")}; ${CACHE_NOTE}` } as const
      for (const key of keys) yield* cache.delete(key)
      return { where: "cache", count: keys.length, note: CACHE_NOTE } as const
    })

    const resource = `subject:${subjectRef(tenant, principal)}`
    const actor = input.actor ?? "system:privacy"
    // keys first: while the data key is being destroyed no request can be accepted with the subject's key (in this
    // process), so none seals a new entry under a new data key that would survive the erasure
    const steps = Effect.gen(function*() {
      yield* step("keys", keysStep)
      yield* step("audit", auditStep)
      yield* step("memory", memoryStep)
      yield* step("cache", cacheStep)
      if (index !== undefined) yield* step("index", Effect.as(index.forget(tenant, principal), undefined))
    })
    yield* steps.pipe(Effect.tapError((e) =>
      audit.record({
        tenant,
        actor,
        action: "privacy.erase",
        resource,
        status: "failure",
        metadata: { failedAt: e.where, completed: e.completed.join(",") }
      }).pipe(Effect.ignore)
    ))
    yield* audit.record({
      tenant,
      actor,
      action: "privacy.erase",
      resource,
      status: "success",
      metadata: Object.fromEntries(items.map((i) => [i.where, i.count]))
    }).pipe(Effect.mapError((e) =>
      new ErasureIncomplete({
        where: "audit",
        message: `erased, but the privacy.erase entry was not recorded: ${e.message}`,
        completed: items.map((i) => i.where)
      })
    ))
    const ordered = REPORT_ORDER.flatMap((where) => items.filter((i) => i.where === where))
    return { subject: { tenant, principal }, erasedAt: yield* Clock.currentTimeMillis, items: ordered }
  })

  return { erase }
})

/** `Privacy` over the `Audit` in context (and whichever optional stores are there). */
export const layer: Layer.Layer<Privacy, never, Audit> = Layer.effect(Privacy, make)
