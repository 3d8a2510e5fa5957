/**
 * `SecretDetector`: finds credentials in text and masks them. Rules (`internal/secretRules.ts`): provider keys —
 * OpenAI `sk-` / `sk-proj-`, Anthropic `sk-ant-api03-…`, AWS access key ids and secret keys, GitHub `ghp_` /
 * `github_pat_`, GitLab, Slack tokens and webhooks, Stripe, Google, npm, PyPI, Mailchimp, SendGrid, Discord —, JWTs
 * (only when the header decodes to JSON with `alg`), PEM private keys, passwords in URLs, `Bearer` tokens, and
 * generic high-entropy values assigned to a credential name (`client_secret = "…"`). Placeholders (`xxxx`, `your_key`,
 * `example`, `${VAR}`) are not secrets.
 *
 * `maskSecrets(text)` is pure and total — it never throws and returns the text unchanged when it holds no secret — so
 * loggers, telemetry handlers and error renderers can run it on every string they emit (`maskDeep` walks records,
 * copy-on-write: a value with no secret is returned as is, the same reference; at any depth — past its first 8
 * levels it goes on with `maskTree`, an iterative walk with no depth bound, so no nesting hides a secret).
 * `maskTree` with `keys` also masks the value of every record key that names a credential (`isCredentialKey`:
 * `authorization`, `x-api-key`, `apiKey`, `password`, `cookie`, `…_secret`, `…_token`…) and secrets used as keys:
 * what a store of inputs (the dead-letter queue) needs, where a plain-looking value under such a key is a secret. Its hot-path shortcuts: a string
 * shorter than 8 characters is clean; `mayHoldSecret`, one pass over the characters with no regex, rules out text
 * with no long token-like run (see its doc); then one case-insensitive scan for the rules' candidate prefixes
 * (`sk-`, `AKIA`, `ghp_`, `eyJ`, `key`, `token`…); and short strings once found clean are remembered (a bounded
 * set). Only then do the full rules run. `maskSecretsReference` runs every rule on every string, and property tests
 * check that the shortcuts give the same text. The telemetry hub masks every event's metadata, span attribute and exception reason it
 * emits (`TelemetryHub`), and `Troupe.layer` installs `maskingLoggerLayer`, which wraps every logger of the context
 * so that every message is masked; `maskingLogger` and `maskingHandler` wrap one logger or one
 * telemetry handler. Peers: gitleaks, detect-secrets, llm-guard's `Secrets` scanner. Hand-rolled.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Logger } from "effect"
import type { Handler } from "../telemetry/index.ts"
import { maskCause } from "./internal/maskCause.ts"
import { profile } from "./internal/profile.ts"
import { SECRET_RULES } from "./internal/secretRules.ts"
import type { SecretRule } from "./internal/secretRules.ts"
import type { Finding } from "./Verdict.ts"
import { replaceSpans, resolveOverlaps } from "./Verdict.ts"

export type { SecretRule } from "./internal/secretRules.ts"

/** A secret found in text: its type (e.g. `openai-key`) and span. */
export interface SecretFinding extends Finding {
  readonly type: string
}

const PREFILTER =
  /sk-|AKIA|ASIA|A[BCGINPR][A-Z]{2}[A-Z0-9]{16}|aws|gh[pousr]_|github_pat_|gl[a-z]{1,4}-|xox|hooks\.slack|_live_|_test_|AIza|npm|pypi-|-us\d|SG\.|\.[A-Za-z0-9_-]{6}\.|eyJ|PRIVATE KEY|:\/\/[^\s/]*:[^\s/]*@|Bearer|key|secret|token|passw|pwd|credential/i

/**
 * The secrets in `text`, non-overlapping, in text order (pure).
 *
 * @example
 * ```ts
 * detectSecrets('OPENAI_API_KEY="sk-proj-…"') // [{ type: "OPENAI_API_KEY", start, end, … }]
 * ```
 */
export const detectSecrets = (text: string, rules: ReadonlyArray<SecretRule> = SECRET_RULES): Array<SecretFinding> =>
  text.length < 8 || (rules === SECRET_RULES && !mayHoldSecret(text)) || !PREFILTER.test(text)
    ? []
    : scan(text, rules, true)

/**
 * The one-scan pre-check of the built-in rules: `false` only when no rule can match. Every rule but two needs a run of
 * at least 15 token characters (`[A-Za-z0-9._~+/=-]`) holding a digit, an upper-case letter or one of `_-+/=~`
 * (provider prefixes, high-entropy values), or a dot-free run of 24 (Discord, long values); the other two need the
 * literals `PRIVATE KEY` and `://`. So a text of plain words and dotted lower-case names (`chat.completions`,
 * `troupe.llm.call.stop`) is clean after one pass over its characters, without a regex.
 */
