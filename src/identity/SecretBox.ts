/**
 * Secrets at rest: AES-256-GCM envelopes under the `KeyProvider`'s master keys.
 *
 * Rules:
 * - `seal(value)` encrypts under the provider's current key with a fresh 96-bit random IV and returns the envelope
 *   `enc:v1:<keyId>:<iv>:<ciphertext+tag>` (base64url parts); the header `enc:v1:<keyId>` is the AES-GCM additional
 *   data, so editing the key id, the IV, the ciphertext or the tag is detected; only the canonical base64url text
 *   opens (an appended character or edited unused low bits of a last character is `malformed`);
 * - `open(envelope)` returns the plaintext only as `Redacted`; it fails `SecretError` `malformed` (not an
 *   envelope), `unknown-key` (sealed under a key id the provider does not hold) or `tampered` (the tag does not
 *   verify: the envelope was edited, or a different key carries that id);
 * - `rotate(envelopes)` re-encrypts every envelope that is not under the current key (the old key id stays in the
 *   old envelope until it is replaced; the caller writes the returned envelopes back) and reports how many changed;
 *   values already under the current key are returned unchanged; the per-subject data keys of the audit log are
 *   not envelopes it is given: `SubjectKeys.rewrap` re-wraps those (SubjectKeys.ts) before an old key is dropped;
 * - `isEnvelope(text)` tells an `enc:v1:` envelope from a plain value (what the config loader checks).
 *
 * Reuses node:crypto's AES-256-GCM; the envelope format is hand-rolled and versioned (`v1`).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Redacted } from "effect"
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto"
import { KeyProvider, type MasterKey, SecretError } from "./KeyProvider.ts"

/** The envelope prefix of version 1. */
export const PREFIX = "enc:v1:"

const ENVELOPE = /^enc:v1:([0-9a-f]{16}):([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]{22,})$/

/** Whether `text` has the form of an `enc:v1:` envelope (not whether it opens). */
export const isEnvelope = (text: string): boolean => ENVELOPE.test(text)

/** The key id an envelope was sealed under, when it is one. */
export const keyIdOfEnvelope = (text: string): string | undefined => ENVELOPE.exec(text)?.[1]

/** Encrypts `plaintext` under `key` (a fresh IV each call). */
export const sealWith = (key: MasterKey, plaintext: string): string => {
  const iv = randomBytes(12)
  const header = `${PREFIX}${key.id}`
  const cipher = createCipheriv("aes-256-gcm", Redacted.value(key.key), iv)
  cipher.setAAD(Buffer.from(header))
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()])
  return `${header}:${iv.toString("base64url")}:${body.toString("base64url")}`
}

/**
 * Decrypts an envelope with `key`. Fails with `SecretError` `malformed` when the text is not an `enc:v1:` envelope,
 * its IV or body is not canonical unpadded base64url (what `seal` writes) or its body is shorter than the 16-byte tag, and `tampered` when the AES-GCM tag does not verify under `key`.
 */
export const openWith = (key: MasterKey, envelope: string): Effect.Effect<Redacted.Redacted<string>, SecretError> =>
  Effect.suspend(() => {
    const m = ENVELOPE.exec(envelope)
    if (m === null) return Effect.fail(new SecretError({ reason: "malformed" }))
    const iv = Buffer.from(m[2]!, "base64url")
    const body = Buffer.from(m[3]!, "base64url")
    // lenient decoding ignores a trailing odd character and unused low bits: only the canonical text opens
    const canonical = iv.toString("base64url") === m[2] && body.toString("base64url") === m[3]
    if (!canonical || body.length < 16) return Effect.fail(new SecretError({ reason: "malformed", keyId: m[1]! }))
    try {
      const decipher = createDecipheriv("aes-256-gcm", Redacted.value(key.key), iv)
      decipher.setAAD(Buffer.from(`${PREFIX}${m[1]!}`))
      decipher.setAuthTag(body.subarray(body.length - 16))
      const plain = Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()])
      return Effect.succeed(Redacted.make(plain.toString("utf8")))
    } catch {
      return Effect.fail(new SecretError({ reason: "tampered", keyId: m[1]! }))
    }
  })

/** What `rotate` did: the envelopes to write back, in input order, and how many were re-encrypted. */
export interface Rotation {
  readonly envelopes: ReadonlyArray<string>
  readonly reencrypted: number
  readonly keyId: string
}

/** Seal, open and rotate secrets at rest. */
export interface SecretBoxShape {
  /** Fails `SecretError` only when the provider has no current key. */
  readonly seal: (value: string | Redacted.Redacted<string>) => Effect.Effect<string, SecretError>
  /** Fails `SecretError` `malformed`, `unknown-key` or `tampered`. */
  readonly open: (envelope: string) => Effect.Effect<Redacted.Redacted<string>, SecretError>
  /**
   * Fails on the first envelope that does not open (nothing is half-rotated: the caller writes all or none): with
   * `SecretError` `malformed`, `unknown-key` or `tampered` as `open` does, and with the provider's `SecretError`
   * when it has no current key.
   */
  readonly rotate: (envelopes: ReadonlyArray<string>) => Effect.Effect<Rotation, SecretError>
}

/** The secrets-at-rest service. */
export class SecretBox extends Context.Service<SecretBox, SecretBoxShape>()("troupe/identity/SecretBox") {
  /** `PREFIX` of this module, as a static member. */
  static get PREFIX() {
    return PREFIX
  }
  /** `isEnvelope` of this module, as a static member. */
  static get isEnvelope() {
    return isEnvelope
  }
  /** `keyIdOfEnvelope` of this module, as a static member. */
  static get keyIdOfEnvelope() {
    return keyIdOfEnvelope
  }
  /** `sealWith` of this module, as a static member. */
  static get sealWith() {
    return sealWith
  }
  /** `openWith` of this module, as a static member. */
  static get openWith() {
    return openWith
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

/** Builds the box over the `KeyProvider` in context. */
export const make: Effect.Effect<SecretBoxShape, never, KeyProvider> = Effect.gen(function*() {
  const provider = yield* KeyProvider
  const open: SecretBoxShape["open"] = (envelope) => {
    const id = keyIdOfEnvelope(envelope)
    if (id === undefined) return Effect.fail(new SecretError({ reason: "malformed" }))
    return Effect.flatMap(provider.get(id), (key) => openWith(key, envelope))
  }
  return {
    seal: (value) =>
      Effect.map(provider.current, (key) => sealWith(key, Redacted.isRedacted(value) ? Redacted.value(value) : value)),
    open,
    rotate: (envelopes) =>
      Effect.gen(function*() {
        const current = yield* provider.current
        let reencrypted = 0
        const out = yield* Effect.forEach(envelopes, (envelope) =>
          keyIdOfEnvelope(envelope) === current.id
            ? Effect.as(open(envelope), envelope) // still checked: a tampered envelope fails the rotation
            : Effect.map(open(envelope), (plain) => {
              reencrypted++
              return sealWith(current, Redacted.value(plain))
            }))
        return { envelopes: out, reencrypted, keyId: current.id }
      })
  }
})

/** `SecretBox` over the `KeyProvider` in context. */
export const layer: Layer.Layer<SecretBox, never, KeyProvider> = Layer.effect(SecretBox, make)
