/**
 * Rate-limit keys: plain strings, with helpers that build scoped keys in one canonical layout
 * (`provider=anthropic|model=claude-sonnet|user=u1`), so the same scope always yields the same key and the
 * limiter can find the provider's policy from the key.
 *
 * API keys are never stored: `apiKey` scopes use the first 128 bits of SHA-256 over the key (hex), so keys in
 * memory, Redis and logs cannot be turned back into credentials. Segment values are escaped (`|`, `=`, `%`,
 * `#`), so user-supplied ids cannot forge another scope; `providerOf` reads a provider back unescaped, and the
 * limiter matches a key's provider segment against each policy name escaped the same way, so a provider of any
 * name finds its policy. **A key built from scopes always fits `MAX_KEY_LENGTH`**: a segment value longer than
 * 64 characters once escaped (a 600-character model name) is replaced by `#` and the first 128 bits of its
 * SHA-256 (hex), so distinct values keep distinct keys.
 *
 * Hand-rolled (rate-limiter-flexible and Effect leave key layout to the caller); hashing uses `node:crypto`.
 */
import { createHash } from "node:crypto"

/** Longest key accepted by default (characters); longer keys fail with `InvalidRateLimitInput` at `["key"]`. */
export const MAX_KEY_LENGTH = 512

/** The scopes a key can be built from; all optional, at least one required. */
export interface KeyScope {
  readonly provider?: string
  readonly model?: string
  readonly client?: string
  readonly user?: string
  /** raw API key: hashed (SHA-256, 128-bit prefix) before it becomes part of the key */
  readonly apiKey?: string
  readonly ip?: string
}

/** Longest segment value kept as it is; longer ones are hashed (see the module doc). */
const MAX_SEGMENT = 64

/**
 * A scope value as keys hold it: `|`, `=`, `%`, `#` escaped (`%7C`…); a value longer than 64 characters once
 * escaped becomes `#` and the first 128 bits of its SHA-256 (hex).
 */
export const escapeSegment = (value: string): string => {
  const escaped = value.length > MAX_SEGMENT
    ? value
    : value.replace(/[%|=#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return escaped.length > MAX_SEGMENT
    ? `#${createHash("sha256").update(value, "utf8").digest("hex").slice(0, 32)}`
    : escaped
}

/** SHA-256 of an API key, first 32 hex characters (128 bits): what `apiKey` scopes store instead of the key. */
export const hashApiKey = (apiKey: string): string =>
  createHash("sha256").update(apiKey, "utf8").digest("hex").slice(0, 32)

const ORDER = ["provider", "model", "client", "user", "apiKey", "ip"] as const

/**
 * Builds a canonical key from scopes (fixed order, escaped values, API key hashed).
 *
 * @example
 * ```ts
 * RateLimitKey.make({ provider: "anthropic", user: "u1" }) // "provider=anthropic|user=u1"
 * RateLimitKey.make({ apiKey: "sk-secret" })               // "apiKey=3f1c…" (hash, never the key)
 * ```
 */
export const make = (scope: KeyScope): string => {
  const parts: Array<string> = []
  for (const name of ORDER) {
    const value = scope[name]
    if (value === undefined) continue
    parts.push(`${name}=${name === "apiKey" ? hashApiKey(value) : escapeSegment(value)}`)
  }
  if (parts.length === 0) throw new TypeError("RateLimitKey.make needs at least one scope")
  return parts.join("|")
}

/** `provider=<name>`: one key per provider. */
export const provider = (name: string): string => make({ provider: name })
/** `provider=<p>|model=<m>`: one key per provider model. */
export const model = (providerName: string, modelName: string): string =>
  make({ provider: providerName, model: modelName })
/** `client=<id>` (optionally under a provider). */
export const client = (id: string, providerName?: string): string =>
  make(providerName === undefined ? { client: id } : { provider: providerName, client: id })
/** `user=<id>` (optionally under a provider). */
export const user = (id: string, providerName?: string): string =>
  make(providerName === undefined ? { user: id } : { provider: providerName, user: id })
/** `apiKey=<sha256 prefix>` (optionally under a provider); the raw key is never kept. */
export const apiKey = (rawKey: string, providerName?: string): string =>
  make(providerName === undefined ? { apiKey: rawKey } : { provider: providerName, apiKey: rawKey })
/** `ip=<address>` (optionally under a provider). */
export const ip = (address: string, providerName?: string): string =>
  make(providerName === undefined ? { ip: address } : { provider: providerName, ip: address })

/** The provider segment of a key as written (escaped, or `#<hash>`), else `undefined`. */
export const providerSegmentOf = (key: string): string | undefined => {
  if (!key.startsWith("provider=")) return undefined
  const end = key.indexOf("|", 9)
  return key.slice(9, end === -1 ? key.length : end)
}

const unescape = (segment: string): string =>
  segment.indexOf("%") === -1
    ? segment
    : segment.replace(/%(25|7C|3D|23)/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))

/**
 * The provider scope of a key built by these helpers, unescaped (`provider=a%7Cb|…` → `"a|b"`), else
 * `undefined`. A name hashed for length cannot be recovered: it comes back as its `#<hash>` segment.
 */
export const providerOf = (key: string): string | undefined => {
  const segment = providerSegmentOf(key)
  return segment === undefined || segment.charCodeAt(0) === 35 /* # */ ? segment : unescape(segment)
}
