/**
 * `PiiDetector`: finds personal data in text, as Microsoft Presidio's analyzer does — recognisers of a candidate
 * pattern, a validator and context words. Built in:
 *
 * - `EMAIL`; `PHONE` in E.164 (`+44 20 7123 4567`) and national formats (`(415) 555-0132`, `0490 75 40 81`) — a bare
 *   digit group counts as a phone only after a context word (phone, mobile, fax, call…), with 7 to 15 digits, and
 *   never a date or time shape;
 * - `CREDIT_CARD`: 13–19 digits, one separator style, **Luhn**-valid; `IBAN`: the country's length, **mod-97**-valid;
 * - `US_SSN`: `AAA-GG-SSSS` outside the never-issued ranges (000, 666, 9xx, 00, 0000); without separators only after a
 *   context word; `IP_ADDRESS`: IPv4 dotted quads and IPv6 text forms (validated, not inside a longer word);
 * - `DATE_OF_BIRTH`: a date after a context word (born, birth, DOB…).
 *
 * Custom recognisers (`CustomRecognizer`) add a regex, an optional validator and context words. Overlaps keep the
 * higher-priority finding: custom recognisers first, then the built-in order above (checksum types first).
 * Anonymising operators are in `Anonymizer.ts`. Hand-rolled (Presidio is Python; Effect has no counterpart).
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"
import type { Recognizer } from "./internal/piiRecognizers.ts"
import { RECOGNIZERS } from "./internal/piiRecognizers.ts"
import type { Finding } from "./Verdict.ts"
import { resolveOverlaps } from "./Verdict.ts"

export type { Recognizer } from "./internal/piiRecognizers.ts"

/** One PII entity found. */
export interface PiiEntity extends Finding {
  readonly type: string
  readonly value: string
}

/** A recogniser given as data. */
export interface CustomRecognizer {
  readonly type: string
  /** A regex source or a RegExp (a `g` flag is added). */
  readonly pattern: string | RegExp
  /** Rejects candidates (e.g. a checksum); default: accept. */
  readonly validate?: (value: string) => boolean
  /** When given, one of these words must occur within `contextWindow` (default 40) characters before the match. */
  readonly context?: ReadonlyArray<string>
  readonly contextWindow?: number
  readonly score?: number
}

/** Options of PII detection: which entity types, and custom recognizers. */
export interface PiiOptions {
  /** Only these entity types (default: all). */
  readonly entities?: ReadonlyArray<string>
  readonly custom?: ReadonlyArray<CustomRecognizer>
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** Compiles a custom recogniser (throws on an invalid regex: decode options first, see `GuardPolicy`). */
export const compileRecognizer = (c: CustomRecognizer): Recognizer => {
  const source = typeof c.pattern === "string" ? c.pattern : c.pattern.source
  const flags = typeof c.pattern === "string"
    ? "g"
    : c.pattern.flags.includes("g")
    ? c.pattern.flags
    : c.pattern.flags + "g"
  const validate = c.validate
  const base = {
    type: c.type,
    rule: `pii.custom.${c.type.toLowerCase()}`,
    re: new RegExp(source, flags),
    ...(validate !== undefined
      ? {
        validate: (m: RegExpExecArray) => (validate(m[0]) ? { start: m.index, end: m.index + m[0].length } : undefined)
      }
      : {}),
    contextWindow: c.contextWindow ?? 40,
    score: c.score ?? 0.8
  }
  return c.context !== undefined && c.context.length > 0
    ? { ...base, context: new RegExp(`\\b(?:${c.context.map(escape).join("|")})\\b`, "i") }
    : base
}

const run = (text: string, recognizers: ReadonlyArray<Recognizer>): Array<PiiEntity> => {
  const ranked: Array<PiiEntity> = []
  for (const r of recognizers) {
    if (r.hint !== undefined && !r.hint(text)) continue
    r.re.lastIndex = 0
    let guard = 0
    for (let m = r.re.exec(text); m !== null; m = r.re.exec(text)) {
      if (m[0].length === 0) r.re.lastIndex++
      if (++guard > 10_000) break // bounded: at most 10,000 candidates per recogniser
      const span = r.validate === undefined ? { start: m.index, end: m.index + m[0].length } : r.validate(m, text)
      if (span === undefined || span.end <= span.start) continue
      if (
        r.context !== undefined &&
        !r.context.test(text.slice(Math.max(0, span.start - (r.contextWindow ?? 40)), span.start))
      ) continue
      ranked.push({
        rule: r.rule,
        type: r.type,
        start: span.start,
        end: span.end,
        score: r.score,
        value: text.slice(span.start, span.end)
      })
    }
  }
  return resolveOverlaps(ranked)
}

/** Recognisers for `options` (custom first, then the built-in ones, filtered by `entities`). */
export const recognizersFor = (options: PiiOptions = {}): ReadonlyArray<Recognizer> => {
  const all = [...(options.custom ?? []).map(compileRecognizer), ...RECOGNIZERS]
  const only = options.entities
  return only === undefined ? all : all.filter((r) => only.includes(r.type))
}

/**
 * The PII entities of `text`, in text order, non-overlapping (pure, synchronous).
 *
 * @example
 * ```ts
 * detectPii("card 4111 1111 1111 1111, mail a@b.io") // [{ type: "CREDIT_CARD", … }, { type: "EMAIL", … }]
 * ```
 */
export const detectPii = (text: string, options: PiiOptions = {}): Array<PiiEntity> =>
  run(text, options.entities === undefined && options.custom === undefined ? RECOGNIZERS : recognizersFor(options))

/** With precompiled recognisers (the service and the guard step use this). */
export const detectPiiWith = run

/** The `PiiDetector` service: finds PII entities (type, span, score) in text. */
export interface PiiDetectorShape {
  readonly detect: (text: string) => ReadonlyArray<PiiEntity>
}

/** Presidio-style PII detection: pattern recognizers with checksums and context words, plus custom ones. */
export class PiiDetector extends Context.Service<PiiDetector, PiiDetectorShape>()("troupe/guard/PiiDetector") {
  static readonly layer = (options: PiiOptions = {}): Layer.Layer<PiiDetector> => {
    const recognizers = recognizersFor(options)
    return Layer.succeed(PiiDetector, { detect: (text) => run(text, recognizers) })
  }
}
