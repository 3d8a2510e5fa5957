/**
 * Masking anything that looks like a credential in a text that is about to reach an error, an event, a log line
 * or a span — a first, pattern-only version of the guardrails' secret detector, kept a pure `(text) => string`.
 *
 * Rules, in the order they apply:
 *
 * 1. **Terminal control is stripped** (`stripControl`): ANSI escape sequences (CSI, OSC, two-byte ESC), C0 and C1
 *    control characters and the Unicode bidi overrides are removed; line breaks and tabs become one space, so a
 *    provider's error body can neither repaint a terminal nor forge a second log line.
 * 2. **Key-shaped tokens are masked** (`maskSecrets`), each replaced by `<redacted>` (a label, such as `Bearer`,
 *    `api_key=` or a URL's scheme, is kept):
 *    provider keys (OpenAI `sk-…`, `sk-proj-…`, `sk-svcacct-…`, Anthropic `sk-ant-…`, Groq `gsk_…`, xAI `xai-…`,
 *    Google `AIza…`), AWS access key ids (`AKIA…`, `ASIA…`) and `aws_secret_access_key=…`, GitHub tokens
 *    (`ghp_…`, `gho_…`, `ghu_…`, `ghs_…`, `ghr_…`, `github_pat_…`), Slack tokens (`xox[abposr]-…`) and webhook
 *    URLs, JWTs (`eyJ….….…`), `Bearer` / `Basic` / `Token` credentials, `key=value` pairs whose key names a secret
 *    (`api_key`, `apikey`, `x-api-key`, `token`, `secret`, `password`, `authorization`), the userinfo of a URL
 *    (`https://user:pass@host` → `https://<redacted>@host`), and any other high-entropy token: 32 or more
 *    characters of `[A-Za-z0-9+/_=-]` mixing upper case, lower case and digits, at 3.5 bits of entropy per
 *    character or more (UUIDs, hex digests and ordinary words do not qualify).
 * 3. **Every step is linear in the text**, whatever the text: provider error bodies and stream chunks are unbounded
 *    and hostile. The patterns either start at a literal prefix and end in a run that fails within a bounded length
 *    or consumes what it scanned; the two that could backtrack over a whole run from every position in it (URL
 *    userinfo, JWTs: seconds for 64 KB of hex) are scans instead (`LinearScans.ts`, property-tested against the
 *    patterns). `maskSecretsUpTo` masks only as far into a text as a cut keeps, plus a margin, ending at whitespace,
 *    which no match spans except a label's separator that stays unmasked.
 *
 * Masking is deliberately over-eager: a response id that looks like a key is masked in an error message, which
 * costs nothing, while a key that slips through costs everything. Exact known secrets (the call's own key) are
 * removed separately, before the patterns, by `scrubSecrets` in `ProviderErrorMapping.ts`, which then cuts the
 * result — scrub first, then cut, so no prefix of a key survives the cut.
 *
 * Hand-rolled: nothing in Effect detects secrets; the patterns follow the token formats the issuers document.
 *
 * @since 0.1.0
 */
import { entropy } from "../../guard/internal/fold.ts"
import { isSpace, maskJwts, maskUrlUserinfo } from "./LinearScans.ts"

/** What a masked token is replaced by. */
export const REDACTED = "<redacted>"

// ESC-introduced sequences: CSI (ESC [ … final), OSC (ESC ] … BEL or ESC \), and two-byte escapes.
const ANSI =
  // eslint-disable-next-line no-control-regex
  /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-Z\\-_]|\u009b[0-?]*[ -/]*[@-~]/g
// eslint-disable-next-line no-control-regex
const LINE_BREAKS = /[\t\n\r\u000b\u000c\u0085\u2028\u2029]+/g
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/**
 * Removes ANSI escapes, control characters and bidi overrides; line breaks and tabs become one space.
 *
 * @example
 * ```ts
 * stripControl("\u001b[31mred\u001b[0m\nforged line") // "red forged line"
 * ```
 */
export const stripControl = (text: string): string =>
  text.replace(ANSI, "").replace(LINE_BREAKS, " ").replace(CONTROL, "")

/** One mask: the text with every match of one rule replaced. */
type Mask = (text: string) => string

/** A pattern's mask; `keep` is the number of leading capture groups kept in front of `<redacted>`. */
const rule = (pattern: RegExp, keep = 0): Mask => (text) =>
  text.replace(pattern, (...groups: Array<unknown>) => {
    let kept = ""
    // checked to be a string in the same expression
    for (let i = 1; i <= keep; i++) kept += typeof groups[i] === "string" ? groups[i] as string : ""
    return kept + REDACTED
  })

