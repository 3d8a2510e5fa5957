/**
 * Audit entries: what `Audit.record` accepts and what an `AuditStore` holds.
 *
 * - `AuditInput` is untrusted and decoded with Schema: `tenant`, `actor`, `action`, `resource`, `status`
 *   (`success`, `failure`, `denied`), optional `ip`, `userAgent`, and `metadata` (at most 32 keys of scalars,
 *   strings at most 256 characters). Until the guardrails' PII redactor exists, metadata holds ids and sizes only,
 *   and any string that looks like a credential (`tr_live_…`, `sk-…`, `Bearer …`) is replaced by `[redacted]`.
 * - `AuditRecord` adds the chain position `seq` (0, 1, 2, … with no gaps), the time `at` (Clock millis), the
 *   previous entry's hash `prevHash` (64 zeros for the first) and `hash` = SHA-256(prevHash + "\n" + canonical
 *   entry), where the canonical entry is the JSON of every field but `hash`, with object keys sorted.
 * - `subject` (input only, never stored) names the principal of the entry's tenant the entry is about. With a
 *   `SubjectKeys` store in the audit's context, the entry's personal fields are stored sealed under that subject's
 *   data key: `sealed` holds the AES-256-GCM envelope of them, `sealedFields` lists which (`actor` only when it
 *   names the subject, `ip`, `userAgent`, `metadata`), and a sealed `actor` is stored as `[sealed]` (see Audit.ts).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Id } from "./Principal.ts"

const Text = (max: number) => Schema.String.pipe(Schema.check(Schema.isMinLength(1), Schema.isMaxLength(max)))

/** How an audited action ended. */
export const AuditStatus = Schema.Literals(["success", "failure", "denied"])
export type AuditStatus = typeof AuditStatus.Type

/** One metadata value of an audit entry (scalars only). */
export const MetadataValue = Schema.Union([
  Schema.String.pipe(Schema.check(Schema.isMaxLength(256))),
  Schema.Finite,
  Schema.Boolean,
  Schema.Null
])
/** An audit entry's metadata: at most 32 keys of at most 64 characters. */
export const Metadata = Schema.Record(Schema.String.pipe(Schema.check(Schema.isMaxLength(64))), MetadataValue).pipe(
  Schema.check(
    Schema.makeFilter((m: Record<string, unknown>) => Object.keys(m).length <= 32 || "at most 32 metadata keys")
  )
)

/** A personal field of an audit entry that may be sealed under a subject's data key. */
export const SealedField = Schema.Literals(["actor", "ip", "userAgent", "metadata"])
export type SealedField = typeof SealedField.Type

/** What a sealed field reads as once its subject's data key was destroyed. */
export const ERASED = "[erased]"

/** What `Audit.record` takes (untrusted: decoded with Schema). */
export const AuditInput = Schema.Struct({
  tenant: Id,
  actor: Text(256),
  action: Text(128),
  resource: Text(512),
  status: AuditStatus,
  ip: Schema.optionalKey(Text(64)),
  userAgent: Schema.optionalKey(Text(512)),
  metadata: Schema.optionalKey(Metadata),
  /** The principal id (in `tenant`) the entry is about: its personal fields are sealed under its data key. */
  subject: Schema.optionalKey(Id)
})
export type AuditInput = typeof AuditInput.Encoded

/** A stored audit entry: the input plus its sequence number, time and chain hashes. */
export const AuditRecord = Schema.Struct({
  seq: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  at: Schema.Finite,
  tenant: Schema.String,
  actor: Schema.String,
  action: Schema.String,
  resource: Schema.String,
  status: AuditStatus,
  ip: Schema.optionalKey(Schema.String),
  userAgent: Schema.optionalKey(Schema.String),
  metadata: Schema.optionalKey(Schema.Record(Schema.String, MetadataValue)),
  /** the `enc:v1:` envelope of the sealed personal fields, under the subject's data key */
  sealed: Schema.optionalKey(Schema.String),
  /** which fields `sealed` holds */
  sealedFields: Schema.optionalKey(Schema.Array(SealedField)),
  prevHash: Schema.String,
  hash: Schema.String
})
export type AuditRecord = typeof AuditRecord.Type

/** The previous hash of the first entry of a chain. */
export const GENESIS_HASH = "0".repeat(64)
