/**
 * Two of `SecretScrub`'s masks as scans linear in the text, in place of the backtracking patterns they replace:
 *
 * - **URL userinfo** — what `/([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi` replaced by `$1<redacted>@`: every `://` is
 *   found with `indexOf`, its scheme is the first ASCII letter of the run of scheme characters (`[A-Za-z0-9+.-]`)
 *   just before it, the userinfo the run of characters other than whitespace, `/`, `?`, `#` and `@` just after it,
 *   which must be non-empty and end at an `@`.
 * - **JWTs** — what `/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\/g` replaced: every `eyJ` not
 *   preceded by a word character, then two runs of at least 4 base64url characters, each ended by `.`, then a run
 *   of any length.
 *
 * Matches do not overlap and are taken from left to right, as a global `replace` takes them. The patterns were
 * quadratic: from every start inside a long run of scheme (or base64url) characters they scanned the whole run
 * again, so 64 KB of hex took seconds and 1 MB minutes. A scan reads each character a bounded number of times: a
 * failed start skips the run it read, since every later start inside that run ends at the same place and fails
 * alike. `test/llm/internal/SecretScrub.test.ts` checks both scans against the patterns on random texts.
 *
 * @internal
 */

const isAsciiLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
const isDigit = (c: number): boolean => c >= 48 && c <= 57
/** `[A-Za-z0-9+.-]` */
const isSchemeChar = (c: number): boolean => isAsciiLetter(c) || isDigit(c) || c === 43 || c === 45 || c === 46
/** `[A-Za-z0-9_-]` */
const isBase64UrlChar = (c: number): boolean => isAsciiLetter(c) || isDigit(c) || c === 95 || c === 45
/** `\w` without the `u` flag */
const isWordChar = (c: number): boolean => isAsciiLetter(c) || isDigit(c) || c === 95

/** Whether UTF-16 code unit `c` is in the regular-expression class `\s` (whitespace and line terminators). */
export const isSpace = (c: number): boolean =>
  (c >= 9 && c <= 13) || c === 32 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff

/** Where userinfo stops: `[\s/?#@]`. */
const endsUserinfo = (c: number): boolean => c === 47 || c === 63 || c === 35 || c === 64 || isSpace(c)

/**
 * `text` with the userinfo of every URL replaced by `redacted` (`https://user:pass@host` → `https://<redacted>@host`).
 *
 * @example
 * ```ts
 * maskUrlUserinfo("see https://bob:pw@proxy.example/v1", "<redacted>") // "see https://<redacted>@proxy.example/v1"
 * ```
 */
export const maskUrlUserinfo = (text: string, redacted: string): string => {
  let out = ""
  let copied = 0 // text before this index is in `out` (or matched); no match starts before it
  let from = 0
  for (;;) {
    const at = text.indexOf("://", from)
    if (at < 0) break
    from = at + 3
    let start = at
    while (start > copied && isSchemeChar(text.charCodeAt(start - 1))) start--
    while (start < at && !isAsciiLetter(text.charCodeAt(start))) start++
    let end = at + 3
    while (end < text.length && !endsUserinfo(text.charCodeAt(end))) end++
    if (start < at && end > at + 3 && text.charCodeAt(end) === 64) {
      out += text.slice(copied, at + 3) + redacted + "@"
      copied = end + 1
      from = copied
    }
  }
  return copied === 0 ? text : out + text.slice(copied)
}

/** The end of the run of base64url characters from `i`. */
const base64UrlRun = (text: string, i: number): number => {
  let end = i
  while (end < text.length && isBase64UrlChar(text.charCodeAt(end))) end++
  return end
}

/**
 * `text` with every JWT-shaped token (`eyJ….….…`) replaced by `redacted`.
 *
 * @example
 * ```ts
 * maskJwts("token eyJhbGci.eyJzdWIi.c2ln ok", "<redacted>") // "token <redacted> ok"
 * ```
 */
export const maskJwts = (text: string, redacted: string): string => {
  let out = ""
  let copied = 0
  let from = 0
  for (;;) {
    const start = text.indexOf("eyJ", from)
    if (start < 0) break
    if (start > 0 && isWordChar(text.charCodeAt(start - 1))) {
      from = start + 1
      continue
    }
    const header = base64UrlRun(text, start + 3)
    if (header - start - 3 < 4 || text.charCodeAt(header) !== 46) {
      from = header // every `eyJ` inside this run ends it at `header` too, and fails alike
      continue
    }
    const payload = base64UrlRun(text, header + 1)
    if (payload - header - 1 < 4 || text.charCodeAt(payload) !== 46) {
      from = payload // a start inside either run fails alike
      continue
    }
    const end = base64UrlRun(text, payload + 1)
    out += text.slice(copied, start) + redacted
    copied = end
    from = end
  }
  return copied === 0 ? text : out + text.slice(copied)
}
