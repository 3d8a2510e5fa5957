/**
 * Where secrets live in a configuration tree, and how they are kept out of every output.
 *
 * Secret fields are `providers.<name>.apiKey`, `providers.<name>.headers.<header>`,
 * `telemetry.otlp.headers.<header>` and the gateway's `gateway.auth.adminKey`, `gateway.auth.apiKeys.<i>` and
 * `gateway.maintenance.exemptKeys.<i>`. Every input that enters the ConfigStore (file, environment, `update`,
 * `patch`) passes through {@link wrapSecrets} first, so from then on a secret exists only as an Effect `Redacted`,
 * whose `String()`, `JSON.stringify` and `util.inspect` output is `<redacted>`. As a second line of defence,
 * validation messages are passed through {@link scrub}, which replaces any known secret text by `<redacted>`.
 *
 * Secret values in the file or the environment may be `enc:v1:` envelopes (AES-256-GCM, identity's `SecretBox`):
 * {@link openEnvelopes} opens them with the store's `openSecret` option, and the plaintext is `Redacted` too.
 *
 * Mirrors Elixir's convention of wrapping secrets in a zero-arity function so they do not show in crash reports;
 * here the wrapper is Effect's `Redacted`. Only the path matching is hand-rolled.
 */
import { Effect, Redacted } from "effect"
import type { ConfigPath } from "./RawTree.ts"
import { isRawObject } from "./RawTree.ts"

/** True if the value at `path` is a secret. */
export const isSecretPath = (path: ConfigPath): boolean => {
  const [a, b, c, d, ...rest] = path
  if (rest.length > 0) return false
  if (a === "providers" && b !== undefined) {
    return (c === "apiKey" && d === undefined) || (c === "headers" && d !== undefined)
  }
  if (a === "gateway") {
    return (b === "auth" && c === "adminKey" && d === undefined) ||
      (b === "auth" && c === "apiKeys" && d !== undefined) ||
      (b === "maintenance" && c === "exemptKeys" && d !== undefined)
  }
  return a === "telemetry" && b === "otlp" && c === "headers" && d !== undefined
}

/**
 * Returns `value` (found at `at`) with every secret field wrapped in `Redacted`. Already-wrapped values and `null`
 * (a deletion marker) are kept; any other value at a secret path is wrapped as is, so even a wrongly typed secret is
 * never printed (validation then reports `Expected string` at that path).
 */
export const wrapSecrets = (value: unknown, at: ConfigPath = []): unknown => {
  if (isSecretPath(at)) {
    return value === null || value === undefined || Redacted.isRedacted(value) ? value : Redacted.make(value)
  }
  // below the deepest secret path nothing is a secret: deeper nodes are kept as they are (no recursion, so no
  // stack overflow however deep; the store rejects trees deeper than MAX_CONFIG_DEPTH before they get here)
  if (at.length >= SECRET_DEPTH) return value
  if (Array.isArray(value)) return value.map((child, index) => wrapSecrets(child, [...at, String(index)]))
  if (!isRawObject(value)) return value
  const out = Object.create(null) as { [key: string]: unknown } // no prototype: a `__proto__` key stays a key
  for (const [key, child] of Object.entries(value)) out[key] = wrapSecrets(child, [...at, key])
  return out
}

/** The depth of the deepest secret path (`providers.<name>.headers.<header>`). */
const SECRET_DEPTH = 4

/** Every secret string held (as `Redacted`) anywhere in `trees`. */
export const collectSecrets = (...trees: ReadonlyArray<unknown>): Set<string> => {
  const out = new Set<string>()
  // secrets are wrapped at fixed paths (at most SECRET_DEPTH levels down): the walk never goes much deeper, so a
  // hostile tree cannot overflow the stack here
  const walk = (node: unknown, depth: number): void => {
    if (Redacted.isRedacted(node)) {
      const secret = Redacted.value(node)
      if (typeof secret === "string" && secret.length > 0) out.add(secret)
    } else if (depth < SECRET_DEPTH * 2 && (Array.isArray(node) || isRawObject(node))) {
      for (const child of Object.values(node)) walk(child, depth + 1)
    }
  }
  trees.forEach((tree) => walk(tree, 0))
  return out
}

/**
 * Secrets shorter than this are not scrubbed from messages: they are not credentials (real keys are 20+ characters)
 * and scrubbing them would mangle ordinary words (a 3-character "key" `AIz` would eat the `AIz` of `AIza`).
 */
export const MIN_SCRUBBED_LENGTH = 8

/** Replaces every occurrence of a known secret in `text` by `<redacted>`. */
export const scrub = (text: string, secrets: ReadonlySet<string>): string => {
  let out = text
  for (const secret of secrets) {
    if (secret.length >= MIN_SCRUBBED_LENGTH && out.includes(secret)) out = out.split(secret).join("<redacted>")
  }
  return out
}

/** The prefix of an encrypted secret (`enc:v1:<keyId>:…`, sealed by identity's `SecretBox`). */
export const ENVELOPE_PREFIX = "enc:v1:"

/**
 * Opens every `enc:v1:` envelope held (as `Redacted`) at a secret path of `tree` with `open`, keeping the result
 * `Redacted`; other values are kept. Without `open` an envelope fails with its path (an encrypted secret needs a
 * key provider). The failure is `{ path, reason }`, never the envelope's text.
 */
export const openEnvelopes = (
  tree: unknown,
  open: ((envelope: string) => Effect.Effect<Redacted.Redacted<string>, { readonly message: string }>) | undefined,
  at: ConfigPath = []
): Effect.Effect<unknown, { readonly path: string; readonly reason: string }> =>
  Effect.suspend(() => {
    if (isSecretPath(at)) {
      const raw = Redacted.isRedacted(tree) ? Redacted.value(tree) : tree
      if (typeof raw !== "string" || !raw.startsWith(ENVELOPE_PREFIX)) return Effect.succeed(tree)
      const path = at.join(".")
      if (open === undefined) {
        return Effect.fail({ path, reason: "an encrypted secret, but no key provider is configured" })
      }
      return open(raw).pipe(Effect.mapError((e) => ({ path, reason: e.message })))
    }
    if (at.length >= SECRET_DEPTH || !(Array.isArray(tree) || isRawObject(tree))) {
      return Effect.succeed(tree)
    }
    if (Array.isArray(tree)) {
      return Effect.forEach(tree, (child, index) => openEnvelopes(child, open, [...at, String(index)]))
    }
    return Effect.map(
      Effect.forEach(
        Object.entries(tree),
        ([key, child]) => Effect.map(openEnvelopes(child, open, [...at, key]), (v) => [key, v] as const)
      ),
      (entries) => {
        const out = Object.create(null) as { [key: string]: unknown } // no prototype, as in wrapSecrets
        for (const [key, v] of entries) out[key] = v
        return out
      }
    )
  })
