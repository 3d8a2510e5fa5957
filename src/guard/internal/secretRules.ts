/**
 * The secret rules: provider key formats (OpenAI, Anthropic, AWS, GitHub, GitLab, Slack, Stripe, Google, npm, PyPI,
 * Mailchimp, SendGrid, Discord), JWTs (the header must decode to JSON with `alg`), PEM private keys, credentials in
 * URLs, `Bearer` tokens, and credential assignments (`api_key = "…"`, the value high-entropy and not a placeholder).
 * Our own patterns, in the spirit of gitleaks and detect-secrets. Each is linear (bounded classes, no nesting); the
 * PEM rule's lazy body would be rescanned from every header, so it is matched by `findPrivateKey` in one pass (its
 * regex kept as the reference).
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
  /**
   * A linear matcher for the whole match (`group` 0) that finds the same matches as `re`, from `from` on (then `re` is
   * only the reference), for a rule whose regex rescans on crafted input.
   */
  readonly find?: (text: string, from: number) => { readonly index: number; readonly end: number } | null
}

const PEM_HEADER = /-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----/g
const PEM_FOOTER = /-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----/g
const PEM_MAX_BODY = 20_000
/** A character of a PEM body: `[A-Za-z0-9+/=\s:,.\-]`. */
const PEM_BODY = /[A-Za-z0-9+/=\s:,.\-]/

/**
 * The PRIVATE_KEY rule in one pass: a header, then a body of PEM characters up to its first END line (or the end of the
 * text) within 20,000 characters — what the reference regex's lazy body finds, without rescanning the body from every
 * header. The end of a header's body run and the next END line are remembered across headers, so each character is
 * read about once.
 */
const findPrivateKey = (() => {
  let cachedText: string | undefined
  let runFrom = -1 // [runFrom, runEnd): a run of body characters
  let runEnd = -1
  let footerAt = -2 // the first END line at or after `footerFrom` (-1: none), and its end
  let footerFrom = -1
  let footerEnd = -1
  return (text: string, from: number): { readonly index: number; readonly end: number } | null => {
    if (cachedText !== text) {
      cachedText = text
      runFrom =
        runEnd =
        footerFrom =
        footerEnd =
          -1
      footerAt = -2
    }
    PEM_HEADER.lastIndex = from
    for (let h = PEM_HEADER.exec(text); h !== null; h = PEM_HEADER.exec(text)) {
      const body = h.index + h[0].length
      if (!(body >= runFrom && body <= runEnd)) {
        runFrom = body
        runEnd = body
        while (runEnd < text.length && PEM_BODY.test(text[runEnd]!)) runEnd++
      }
      if (footerAt === -2 || body < footerFrom || (footerAt >= 0 && footerAt < body)) {
        footerFrom = body
        PEM_FOOTER.lastIndex = body
        const f = PEM_FOOTER.exec(text)
        footerAt = f === null ? -1 : f.index
        footerEnd = f === null ? -1 : f.index + f[0].length
      }
      const reach = Math.min(runEnd, body + PEM_MAX_BODY) // the lazy body may stop anywhere up to here
      if (footerAt >= 0 && footerAt <= reach) return { index: h.index, end: footerEnd }
      if (runEnd === text.length && text.length <= reach) return { index: h.index, end: text.length }
      PEM_HEADER.lastIndex = h.index + 1
    }
    return null
  }
})()

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
      /-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\s:,.\-]{0,20000}?(?:-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----|$)/g,
    find: findPrivateKey
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
