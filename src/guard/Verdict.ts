/**
 * What every guardrail scanner returns: a `Verdict` naming the scanner, whether it flagged the text, a score in
 * [0, 1] and the `Finding`s behind it (the rule that matched, the entity or category, and where).
 *
 * Plain data: a verdict is what the guard step acts on (block, redact, log), what the telemetry event carries
 * (rule names and counts, never the matched text) and what the evaluation runner writes as a prediction.
 *
 * @since 0.1.0
 */

/** The scanners of `src/guard`. */
export type ScannerName = "sanitizer" | "injection" | "pii" | "secrets" | "content"

/** One thing a scanner found. `start`/`end` are JavaScript string offsets into the scanned text (end exclusive). */
export interface Finding {
  /** The rule that matched (`override.ignore-previous`, `pii.credit-card`, `secret.openai`, `content.self-harm`). */
  readonly rule: string
  /** The entity type (`EMAIL`, `OPENAI_API_KEY`) or category (`violence`), when the rule has one. */
  readonly type?: string
  readonly start: number
  readonly end: number
  /** The rule's weight or confidence in [0, 1]. */
  readonly score: number
}

/** The result of one scanner on one text. */
export interface Verdict {
  readonly scanner: ScannerName
  readonly flagged: boolean
  readonly score: number
  readonly findings: ReadonlyArray<Finding>
}

/** Combines independent rule weights as a noisy-or: `1 - Π(1 - w)`. */
export const noisyOr = (weights: ReadonlyArray<number>): number => {
  let keep = 1
  for (const w of weights) keep *= 1 - Math.min(1, Math.max(0, w))
  return 1 - keep
}

/** Keeps the highest-priority non-overlapping findings (earlier in `ranked` wins), returned in text order. */
export const resolveOverlaps = <F extends Finding>(ranked: ReadonlyArray<F>): Array<F> => {
  const kept: Array<F> = []
  for (const f of ranked) {
    if (!kept.some((k) => f.start < k.end && k.start < f.end)) kept.push(f)
  }
  return kept.sort((a, b) => a.start - b.start)
}

/** Replaces each finding's span by `replacement(finding)`; findings must not overlap. */
export const replaceSpans = <F extends Finding>(
  text: string,
  findings: ReadonlyArray<F>,
  replacement: (f: F, original: string) => string
): string => {
  if (findings.length === 0) return text
  const sorted = [...findings].sort((a, b) => a.start - b.start)
  let out = ""
  let at = 0
  for (const f of sorted) {
    if (f.start < at) continue
    out += text.slice(at, f.start) + replacement(f, text.slice(f.start, f.end))
    at = f.end
  }
  return out + text.slice(at)
}