// Every pattern is linear in the text: a literal prefix or a run that fails within a bounded length or consumes
// what it scanned. The two rules whose patterns were not (URL userinfo, JWTs) are scans (`LinearScans.ts`).
const RULES: ReadonlyArray<Mask> = [
  // URL userinfo: scheme://user:pass@host → scheme://<redacted>@host
  (text) => maskUrlUserinfo(text, REDACTED),
  // Slack incoming-webhook URLs
  rule(/https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]+/g),
  // Authorization schemes
  rule(/\b(Bearer|Basic|Token)(\s+)[A-Za-z0-9._~+/=-]{6,}/g, 2),
  // key=value / "key": "value" pairs naming a secret
  rule(
    /(\b(?:api[_-]?key|x-api-key|access[_-]?token|auth[_-]?token|token|secret|password|passwd|authorization|aws_secret_access_key)["']?\s*[:=]\s*["']?)(?!<redacted>|Bearer\b|Basic\b|Token\b)[^\s"',;&}]{4,}/gi,
    1
  ),
  // provider keys
  rule(/\bsk-(?:proj-|svcacct-|admin-|ant-(?:api\d{2}-|admin\d{2}-)?)?[A-Za-z0-9_*.-]{8,}/g),
  rule(/\bgsk_[A-Za-z0-9]{8,}/g),
  rule(/\bxai-[A-Za-z0-9]{8,}/g),
  rule(/\bAIza[0-9A-Za-z_-]{10,}/g),
  // AWS access key ids
  rule(/\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b/g),
  // GitHub
  rule(/\bgh[pousr]_[A-Za-z0-9]{20,}/g),
  rule(/\bgithub_pat_[A-Za-z0-9_]{20,}/g),
  // Slack tokens
  rule(/\bxox[abposr]-[A-Za-z0-9-]{10,}/g),
  // JWT
  (text) => maskJwts(text, REDACTED)
]

const CANDIDATE = /[A-Za-z0-9+/_=-]{32,}/g

/** Whether a long token looks random enough to be a credential. */
export const isHighEntropyToken = (token: string): boolean =>
  token.length >= 32 && /[a-z]/.test(token) && /[A-Z]/.test(token) && /[0-9]/.test(token) && entropy(token) >= 3.5

/**
 * Masks every key-shaped token of `text` (see the module doc for the list). Pure; does not strip control
 * characters (see {@link sanitize}).
 *
 * @example
 * ```ts
 * maskSecrets("Incorrect API key provided: sk-proj-abcdefghijklmnop") // "Incorrect API key provided: <redacted>"
 * maskSecrets("Authorization: Bearer abc.def.ghi123")                // "Authorization: Bearer <redacted>" (the labels kept)
 * ```
 */
export const maskSecrets = (text: string): string => {
  let out = text
  for (const mask of RULES) out = mask(out)
  return out.replace(CANDIDATE, (token) => (isHighEntropyToken(token) ? REDACTED : token))
}

/** What {@link maskSecretsUpTo} masked. */
export interface MaskedPrefix {
  /** `maskSecrets(text)` when `complete`, else a prefix of it at least `keep` long (and shorter than all of it) */
  readonly masked: string
  readonly complete: boolean
}

/** The index of the first whitespace character of `text` at or after `from`, else -1. */
const spaceFrom = (text: string, from: number): number => {
  for (let i = from; i < text.length; i++) if (isSpace(text.charCodeAt(i))) return i
  return -1
}

/**
 * At least the first `keep` characters of `maskSecrets(text)`, masking no more of `text` than that needs (plus a
 * margin): the text is masked up to a whitespace character at least `2 × keep + 64` characters in. That prefix
 * masks to a prefix of the whole masking, because no match of any rule spans whitespace except the label and the
 * separator that `Bearer` and `key=value` keep unmasked (their value, which is masked, starts after it); and the
 * whitespace itself is never masked, so the whole masking is longer. When masking shrank the prefix below `keep`
 * characters, a prefix four times as long is tried; with no whitespace far enough in, all of `text` is masked.
 *
 * @example
 * ```ts
 * maskSecretsUpTo(hugeErrorBody, 500) // { masked: "…at least 500 characters", complete: false }
 * ```
 */
export const maskSecretsUpTo = (text: string, keep: number): MaskedPrefix => {
  let window = 2 * keep + 64
  while (window < text.length) {
    const cut = spaceFrom(text, window)
    if (cut < 0) break
    const masked = maskSecrets(text.slice(0, cut))
    if (masked.length >= keep) return { masked, complete: false }
    window = 4 * cut
  }
  return { masked: maskSecrets(text), complete: true }
}

/**
 * `stripControl` then `maskSecrets`: what every provider-derived text goes through before it reaches a message.
 *
 * @example
 * ```ts
 * sanitize("\u001b[2Jkey: sk-ant-api03-abcdefghijkl\r\nInjected") // "key: <redacted> Injected"
 * ```
 */
export const sanitize = (text: string): string => maskSecrets(stripControl(text))

/** Whether `url` carries a user name or password (`https://user:pass@host`). Unparseable URLs: `false`. */
export const hasUserinfo = (url: string): boolean => {
  if (!URL.canParse(url)) return false
  const parsed = new URL(url)
  return parsed.username !== "" || parsed.password !== ""
}

/**
 * `url` without its userinfo, query and fragment (which can carry keys, e.g. Google's `?key=`), for messages.
 *
 * @example
 * ```ts
 * redactUrl("https://user:pw@proxy.example/v1?key=AIza123") // "https://<redacted>@proxy.example/v1"
 * ```
 */
export const redactUrl = (url: string): string => {
  if (!URL.canParse(url)) return sanitize(url)
  const parsed = new URL(url)
  const userinfo = parsed.username !== "" || parsed.password !== "" ? `${REDACTED}@` : ""
  return `${parsed.protocol}//${userinfo}${parsed.host}${parsed.pathname}`
}
