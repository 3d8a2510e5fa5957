/**
 * Signed checkpoints of the audit chain: HMAC-SHA-256 over (seq, hash, at) with a key derived from a master key.
 * HMAC rather than Ed25519: the only verifier is the service that holds the key (the same `KeyProvider` keyring
 * as secrets at rest), so a symmetric MAC gives the same protection with no key pair to manage. @internal
 */
import { Redacted, Schema } from "effect"
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto"
import type { MasterKey } from "../KeyProvider.ts"

/** A signed statement "the chain had `hash` at position `seq`". */
export const AuditCheckpoint = Schema.Struct({
  seq: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  hash: Schema.String,
  at: Schema.Finite,
  keyId: Schema.String,
  mac: Schema.String
})
export type AuditCheckpoint = typeof AuditCheckpoint.Type

const macKey = (key: MasterKey): Buffer =>
  Buffer.from(hkdfSync("sha256", Redacted.value(key.key), "troupe-audit", "troupe-audit-checkpoint-v1", 32))

const message = (seq: number, hash: string, at: number): string => `troupe-audit-checkpoint\n${seq}\n${hash}\n${at}`

export const signCheckpoint = (key: MasterKey, seq: number, hash: string, at: number): AuditCheckpoint => ({
  seq,
  hash,
  at,
  keyId: key.id,
  mac: createHmac("sha256", macKey(key)).update(message(seq, hash, at)).digest("hex")
})

export const checkpointValid = (key: MasterKey, c: AuditCheckpoint): boolean => {
  const expected = createHmac("sha256", macKey(key)).update(message(c.seq, c.hash, c.at)).digest()
  const given = Buffer.from(c.mac, "hex")
  return given.length === expected.length && timingSafeEqual(given, expected)
}
