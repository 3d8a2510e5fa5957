/**
 * Anonymising operators over detected entities, after Presidio's anonymizer:
 *
 * - `replace`: the entity becomes `<TYPE>` (or a given text);
 * - `mask`: its characters become `*` (or `char`), keeping the last `keepLast` (default 4) — `************1111`;
 * - `hash`: `<TYPE:hex>` — SHA-256 of salt + value, first 16 hex digits (salted: without the salt the value cannot be
 *   recovered by hashing guesses);
 * - `encrypt`: `<TYPE:enc:…>` — AES-256-GCM under a key (SHA-256 of the given key text), reversible with `decrypt`;
 * - `placeholder`: `<TYPE_n>`, numbered per distinct value, recorded in a `Vault` so the model's answer can be
 *   **de-anonymised** for the user who sent the text (`deanonymize`). Equal values get the same placeholder, so a
 *   redacted prompt is stable: two users' prompts that differ only in their e-mail address share a cache key, and each
 *   user's answer is restored with their own vault. Numbering starts past any `<TYPE_n>` already in the text (a
 *   literal `<EMAIL_1>` the user wrote stays theirs: their address becomes `<EMAIL_2>`), so the round trip is exact. A
 *   placeholder made with `restorable: false` (PII the model wrote, masked at the output stage) is numbered the same
 *   way but is never restored.
 *
 * Uses `node:crypto` (hash, AES-GCM). Pure apart from the random IV of `encrypt`.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto"
import type { Finding } from "./Verdict.ts"
import { replaceSpans } from "./Verdict.ts"

/**
 * Presidio-style anonymisation operators: replace with a fixed text, mask characters (keeping the last few), hash
 * with a salt, encrypt with a key (reversible), or a placeholder restored later from the request's vault.
 */
export type Operator =
  | { readonly type: "replace"; readonly with?: string }
  | { readonly type: "mask"; readonly char?: string; readonly keepLast?: number }
  | { readonly type: "hash"; readonly salt: string }
  | { readonly type: "encrypt"; readonly key: string }
  | { readonly type: "placeholder" }

const PLACEHOLDER = /<([A-Z][A-Z0-9_]*)_(\d+)>/g

/**
 * Placeholder → original value, for one request. Bounded by the number of entities of that request (and of the
 * distinct types among the `<TYPE_n>` already in its texts).
 */
export class Vault {
  /** The restorable placeholders (`deanonymize` restores exactly these). */
  readonly byPlaceholder = new Map<string, string>()
  readonly byValue = new Map<string, string>()
  private readonly counters = new Map<string, number>()
  /**
   * The placeholder of `value`: the one it already has, or the next `<TYPE_n>`. `restorable: false` records it for
   * numbering only (`deanonymize` leaves it masked).
   */
  placeholderFor(type: string, value: string, restorable = true): string {
    const known = this.byValue.get(`${type}\u0000${value}`)
    if (known !== undefined) return known
    const n = (this.counters.get(type) ?? 0) + 1
    this.counters.set(type, n)
    const placeholder = `<${type}_${n}>`
    this.byValue.set(`${type}\u0000${value}`, placeholder)
    if (restorable) this.byPlaceholder.set(placeholder, value)
    return placeholder
  }
  /** Numbers the next placeholders past every `<TYPE_n>` already in `text`, so none of them is reused. */
  reserve(text: string): void {
    if (!text.includes("<")) return
    PLACEHOLDER.lastIndex = 0
    for (let m = PLACEHOLDER.exec(text); m !== null; m = PLACEHOLDER.exec(text)) {
      const type = m[1] ?? ""
      const n = Number(m[2])
      if (Number.isSafeInteger(n) && n > (this.counters.get(type) ?? 0)) this.counters.set(type, n)
    }
  }
  get size(): number {
    return this.byPlaceholder.size
  }
}

const keyOf = (key: string): Buffer => createHash("sha256").update(key, "utf8").digest()

/** AES-256-GCM: `base64url(iv ‖ tag ‖ ciphertext)`. */
export const encrypt = (value: string, key: string): string => {
  const iv = randomBytes(12)
  const cipher = createCipheriv("aes-256-gcm", keyOf(key), iv)
  const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()])
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url")
}

/** Inverse of `encrypt`; `undefined` for a wrong key or a tampered token. */
export const decrypt = (token: string, key: string): string | undefined => {
  try {
    const raw = Buffer.from(token, "base64url")
    const decipher = createDecipheriv("aes-256-gcm", keyOf(key), raw.subarray(0, 12))
    decipher.setAuthTag(raw.subarray(12, 28))
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8")
  } catch {
    return undefined
  }
}

/**
 * The replacement of one entity value under `operator`; a placeholder is recorded in `vault` (restorable unless
 * `restorable` is false).
 */
export const operate = (
  type: string,
  value: string,
  operator: Operator,
  vault?: Vault,
  restorable = true
): string => {
  switch (operator.type) {
    case "replace":
      return operator.with ?? `<${type}>`
    case "mask": {
      const keep = Math.max(0, Math.min(value.length, operator.keepLast ?? 4))
      return (operator.char ?? "*").repeat(value.length - keep) + value.slice(value.length - keep)
    }
    case "hash":
      return `<${type}:${createHash("sha256").update(operator.salt + value, "utf8").digest("hex").slice(0, 16)}>`
    case "encrypt":
      return `<${type}:enc:${encrypt(value, operator.key)}>`
    case "placeholder":
      return (vault ?? new Vault()).placeholderFor(type, value, restorable)
  }
}

/** The anonymised text and the vault that can restore its placeholders. */
export interface Anonymized {
  readonly text: string
  readonly vault: Vault
}

/**
 * Applies `operator` (or the operator per entity type, with `default`) to every finding of `text`. Placeholders are
 * numbered past the `<TYPE_n>` already in `text`; with `restorable: false` they stay masked on `deanonymize`.
 *
 * @example
 * ```ts
 * anonymize(text, detectPii(text), { type: "placeholder" }) // { text: "mail <EMAIL_1>", vault }
 * ```
 */
export const anonymize = (
  text: string,
  findings: ReadonlyArray<Finding>,
  operator: Operator | { readonly default: Operator; readonly [type: string]: Operator },
  vault: Vault = new Vault(),
  options: { readonly restorable?: boolean } = {}
): Anonymized => {
  const pick = (type: string): Operator =>
    // an Operator has a `type`; otherwise it is a per-type table with an optional default
    "type" in operator
      ? operator as Operator
      : (operator as Record<string, Operator>)[type] ?? (operator as { default: Operator }).default
  if (findings.length > 0) vault.reserve(text)
  return {
    text: replaceSpans(
      text,
      findings,
      (f, original) => operate(f.type ?? "PII", original, pick(f.type ?? "PII"), vault, options.restorable)
    ),
    vault
  }
}

/** Restores the restorable placeholders of `vault` in `text` (others are left as they are). */
export const deanonymize = (text: string, vault: Vault): string =>
  vault.size === 0 ? text : text.replace(PLACEHOLDER, (p) => vault.byPlaceholder.get(p) ?? p)

const ENCRYPTED = /<([A-Z][A-Z0-9_]*):enc:([A-Za-z0-9_-]+)>/g

/** Restores the `encrypt`ed entities of `text` with `key` (tokens that do not decrypt are left as they are). */
export const decryptAll = (text: string, key: string): string =>
  text.replace(ENCRYPTED, (whole, _type: string, token: string) => decrypt(token, key) ?? whole)