export const mayHoldSecret = (text: string): boolean =>
  profile(text).secretRun || text.includes("://") || text.includes("PRIVATE KEY")

/** Every rule over `text`; `hints`: skip a rule whose literal hint is absent (the reference runs without). */
const scan = (text: string, rules: ReadonlyArray<SecretRule>, hints: boolean): Array<SecretFinding> => {
  const found: Array<SecretFinding> = []
  for (const rule of rules) {
    if (hints && rule.hint !== undefined && !text.includes(rule.hint)) continue
    if (rule.find !== undefined) {
      let n = 0
      for (let m = rule.find(text, 0); m !== null && n < 1000; m = rule.find(text, m.end), n++) {
        const value = text.slice(m.index, m.end)
        if (value === "" || (rule.validate !== undefined && !rule.validate(value))) continue
        found.push({
          rule: `secret.${rule.type.toLowerCase()}`,
          type: rule.type,
          start: m.index,
          end: m.end,
          score: 0.95
        })
      }
      continue
    }
    rule.re.lastIndex = 0
    let n = 0
    for (let m = rule.re.exec(text); m !== null && n < 1000; m = rule.re.exec(text), n++) {
      if (m[0].length === 0) {
        rule.re.lastIndex++
        continue
      }
      const value = m[rule.group ?? 0]
      if (value === undefined || value === "") continue
      if (rule.validate !== undefined && !rule.validate(value)) continue
      const start = m.index + m[0].indexOf(value)
      found.push({
        rule: `secret.${rule.type.toLowerCase()}`,
        type: rule.type,
        start,
        end: start + value.length,
        score: 0.95
      })
    }
  }
  return resolveOverlaps(found)
}

// Short strings found clean, remembered so that the names a hot path emits again and again (models, providers,
// routes) cost one lookup; bounded (cleared when full), and only clean strings are kept.
const cleanCache = new Set<string>()
const cleanCacheMax = 1024
const cacheableLength = 64

/** `text` with every secret replaced by `[REDACTED:<TYPE>]` (pure, total). */
export const maskSecrets = (text: string): string => {
  if (text.length < 8) return text
  const cacheable = text.length <= cacheableLength
  if (cacheable && cleanCache.has(text)) return text
  try {
    const found = detectSecrets(text)
    if (found.length === 0) {
      if (cacheable) {
        if (cleanCache.size >= cleanCacheMax) cleanCache.clear()
        cleanCache.add(text)
      }
      return text
    }
    return replaceSpans(text, found, (f) => `[REDACTED:${f.type}]`)
  } catch {
    return "[REDACTED]" // fail closed
  }
}

/**
 * The reference for `maskSecrets`: every rule on every string, no pre-check and no rule hints (slow; for tests that
 * check the shortcut loses nothing).
 */
export const maskSecretsReference = (text: string): string => {
  const found = resolveOverlaps(scan(text, SECRET_RULES, false))
  return found.length === 0 ? text : replaceSpans(text, found, (f) => `[REDACTED:${f.type}]`)
}

const isPlain = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

const maskError = (error: Error): Error => {
  const message = maskSecrets(error.message)
  if (message === error.message) return error
  const copy = new Error(message)
  copy.name = error.name
  return copy
}

/**
 * Masks every string in a value (plain records and arrays; an `Error`'s message too), copy-on-write: what holds no
 * secret is returned as is (the same reference). Other objects (class instances, maps) are kept. No depth bound
 * leaves a value unmasked: the first 8 levels are walked recursively (the hot path of loggers and telemetry), what
 * lies deeper by `maskTree`'s iterative walk.
 */
export const maskDeep = (value: unknown, depth = 0): unknown => {
  if (typeof value === "string") return maskSecrets(value)
  if (value === null || typeof value !== "object") return value
  if (depth > 8) return maskTree(value)
  if (Array.isArray(value)) {
    let out: Array<unknown> | undefined
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i]
      const m = maskDeep(v, depth + 1)
      if (m !== v) (out ??= [...value])[i] = m
    }
    return out ?? value
  }
  if (value instanceof Error) return maskError(value)
  if (!isPlain(value)) return value
  let out: Record<string, unknown> | undefined
  const record = value as Record<string, unknown> // a plain object
  for (const k in record) {
    if (!Object.hasOwn(record, k)) continue
    const v = record[k]
    const m = typeof v === "string" ? maskSecrets(v) : typeof v === "object" && v !== null ? maskDeep(v, depth + 1) : v
    if (m !== v) setOwn(out ??= { ...record }, k, m)
  }
  return out ?? value
}

