/**
 * Where the master keys of secrets at rest come from: a `KeyProvider` names the current 256-bit key (used to
 * encrypt) and finds any older key by id (used to decrypt values sealed before a rotation).
 *
 * Rules:
 * - a key is 32 bytes; its id is the first 16 hex digits of SHA-256("troupe-key-id\n" + key), so the id is stable,
 *   public, and says nothing usable about the key;
 * - `layerEnv()` is the default: `TROUPE_MASTER_KEY` holds the current key as 64 hex digits or base64 of 32 bytes,
 *   and `TROUPE_MASTER_KEY_PREVIOUS` (optional) a comma-separated list of retired keys still accepted for decryption
 *   (what a rotation leaves behind until `SecretBox.rotate` has re-encrypted every stored value);
 * - `layerStatic({ current, previous })` gives keys directly (tests, a vault client that fetched them);
 * - key material lives only inside `Redacted`; a missing or malformed key fails `SecretError` with reason
 *   `no-master-key` or `bad-key` when the layer is built; `get(id)` of an id it does not hold fails `unknown-key`.
 *
 * Reuses node:crypto (SHA-256) and Effect's `Redacted`; mirrors a KMS's "current key + retired keys" keyring.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import { createHash } from "node:crypto"

/** Why a secret could not be sealed or opened. */
export const SecretErrorReason = Schema.Literals(["no-master-key", "bad-key", "malformed", "unknown-key", "tampered"])
export type SecretErrorReason = typeof SecretErrorReason.Type

/**
 * A secret-at-rest operation failed: `no-master-key` / `bad-key` (the provider has no usable key), `malformed`
 * (not an `enc:v1:` envelope), `unknown-key` (sealed under a key id the provider does not hold), `tampered` (the
 * AES-GCM tag does not verify: the envelope was edited or the key with that id is not the one that sealed it).
 * It never carries the plaintext or a key.
 */
export class SecretError extends Schema.TaggedError<SecretError>()("SecretError", {
  reason: SecretErrorReason,
  keyId: Schema.optionalKey(Schema.String)
}) {
  override get message(): string {
    return `secret at rest: ${this.reason}${this.keyId !== undefined ? ` (key ${this.keyId})` : ""}`
  }
}

/** One master key: its public id and its 32 bytes (inside `Redacted`). */
export interface MasterKey {
  readonly id: string
  readonly key: Redacted.Redacted<Uint8Array>
}

/** The keyring: the current key and lookup of any key by id. */
export interface KeyProviderShape {
  /**
   * The key new envelopes are sealed under. The built-in providers (`fromKeys`, `layerStatic`, `layerEnv`) never
   * fail here (a missing key fails when their layer is built); a custom provider fails `SecretError` when it has
   * no usable current key (`no-master-key`, `bad-key`).
   */
  readonly current: Effect.Effect<MasterKey, SecretError>
  /** Fails `SecretError` `unknown-key` when no key has that id. */
  readonly get: (id: string) => Effect.Effect<MasterKey, SecretError>
}

/** The master-key provider service. */
export class KeyProvider extends Context.Service<KeyProvider, KeyProviderShape>()("troupe/identity/KeyProvider") {
  /** `keyIdOf` of this module, as a static member. */
  static get keyIdOf() {
    return keyIdOf
  }
  /** `parseKey` of this module, as a static member. */
  static get parseKey() {
    return parseKey
  }
  /** `fromKeys` of this module, as a static member. */
  static get fromKeys() {
    return fromKeys
  }
  /** `layerStatic` of this module, as a static member. */
  static get layerStatic() {
    return layerStatic
  }
  /** `layerEnv` of this module, as a static member. */
  static get layerEnv() {
    return layerEnv
  }
}

/** The public id of a 32-byte key. */
export const keyIdOf = (key: Uint8Array): string =>
  createHash("sha256").update("troupe-key-id\n").update(key).digest("hex").slice(0, 16)

/** Parses 64 hex digits or base64 of 32 bytes; fails `SecretError` `bad-key` when it decodes to another length. */
export const parseKey = (text: string): Effect.Effect<MasterKey, SecretError> => {
  const trimmed = text.trim()
  const bytes = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64")
  return bytes.length === 32
    ? Effect.succeed({ id: keyIdOf(bytes), key: Redacted.make(new Uint8Array(bytes)) })
    : Effect.fail(new SecretError({ reason: "bad-key" }))
}

/** A provider over known keys (the first is current). */
export const fromKeys = (current: MasterKey, previous: ReadonlyArray<MasterKey> = []): KeyProviderShape => {
  const byId = new Map([current, ...previous].map((k) => [k.id, k]))
  return {
    current: Effect.succeed(current),
    get: (id) => {
      const found = byId.get(id)
      return found !== undefined
        ? Effect.succeed(found)
        : Effect.fail(new SecretError({ reason: "unknown-key", keyId: id }))
    }
  }
}

/**
 * Keys given directly: each a 32-byte array, 64 hex digits or base64. Building the layer fails with `SecretError`
 * `bad-key` when the current key or a previous one is not 32 bytes.
 */
export const layerStatic = (options: {
  readonly current: Uint8Array | string
  readonly previous?: ReadonlyArray<Uint8Array | string>
}): Layer.Layer<KeyProvider, SecretError> =>
  Layer.effect(
    KeyProvider,
    Effect.gen(function*() {
      const load = (k: Uint8Array | string) =>
        typeof k === "string" ? parseKey(k) : parseKey(Buffer.from(k).toString("hex"))
      const current = yield* load(options.current)
      const previous = yield* Effect.forEach(options.previous ?? [], load)
      return fromKeys(current, previous)
    })
  )

/**
 * The default: `TROUPE_MASTER_KEY` (current) and `TROUPE_MASTER_KEY_PREVIOUS` (comma-separated, retired). Building
 * the layer fails with `SecretError` `no-master-key` when the current variable is unset or blank, and `bad-key`
 * when it or an entry of the previous list is not 32 bytes in hex or base64.
 */
export const layerEnv = (options: {
  readonly variable?: string
  readonly previousVariable?: string
  readonly env?: Readonly<Record<string, string | undefined>>
} = {}): Layer.Layer<KeyProvider, SecretError> =>
  Layer.effect(
    KeyProvider,
    Effect.gen(function*() {
      const env = options.env ?? process.env
      const raw = env[options.variable ?? "TROUPE_MASTER_KEY"]
      if (raw === undefined || raw.trim() === "") {
        return yield* Effect.fail(new SecretError({ reason: "no-master-key" }))
      }
      const current = yield* parseKey(raw)
      const retired = (env[options.previousVariable ?? "TROUPE_MASTER_KEY_PREVIOUS"] ?? "").split(",").filter((s) =>
        s.trim() !== ""
      )
      const previous = yield* Effect.forEach(retired, parseKey)
      return fromKeys(current, previous)
    })
  )
