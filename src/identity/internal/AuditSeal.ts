/**
 * Sealing an audit entry's personal fields under its subject's data key, and reading them back. @internal
 */
import { Effect, Option, Redacted, Schema } from "effect"
import { type AuditRecord, ERASED, MetadataValue, type SealedField } from "../AuditEntry.ts"
import type { MasterKey } from "../KeyProvider.ts"
import { keyIdOfEnvelope, openWith, sealWith } from "../SecretBox.ts"

/** The stored `actor` of an entry whose actor is sealed. */
export const SEALED_ACTOR = "[sealed]"

/** What a sealed field reads as when its envelope does not open under the key found for it. */
export const UNREADABLE = "[unreadable]"

const Fields = Schema.Struct({
  actor: Schema.optionalKey(Schema.String),
  ip: Schema.optionalKey(Schema.String),
  userAgent: Schema.optionalKey(Schema.String),
  metadata: Schema.optionalKey(Schema.Record(Schema.String, MetadataValue))
})
const decodeFields = Schema.decodeUnknownEffect(Schema.fromJsonString(Fields))

/** Whether `actor` names `subject`: equal to it, or one of its `:`-separated parts (`user:<id>`). */
export const namesSubject = (actor: string, subject: string): boolean =>
  actor === subject || actor.split(":").includes(subject)

type Body = Omit<AuditRecord, "seq" | "prevHash" | "hash">

/** `body` with its personal fields moved into an envelope under `key` (nothing to seal: `body` as it is). */
export const sealBody = <B extends Body>(key: MasterKey, body: B, subject: string): B => {
  const fields: Record<string, unknown> = {}
  const sealedFields: Array<SealedField> = []
  const { ip, metadata, userAgent, ...rest } = body
  let actor = body.actor
  if (namesSubject(body.actor, subject)) {
    fields["actor"] = body.actor
    sealedFields.push("actor")
    actor = SEALED_ACTOR
  }
  for (const [name, value] of [["ip", ip], ["userAgent", userAgent], ["metadata", metadata]] as const) {
    if (value === undefined) continue
    fields[name] = value
    sealedFields.push(name)
  }
  if (sealedFields.length === 0) return body
  return { ...rest, actor, sealed: sealWith(key, JSON.stringify(fields)), sealedFields } as unknown as B // a cast: B with the personal fields replaced by `sealed`
}

/** The subject key id a stored entry is sealed under, if any. */
export const sealedKeyId = (record: AuditRecord): string | undefined =>
  record.sealed === undefined ? undefined : keyIdOfEnvelope(record.sealed)

/**
 * The readable form of a stored entry: its sealed fields opened with `key`, or, without a key (destroyed), each
 * sealed field read as `[erased]` (`metadata` as `{ erased: "[erased]" }`). An envelope that does not open under
 * the key found reads as `[unreadable]`. `sealed` and `sealedFields` stay (they are what the hash covers).
 */
export const openRecord = (
  record: AuditRecord,
  key: Option.Option<MasterKey>
): Effect.Effect<AuditRecord> =>
  Effect.gen(function*() {
    if (record.sealed === undefined) return record
    const names = record.sealedFields ?? []
    const placeholder = (text: string): AuditRecord => {
      const out: Record<string, unknown> = { ...record }
      for (const name of names) out[name] = name === "metadata" ? { erased: text } : text
      return out as AuditRecord // a cast: the same record with string / metadata fields set
    }
    if (Option.isNone(key)) return placeholder(ERASED)
    const opened = yield* Effect.option(
      openWith(key.value, record.sealed).pipe(Effect.flatMap((plain) => decodeFields(Redacted.value(plain))))
    )
    if (Option.isNone(opened)) return placeholder(UNREADABLE)
    return { ...record, ...opened.value }
  })
