/** The SHA-256 hash chain of audit entries: canonical form, hashing, and verification. @internal */
import { createHash } from "node:crypto"
import { type AuditRecord, GENESIS_HASH } from "../AuditEntry.ts"

/** JSON with object keys sorted at every level (arrays keep their order). */
export const canonicalJson = (value: unknown): string => {
  if (value === null || typeof value !== "object") return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  const entries = Object.entries(value as Record<string, unknown>) // a cast: a non-array object
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`
}

export const hashEntry = (prevHash: string, entry: Omit<AuditRecord, "hash">): string => {
  const { hash: _ignored, ...rest } = entry as AuditRecord // a cast: drop `hash` if a full record is passed
  return createHash("sha256").update(prevHash).update("\n").update(canonicalJson(rest)).digest("hex")
}

export type BrokenReason =
  | "sequence"
  | "previous-hash"
  | "hash"
  | "truncated"
  | "beyond-head"
  /** the entry at a signed checkpoint's position does not carry the signed hash (the chain was rewritten) */
  | "checkpoint"
  /** a checkpoint's HMAC does not verify, or its key id is unknown (a forged checkpoint) */
  | "checkpoint-signature"
  /** a position that must carry a checkpoint (every `every` entries) has none (a removed checkpoint) */
  | "checkpoint-missing"

export type ChainCheck =
  | { readonly _tag: "Intact"; readonly checked: number; readonly lastHash: string }
  | {
    readonly _tag: "Broken"
    /** index in the checked slice */
    readonly index: number
    /** the chain position the bad entry should have had */
    readonly expectedSeq: number
    /** the seq the bad entry carries */
    readonly seq: number
    readonly reason: BrokenReason
  }

/**
 * Checks `records` as the chain slice starting at position `fromSeq`, anchored on `anchorHash` (the hash of entry
 * `fromSeq - 1`, or the genesis hash), and, given `head`, ending there. The first entry whose position, link or own hash is wrong is named.
 */
export const verifyChain = (
  records: ReadonlyArray<AuditRecord>,
  fromSeq = 0,
  anchorHash: string = GENESIS_HASH,
  /** a known head (a checkpoint): the chain must end at position `seq` with `hash`; detects a cut tail */
  head?: { readonly seq: number; readonly hash: string }
): ChainCheck => {
  let prev = anchorHash
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!
    const expectedSeq = fromSeq + i
    const broken = (reason: BrokenReason): ChainCheck => ({ _tag: "Broken", index: i, expectedSeq, seq: r.seq, reason })
    if (r.seq !== expectedSeq) return broken("sequence")
    if (r.prevHash !== prev) return broken("previous-hash")
    if (hashEntry(prev, r) !== r.hash) return broken("hash")
    prev = r.hash
  }
  const end = fromSeq + records.length - 1
  if (head !== undefined) {
    if (end < head.seq) {
      return { _tag: "Broken", index: records.length, expectedSeq: end + 1, seq: -1, reason: "truncated" }
    }
    if (end > head.seq) {
      // entries past the head this writer knows: an insert at the end (a single writer per chain)
      const index = head.seq + 1 - fromSeq
      return { _tag: "Broken", index, expectedSeq: head.seq + 1, seq: records[index]?.seq ?? -1, reason: "beyond-head" }
    }
    if (prev !== head.hash) {
      return {
        _tag: "Broken",
        index: records.length - 1,
        expectedSeq: end,
        seq: records.at(-1)?.seq ?? -1,
        reason: "hash"
      }
    }
  }
  return { _tag: "Intact", checked: records.length, lastHash: prev }
}
