/**
 * The secret rules: provider key formats (OpenAI, Anthropic, AWS, GitHub, GitLab, Slack, Stripe, Google, npm, PyPI,
 * Mailchimp, SendGrid, Discord), JWTs (the header must decode to JSON with `alg`), PEM private keys, credentials in
 * URLs, `Bearer` tokens, and credential assignments (`api_key = "…"`, the value high-entropy and not a placeholder).
 * Our own patterns, in the spirit of gitleaks and detect-secrets. Each is linear (bounded classes, no nesting).
 */
import { Buffer } from "node:buffer"
import { entropy } from "./fold.ts"

export interface SecretRule {
  readonly type: string
  readonly re: RegExp
  /** The capture group holding the secret (default 0: the whole match). */
  readonly group?: number
  readonly validate?: (value: string) => boolean
  /** A substring the text must contain before the regex runs (a speed-up; case-insensitive when lower case). */
  readonly hint?: string
}

const PLACEHOLDER =
  /x{6,}|X{6,}|\*{4,}|(?:your|my)[_-]?(?:api[_-]?)?(?:key|token|secret)|example|placeholder|dummy|sample|changeme|redacted|fake|here|insert|<[^>]*>|\$\{|%s|\{\{/i

/** Not a placeholder: varied characters and no filler words. */
export const notPlaceholder = (v: string): boolean => {
  if (PLACEHOLDER.test(v)) return false
  const distinct = new Set(v).size
  return distinct >= Math.min(8, Math.ceil(v.length / 3))
}

const jwtValid = (v: string): boolean => {
  const [header] = v.split(".")
  if (header === undefined) return false
  try {
    const json: unknown = JSON.parse(Buffer.from(header, "base64url").toString("utf8"))
    return typeof json === "object" && json !== null && "alg" in json
  } catch {
    return false
  }
}

const discordValid = (v: string): boolean => {
  const id = Buffer.from(v.split(".")[0] ?? "", "base64").toString("latin1")
  return (id.match(/\d/g) ?? []).length >= 12
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const highEntropy = (v: string): boolean => {
  // a bare UUID is usually an identifier; provider rules (npm) catch the UUID-shaped tokens they know
  if (!notPlaceholder(v) || UUID.test(v)) return false
  const hex = /^[0-9a-f]+$/i.test(v)
  const h = entropy(v)
  if (!/\d/.test(v) && !/[A-Z].*[a-z]|[a-z].*[A-Z]/.test(v)) return false
  return hex ? h >= 2.9 : h >= 3.2
}

// the key name must end with a credential word (`sl_api_key`, `SOFTLAYERAPIKEY`, `client_secret`); what precedes it
// does not matter, so the pattern starts at the word (a leading identifier pattern would be tried at every position)
const KEY_NAME =
  "(?:api[_.-]?key|apikey|secret|secret[_.-]?key|client[_.-]?secret|token|auth[_.-]?token|access[_.-]?token|access[_.-]?key|secret[_.-]?access[_.-]?key|passw(?:or)?d|passwd|pwd|credentials?|private[_.-]?key)"

export const SECRET_RULES: ReadonlyArray<SecretRule> = [
  {
    type: "PRIVATE_KEY",
    hint: "PRIVATE KEY",
    re:
      /-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\s:,.\-]{0,20000}?(?:-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----|$)/g
  },
  {
    type: "ANTHROPIC_API_KEY",
    re: /(?<![\w-])sk-ant-(?:api|sid|oat)\d{2}-[A-Za-z0-9_-]{20,200}(?![\w-])/g,
    validate: notPlaceholder
  },
  {
    type: "OPENAI_API_KEY",
    re: /(?<![\w-])sk-(?!ant-)(?:proj-|svcacct-|None-)?[A-Za-z0-9_-]{20,200}(?![\w-])/g,
    validate: (v) => notPlaceholder(v) && /\d/.test(v)
  },
  {
    type: "AWS_ACCESS_KEY_ID",
    re: /(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}(?![A-Z0-9])/g,
    validate: (v) => new Set(v.slice(4)).size >= 4
  },
  {
    type: "AWS_SECRET_ACCESS_KEY",
    re: /aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])/gi,
    group: 1
  },
  {
    type: "GITHUB_TOKEN",
    re: /(?<![\w])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})(?![\w])/g,
    validate: notPlaceholder
  },
  {
    type: "GITLAB_TOKEN",
    re:
      /(?<![\w-])(?:glpat-[A-Za-z0-9_-]{20}|glimt-[A-Za-z0-9_-]{25}|glptt-[A-Za-z0-9_-]{40}|gldt-[A-Za-z0-9_-]{20}|glrt-[A-Za-z0-9_-]{20})(?![\w-])/g
  },
  {
    type: "SLACK_TOKEN",
    re: /(?<![\w-])xox[abposr]-(?:\d{1,20}-){1,4}[A-Za-z0-9]{8,64}(?![\w-])/g,
    validate: notPlaceholder
  },
  {
    type: "SLACK_WEBHOOK",
    re: /https:\/\/hooks\.slack\.com\/services\/T[A-Z0-9]{6,12}\/B[A-Z0-9]{6,12}\/[A-Za-z0-9]{16,32}/g
  },
  { type: "STRIPE_KEY", re: /(?<![\w])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,99}(?![\w])/g, validate: notPlaceholder },
  { type: "GOOGLE_API_KEY", re: /(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])/g },
  {
    type: "NPM_TOKEN",
    re: /\/\/registry\.npmjs\.org\/:_authToken=([A-Za-z0-9_-]{36,})|(?<![\w])npm_[A-Za-z0-9]{36}(?![\w])/g,
    group: 1
  },
  { type: "PYPI_TOKEN", re: /(?<![\w-])pypi-AgE[A-Za-z0-9_-]{120,}/g },
  { type: "MAILCHIMP_KEY", re: /(?<![0-9a-f])[0-9a-f]{32}-us\d{1,2}(?![\w])/g, hint: "-us" },
  { type: "SENDGRID_KEY", re: /(?<![\w])SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![\w-])/g },
  {
    type: "DISCORD_TOKEN",
    hint: ".",
    re: /(?<![\w-])[A-Za-z0-9_-]{24,28}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}(?![\w-])/g,
    validate: discordValid
  },
  {
    type: "JWT",
    hint: "eyJ",
    re: /(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{10,}(?![\w-])/g,
    validate: jwtValid
  },
  {
    type: "URL_CREDENTIALS",
    hint: "://",
    re: /\b[a-z][a-z0-9+.-]{1,15}:\/\/[^\s:/@"';<>]{1,64}:([^\s:/@"';<>]{1,128})@[A-Za-z0-9.-]+/gi,
    group: 1,
    validate: (v) => !/^\d+$/.test(v)
  },
  {
    type: "BEARER_TOKEN",
    hint: "Bearer",
    re: /\bBearer\s+([A-Za-z0-9._~+/-]{20,512}=*)/g,
    group: 1,
    validate: highEntropy
  },
  {
    type: "GENERIC_CREDENTIAL",
    re: new RegExp(`${KEY_NAME}["']?\\s*(?::=|=>|=|:)\\s*["']?([A-Za-z0-9_\\-+/=.]{16,256})["']?`, "gi"),
    group: 1,
    validate: highEntropy
  }
]
