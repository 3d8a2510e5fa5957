/**
 * `SecretDetector`: finds credentials in text and masks them. Rules (`internal/secretRules.ts`): provider keys —
 * OpenAI `sk-` / `sk-proj-`, Anthropic `sk-ant-api03-…`, AWS access key ids and secret keys, GitHub `ghp_` /
 * `github_pat_`, GitLab, Slack tokens and webhooks, Stripe, Google, npm, PyPI, Mailchimp, SendGrid, Discord —, JWTs
 * (only when the header decodes to JSON with `alg`), PEM private keys, passwords in URLs, `Bearer` tokens, and
 * generic high-entropy values assigned to a credential name (`client_secret = "…"`). Placeholders (`xxxx`, `your_key`,
 * `example`, `${VAR}`) are not secrets.
 *
 * `maskSecrets(text)` is pure and total — it never throws and returns the text unchanged when it holds no secret — so
 * loggers, telemetry handlers and error renderers can run it on every string they emit (`maskDeep` walks records).
 * `maskingLogger` wraps an Effect `Logger` so that every message is masked, and `maskingHandler` a telemetry handler
 * so that every metadata string it receives is masked (the hub itself is not changed: masking is opt-in per sink). Peers: gitleaks, detect-secrets,
 * llm-guard's `Secrets` scanner. Hand-rolled.
 *
 * @since 0.1.0
 */
import { Context, Layer, Logger } from "effect"
import type { Handler } from "../telemetry/index.ts"
import { SECRET_RULES } from "./internal/secretRules.ts"
import type { SecretRule } from "./internal/secretRules.ts"
import type { Finding } from "./Verdict.ts"
import { replaceSpans, resolveOverlaps } from "./Verdict.ts"

export type { SecretRule } from "./internal/secretRules.ts"

export interface SecretFinding extends Finding {
  readonly type: string
}

const PREFILTER = /sk-|AKIA|ASIA|A[BCGINPR][A-Z]{2}[A-Z0-9]{16}|aws|gh[pousr]_|github_pat_|gl[a-z]{1,4}-|xox|hooks\.slack|_live_|_test_|AIza|npm|pypi-|-us\d|SG\.|\.[A-Za-z0-9_-]{6}\.|eyJ|PRIVATE KEY|:\/\/[^\s/]*:[^\s/]*@|Bearer|key|secret|token|passw|pwd|credential/i

/**
 * The secrets in `text`, non-overlapping, in text order (pure).
 *
 * @example
 * ```ts
 * detectSecrets('OPENAI_API_KEY="sk-proj-…"') // [{ type: "OPENAI_API_KEY", start, end, … }]
 * ```
 */
export const detectSecrets = (text: string, rules: ReadonlyArray<SecretRule> = SECRET_RULES): Array<SecretFinding> => {
  if (text.length < 8 || !PREFILTER.test(text)) return []
  const found: Array<SecretFinding> = []
  for (const rule of rules) {
    if (rule.hint !== undefined && !text.includes(rule.hint)) continue
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
      found.push({ rule: `secret.${rule.type.toLowerCase()}`, type: rule.type, start, end: start + value.length, score: 0.95 })
    }
  }
  return resolveOverlaps(found)
}

/** `text` with every secret replaced by `[REDACTED:<TYPE>]` (pure, total). */
export const maskSecrets = (text: string): string => {
  try {
    const found = detectSecrets(text)
    return found.length === 0 ? text : replaceSpans(text, found, (f) => `[REDACTED:${f.type}]`)
  } catch {
    return text.length > 0 ? "[REDACTED]" : text // fail closed
  }
}

/** Masks every string in a value (records, arrays), depth-bounded; other values are kept. */
export const maskDeep = (value: unknown, depth = 0): unknown => {
  if (typeof value === "string") return maskSecrets(value)
  if (depth > 8 || value === null || typeof value !== "object") return value
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = maskDeep(v, depth + 1)
  return out
}

/** A logger that masks secrets in every message before `logger` sees it. */
export const maskingLogger = <Output>(logger: Logger.Logger<unknown, Output>): Logger.Logger<unknown, Output> =>
  Logger.make((options) => logger.log({ ...options, message: maskDeep(options.message) }))

/** A telemetry handler that receives every event with the secrets in its metadata strings masked. */
export const maskingHandler = (handler: Handler): Handler => (event) =>
  handler({ ...event, metadata: maskDeep(event.metadata) as typeof event.metadata }) // maskDeep keeps a record a record

export interface SecretDetectorShape {
  readonly detect: (text: string) => ReadonlyArray<SecretFinding>
  readonly mask: (text: string) => string
}

export class SecretDetector extends Context.Service<SecretDetector, SecretDetectorShape>()("troupe/guard/SecretDetector") {
  static readonly layer = (extraRules: ReadonlyArray<SecretRule> = []): Layer.Layer<SecretDetector> => {
    const rules = [...SECRET_RULES, ...extraRules]
    return Layer.succeed(SecretDetector, {
      detect: (text) => detectSecrets(text, rules),
      mask: (text) => {
        const found = detectSecrets(text, rules)
        return found.length === 0 ? text : replaceSpans(text, found, (f) => `[REDACTED:${f.type}]`)
      }
    })
  }
}
