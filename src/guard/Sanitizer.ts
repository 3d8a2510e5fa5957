/**
 * `Sanitizer`: the first guardrail on untrusted text. Rules, in order:
 *
 * 1. **NFKC normalisation** (compatibility forms such as fullwidth letters and ligatures become plain letters).
 * 2. **Control characters removed**: C0 and C1 controls except tab, line feed and carriage return.
 * 3. **Invisible characters removed**: zero-width characters (U+200B–U+200D, U+2060, U+FEFF), bidirectional
 *    overrides and isolates (U+202A–U+202E, U+2066–U+2069), the soft hyphen, and **tag characters** (the U+E0000
 *    block, used to hide instructions in text that looks empty).
 * 4. Optionally (`escapeRoleTokens`), **chat-template tokens** (`<|im_start|>`, `[INST]`, `<<SYS>>`,
 *    `<|endoftext|>`) are escaped so they reach the model as text, not as turn delimiters.
 *
 * The result says what changed (`changes`: kind and count), so the guard can log what was done. Homoglyph folding is
 * for detection only (`fold`, used by the detectors) and never alters the text sent on. Peers: llm-guard's
 * `InvisibleText` scanner and NeMo's input rails. Pure functions plus a `Context.Service` with `layer`.
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"
import { fold, INVISIBLE } from "./internal/fold.ts"
import { profile } from "./internal/profile.ts"

/** What `sanitize` changed. */
export interface SanitizeChange {
  readonly kind: "normalized" | "control" | "invisible" | "tag" | "bidi" | "role-token"
  readonly count: number
}

/** The sanitised text, whether it changed, and each change made. */
export interface SanitizeResult {
  readonly text: string
  readonly changed: boolean
  readonly changes: ReadonlyArray<SanitizeChange>
}

/** Options of the sanitizer. */
export interface SanitizerOptions {
  /** NFKC-normalise (default true). */
  readonly normalize?: boolean
  /** Escape chat-template tokens (default false). */
  readonly escapeRoleTokens?: boolean
}

// eslint-disable-next-line no-control-regex -- strips C0/C1 control characters (but tab, LF, CR) on purpose
const CONTROL = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]/g
const TAG = /\uDB40[\uDC00-\uDC7F]/g
const BIDI = /[\u202A-\u202E\u2066-\u2069]/g
const ROLE_TOKEN =
  /<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\|>|\[\/?INST\]|<<\/?SYS>>/g
const ROLE_MARK = /<\||\[\/?INST|<<\/?SYS/
/** Whether the sanitiser could change `text`: a non-printable character, or a chat-template mark (one pass, shared). */
const suspect = (text: string): boolean => {
  const p = profile(text)
  return p.nonPrintable || (p.bracket && ROLE_MARK.test(text))
}

const count = (text: string, re: RegExp): number => {
  re.lastIndex = 0
  let n = 0
  while (re.exec(text) !== null) n++
  return n
}

/**
 * Sanitises `text` (never fails). Plain printable ASCII without template tokens is returned as is (fast path).
 *
 * @example
 * ```ts
 * sanitize("ig\u200Bnore").text // "ignore", changes [{ kind: "invisible", count: 1 }]
 * ```
 */
export const sanitize = (text: string, options: SanitizerOptions = {}): SanitizeResult => {
  if (!suspect(text)) return { text, changed: false, changes: [] }
  const changes: Array<SanitizeChange> = []
  let out = text
  if (options.normalize !== false) {
    const n = out.normalize("NFKC")
    if (n !== out) changes.push({ kind: "normalized", count: 1 })
    out = n
  }
  const tags = count(out, TAG)
  const bidi = count(out, BIDI)
  const invisible = count(out, INVISIBLE) - tags - bidi
  if (tags > 0) changes.push({ kind: "tag", count: tags })
  if (bidi > 0) changes.push({ kind: "bidi", count: bidi })
  if (invisible > 0) changes.push({ kind: "invisible", count: invisible })
  out = out.replace(INVISIBLE, "")
  const controls = count(out, CONTROL)
  if (controls > 0) {
    changes.push({ kind: "control", count: controls })
    out = out.replace(CONTROL, "")
  }
  if (options.escapeRoleTokens === true) {
    const tokens = count(out, ROLE_TOKEN)
    if (tokens > 0) {
      changes.push({ kind: "role-token", count: tokens })
      out = out.replace(ROLE_TOKEN, (t) => t.replace(/[<[]/, (c) => (c === "<" ? "&lt;" : "\\[")))
    }
  }
  return { text: out, changed: changes.length > 0, changes }
}

/** The folded text the detectors read (NFKC, lower case, invisible characters dropped, homoglyphs folded). */
export const foldForDetection = fold

/** The service form (options fixed by the layer). */
export interface SanitizerShape {
  readonly sanitize: (text: string) => SanitizeResult
}

/**
 * The `Sanitizer` service: NFKC normalisation, control and invisible characters (tag characters included) removed,
 * chat-template tokens optionally escaped; the result says what changed.
 */
export class Sanitizer extends Context.Service<Sanitizer, SanitizerShape>()("troupe/guard/Sanitizer") {
  static readonly layer = (options: SanitizerOptions = {}): Layer.Layer<Sanitizer> =>
    Layer.succeed(Sanitizer, { sanitize: (text) => sanitize(text, options) })
}