/** `out[key] = value` as an own property, also for `__proto__` (which an assignment would take as the prototype). */
const setOwn = (out: Record<string, unknown>, key: string, value: unknown): void => {
  if (key === "__proto__") {
    Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true })
  } else out[key] = value
}

// record keys whose value is a credential whatever it looks like, compared lower-cased without `-`, `_`, `.` and
// spaces: these names exactly, or a name ending in one of the suffixes
const CREDENTIAL_NAMES = new Set(
  "authorization proxyauthorization cookie setcookie passwd pwd passphrase credential credentials".split(" ")
)
const CREDENTIAL_SUFFIXES = ["apikey", "password", "secret", "token", "privatekey", "secretkey", "secretaccesskey"]

/**
 * Whether a record key names a credential, so that its value is masked whatever it looks like (`maskTree` with
 * `keys`). Compared lower-cased with `-`, `_`, `.` and spaces removed: `authorization`, `proxy-authorization`,
 * `cookie`, `set-cookie`, `passwd`, `pwd`, `passphrase`, `credential(s)`, or any name ending in `apikey`
 * (`x-api-key`, `api_key`, `openaiApiKey`), `password`, `secret` (`client_secret`), `token` (`access_token`,
 * `x-auth-token`; not `max_tokens`), `privatekey` or `secretkey`. The headers and fields that carry keys, plus the
 * names `llm/internal/SecretScrub.ts` masks in `key=value` text.
 */
export const isCredentialKey = (key: string): boolean => {
  const k = key.toLowerCase().replace(/[-_.\s]/g, "")
  return CREDENTIAL_NAMES.has(k) || CREDENTIAL_SUFFIXES.some((suffix) => k.endsWith(suffix))
}

/** What `maskTree` with `keys` puts in place of a credential-named key's value. */
export const CREDENTIAL_MASK = "[REDACTED:CREDENTIAL]"

/** Options of `maskTree`. */
export interface MaskTreeOptions {
  /**
   * Also look at record keys (default false): the value of a key that names a credential (`isCredentialKey`) — a
   * non-empty string, a number, or such an element of an array under that key — becomes `CREDENTIAL_MASK`, and a
   * key that holds a secret is masked itself. What a store of inputs needs (the dead-letter queue); loggers and
   * telemetry mask strings only.
   */
  readonly keys?: boolean
}

/** A record or an array being walked by `maskTree`. */
interface Frame {
  readonly source: ReadonlyArray<unknown> | Readonly<Record<string, unknown>>
  /** the record's own keys; undefined for an array */
  readonly keys: ReadonlyArray<string> | undefined
  /** an array that is a credential key's value (`keys` mode): its strings and numbers are masked whole */
  readonly credential: boolean
  index: number
  out: Array<unknown> | Record<string, unknown> | undefined
}

const walkable = (v: unknown): v is ReadonlyArray<unknown> | Readonly<Record<string, unknown>> =>
  typeof v === "object" && v !== null && (Array.isArray(v) || isPlain(v))

/**
 * `maskDeep` as one iterative walk: no depth bound and no recursion (a value nested 100,000 levels is masked
 * without overflowing the stack), every string masked, copy-on-write (what holds no secret is the same reference).
 * Each object is walked once: a shared reference gets the same masked copy, and a reference back to an enclosing
 * object (a cycle) is kept as is. Plain records and arrays are walked, an `Error`'s message masked, other objects
 * kept. With `keys`, credential-named keys are masked too (see `MaskTreeOptions`).
 */
export const maskTree = (value: unknown, options: MaskTreeOptions = {}): unknown => {
  if (typeof value === "string") return maskSecrets(value)
  if (value instanceof Error) return maskError(value)
  if (!walkable(value)) return value
  const keyed = options.keys === true
  const done = new Map<object, unknown>()
  const onPath = new Set<object>()
  const frameOf = (source: ReadonlyArray<unknown> | Readonly<Record<string, unknown>>, credential: boolean): Frame => {
    onPath.add(source)
    return {
      source,
      keys: Array.isArray(source) ? undefined : Object.keys(source),
      credential,
      index: 0,
      out: undefined
    }
  }
  // puts the masked value of the frame's current child in its copy, making the copy at the first change
  const deliver = (f: Frame, masked: unknown): void => {
    if (f.keys === undefined) {
      const source = f.source as ReadonlyArray<unknown> // keys undefined: an array
      if (f.out === undefined && masked === source[f.index]) return
      const out = (f.out ??= [...source]) as Array<unknown> // an array frame's copy is an array
      out[f.index] = masked
      return
    }
    const source = f.source as Readonly<Record<string, unknown>> // keys defined: a record
    const key = f.keys[f.index] as string // index < keys.length
    const outKey = keyed ? maskSecrets(key) : key
    if (f.out === undefined) {
      if (masked === source[key] && outKey === key) return
      const out: Record<string, unknown> = {}
      for (let j = 0; j < f.index; j++) setOwn(out, f.keys[j] as string, source[f.keys[j] as string]) // j < index
      f.out = out
    }
    setOwn(f.out as Record<string, unknown>, outKey, masked)
  }
  const stack: Array<Frame> = [frameOf(value, false)]
  let result: unknown = value
  while (stack.length > 0) {
    const f = stack[stack.length - 1] as Frame // length > 0
    const size = f.keys === undefined ? (f.source as ReadonlyArray<unknown>).length : f.keys.length
    if (f.index >= size) {
      stack.pop()
      onPath.delete(f.source)
      const masked = f.out ?? f.source
      done.set(f.source, masked)
      const parent = stack[stack.length - 1]
      if (parent === undefined) result = masked
      else {
        deliver(parent, masked)
        parent.index++
      }
      continue
    }
    const key = f.keys?.[f.index]
    const child: unknown = key === undefined
      ? (f.source as ReadonlyArray<unknown>)[f.index] // an array
      : (f.source as Readonly<Record<string, unknown>>)[key] // a record
    const credential = keyed && (key === undefined ? f.credential : isCredentialKey(key))
    if (typeof child === "string") {
      deliver(f, credential && child !== "" ? CREDENTIAL_MASK : maskSecrets(child))
    } else if (typeof child === "number" && credential) {
      deliver(f, CREDENTIAL_MASK)
    } else if (child instanceof Error) {
      deliver(f, maskError(child))
    } else if (walkable(child)) {
      if (done.has(child)) deliver(f, done.get(child))
      else if (onPath.has(child)) deliver(f, child)
      else {
        stack.push(frameOf(child, credential && Array.isArray(child)))
        continue
      }
    } else {
      deliver(f, child)
    }
    f.index++
  }
  return result
}

/**
 * `maskDeep` for a record known to be one (telemetry metadata, span attributes): the same result, without the
 * type tests on the record itself (the hub's hot path).
 */
export const maskRecord = <R extends Readonly<Record<string, unknown>>>(record: R): R => {
  let out: Record<string, unknown> | undefined
  for (const k in record) {
    const v = record[k]
    const m = typeof v === "string" ? maskSecrets(v) : typeof v === "object" && v !== null ? maskDeep(v, 1) : v
    if (m !== v) (out ??= { ...record })[k] = m
  }
  return (out ?? record) as R // a copy of R with some strings replaced by strings
}

/**
 * A logger that masks secrets in every message (and an `Error` in it) and in the cause of the line (each failure
 * and defect as `Cause.pretty` renders it, of the same kind) before `logger` sees them.
 */
export const maskingLogger = <Output>(logger: Logger.Logger<unknown, Output>): Logger.Logger<unknown, Output> =>
  Logger.make((options) =>
    logger.log({ ...options, message: maskDeep(options.message), cause: maskCause(options.cause, maskSecrets) })
  )

/**
 * Replaces every logger of the context with its `maskingLogger`: what `Troupe.layer` installs, so that every
 * message any troupe service or the application logs is masked by default.
 */
export const maskingLoggerLayer: Layer.Layer<never> = Layer.unwrap(
  Effect.gen(function*() {
    const loggers = yield* Logger.CurrentLoggers
    return Logger.layer([...loggers].map((l) => maskingLogger(l)))
  })
)

/** A telemetry handler that receives every event with the secrets in its metadata strings masked. */
export const maskingHandler = (handler: Handler): Handler => (event) =>
  handler({ ...event, metadata: maskDeep(event.metadata) as typeof event.metadata }) // maskDeep keeps a record a record

/** The `SecretDetector` service: finds secrets and masks them. */
export interface SecretDetectorShape {
  readonly detect: (text: string) => ReadonlyArray<SecretFinding>
  readonly mask: (text: string) => string
}

/**
 * Finds API keys, tokens and private keys by provider-specific patterns and entropy; `maskSecrets` masks every one.
 */
export class SecretDetector
  extends Context.Service<SecretDetector, SecretDetectorShape>()("troupe/guard/SecretDetector")
{
  /** The detector with the built-in rules and `options.rules` after them. */
  static readonly layer = (
    options: { readonly rules?: ReadonlyArray<SecretRule> } = {}
  ): Layer.Layer<SecretDetector> => {
    const rules = [...SECRET_RULES, ...(options.rules ?? [])]
    return Layer.succeed(SecretDetector, {
      detect: (text) => detectSecrets(text, rules),
      mask: (text) => {
        const found = detectSecrets(text, rules)
        return found.length === 0 ? text : replaceSpans(text, found, (f) => `[REDACTED:${f.type}]`)
      }
    })
  }
}
