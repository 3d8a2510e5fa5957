/**
 * `ContentFilter`: output moderation by category — violence, self-harm, hate, sexual, weapons, illegal activity (and
 * harassment). Rules:
 *
 * - **Rules are data** (`ContentRule`: id, category, a regular expression or keywords, weight, allow-list). Keyword
 *   rules (`keywords: [...]`) compile to whole-word matches (`\b…\b`), so `kill` never matches `skill`. A rule's
 *   **allow-list** cancels its match when the matched sentence also names a harmless object or context (`fish`,
 *   `film`); a global `allow` list of phrases is removed before matching.
 * - `checkSafety(text)` returns the verdict with the **categories** and a **score per category** (noisy-or of the
 *   matched rules); flagged when any category reaches its threshold (default 0.5; per category in `thresholds`).
 * - `filter(text)` applies the configured **action**: `block` (the text is replaced by a refusal and `blocked` is
 *   true), `redact` (each matched sentence is replaced by `[removed: <category>]`), or `annotate` (the text is kept and
 *   the verdict attached).
 * - A **classifier hook** (`(text) => Effect<Record<category, score>>`) may add scores; the larger score per category
 *   wins, and a failing classifier leaves the rule scores.
 *
 * The built-in rules target harmful content, not topics (news, history, medicine and definitions pass). Peers: NeMo
 * output rails, llm-guard's `BanTopics`/`Toxicity`, OpenAI's moderation categories. Hand-rolled.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import type { ContentRule } from "./internal/contentRules.ts"
import { CONTENT_RULES } from "./internal/contentRules.ts"
import { fold } from "./internal/fold.ts"
import type { Finding, Verdict } from "./Verdict.ts"
import { noisyOr } from "./Verdict.ts"

export type { ContentCategory, ContentRule } from "./internal/contentRules.ts"
export { CONTENT_RULES } from "./internal/contentRules.ts"

/** A rule given as data: a regex source or whole-word keywords. */
export interface ContentRuleInput {
  readonly id: string
  readonly category: string
  readonly pattern?: string
  readonly keywords?: ReadonlyArray<string>
  readonly weight?: number
  /** Words that cancel a match in the same sentence. */
  readonly allow?: ReadonlyArray<string>
}

/** A content-safety verdict with the categories found and a score per category. */
export interface ContentVerdict extends Verdict {
  readonly categories: ReadonlyArray<string>
  readonly scores: Readonly<Record<string, number>>
}

/**
 * What the content filter does with unsafe text: block it, redact the matched spans, or only annotate the verdict.
 */
export type ContentAction = "block" | "redact" | "annotate"

/**
 * Options of the content filter: built-in rules on or off, extra rules, thresholds (overall and per category),
 * allowed terms, the categories checked, the action, the refusal text and an optional classifier.
 */
export interface ContentFilterOptions {
  /** Replace the built-in rules (default: built-in plus `rules`). */
  readonly builtin?: boolean
  readonly rules?: ReadonlyArray<ContentRuleInput | ContentRule>
  readonly threshold?: number
  readonly thresholds?: Readonly<Record<string, number>>
  /** Phrases that never count (removed before matching), e.g. a product name. */
  readonly allow?: ReadonlyArray<string>
  /** Only these categories are reported (default: all). */
  readonly categories?: ReadonlyArray<string>
  readonly action?: ContentAction
  readonly refusal?: string
  readonly classifier?: (text: string) => Effect.Effect<Readonly<Record<string, number>>, unknown>
}

/** The filtered text, whether it was blocked, and the verdict. */
export interface FilterResult {
  readonly text: string
  readonly blocked: boolean
  readonly verdict: ContentVerdict
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
const words = (list: ReadonlyArray<string>): RegExp =>
  new RegExp(`\\b(?:${list.map((w) => escape(w.toLowerCase())).join("|")})\\b`, "u")

/** Compiles a rule given as data (throws on an invalid regex: decode policies first, see `GuardPolicy`). */
export const compileContentRule = (input: ContentRuleInput | ContentRule): ContentRule => {
  if ("pattern" in input && input.pattern instanceof RegExp) return input as ContentRule // already compiled
  const i = input as ContentRuleInput
  const pattern = i.pattern !== undefined ? new RegExp(i.pattern, "iu") : words(i.keywords ?? [])
  return {
    id: i.id,
    category: i.category,
    pattern,
    weight: i.weight ?? 0.8,
    ...(i.allow !== undefined && i.allow.length > 0 ? { allow: words(i.allow) } : {})
  }
}

const sentenceAround = (text: string, start: number, end: number): string => {
  let a = start
  while (a > 0 && a > start - 300 && !".!?\n".includes(text[a - 1] ?? "")) a--
  let b = end
  while (b < text.length && b < end + 300 && !".!?\n".includes(text[b] ?? "")) b++
  return text.slice(a, b)
}

/** A rule's pattern made global (cached), to find every match without touching the rule's own `lastIndex`. */
const globals = new WeakMap<RegExp, RegExp>()
const globalOf = (re: RegExp): RegExp => {
  let g = globals.get(re)
  if (g === undefined) {
    g = new RegExp(re.source, re.flags.includes("g") ? re.flags : re.flags + "g")
    globals.set(re, g)
  }
  return g
}
/** At most this many matches of one rule are reported (bounded like the PII recognisers). */
const MAX_MATCHES = 10_000

/**
 * Every match of every rule is a finding (so `redact` removes each matched sentence); a rule's weight counts once
 * towards its category's score, however many times it matches.
 */
const scan = (text: string, rules: ReadonlyArray<ContentRule>, options: ContentFilterOptions): ContentVerdict => {
  let folded = fold(text)
  for (const phrase of options.allow ?? []) folded = folded.split(phrase.toLowerCase()).join(" ".repeat(phrase.length))
  const findings: Array<Finding> = []
  const byCategory: Record<string, Array<number>> = {}
  for (const rule of rules) {
    const re = globalOf(rule.pattern)
    re.lastIndex = 0
    let matched = false
    let n = 0
    for (let m = re.exec(folded); m !== null && n < MAX_MATCHES; m = re.exec(folded), n++) {
      if (m[0].length === 0) {
        re.lastIndex++
        continue
      }
      // the allow-list is checked in the matched sentence and in the text's opening sentence (its framing: "in a
      // film")
      if (
        rule.allow !== undefined &&
        (rule.allow.test(sentenceAround(folded, m.index, m.index + m[0].length)) ||
          rule.allow.test(sentenceAround(folded, 0, 0)))
      ) continue
      findings.push({
        rule: `content.${rule.id}`,
        type: rule.category,
        start: m.index,
        end: m.index + m[0].length,
        score: rule.weight
      })
      matched = true
    }
    if (matched) (byCategory[rule.category] ??= []).push(rule.weight)
  }
  return verdictOf(findings, byCategory, options)
}

const verdictOf = (
  findings: ReadonlyArray<Finding>,
  byCategory: Record<string, ReadonlyArray<number>>,
  options: ContentFilterOptions
): ContentVerdict => {
  const scores: Record<string, number> = {}
  const categories: Array<string> = []
  for (const [category, ws] of Object.entries(byCategory)) {
    if (options.categories !== undefined && !options.categories.includes(category)) continue
    const s = noisyOr(ws)
    scores[category] = s
    if (s >= (options.thresholds?.[category] ?? options.threshold ?? 0.5)) categories.push(category)
  }
  const score = Math.max(0, ...Object.values(scores))
  return { scanner: "content", flagged: categories.length > 0, score, findings, categories, scores }
}

const rulesFor = (options: ContentFilterOptions): ReadonlyArray<ContentRule> => [
  ...(options.builtin === false ? [] : CONTENT_RULES),
  ...(options.rules ?? []).map(compileContentRule)
]

/**
 * The safety verdict of `text` with the built-in rules (pure).
 *
 * @example
 * ```ts
 * checkSafety("To steal a car, you'll need to follow these steps: …").categories // ["illegal"]
 * ```
 */
export const checkSafety = (text: string, options: ContentFilterOptions = {}): ContentVerdict =>
  scan(text, options.rules === undefined && options.builtin !== false ? CONTENT_RULES : rulesFor(options), options)

/** Applies `action` to a verdict already computed for `text`. */
export const applyAction = (
  text: string,
  verdict: ContentVerdict,
  action: ContentAction,
  refusal = "[content removed by the content filter]"
): FilterResult => {
  if (!verdict.flagged || action === "annotate") return { text, blocked: false, verdict }
  if (action === "block") return { text: refusal, blocked: true, verdict }
  // redact: every flagged sentence (offsets of the folded text equal the original's for ASCII; else redact all)
  if (fold(text).length !== text.length) {
    return { text: `[removed: ${verdict.categories.join(", ")}]`, blocked: false, verdict }
  }
  let out = text
  const spans = verdict.findings
    .filter((f) => f.type !== undefined && verdict.categories.includes(f.type))
    .map((f) => {
      let a = f.start
      while (a > 0 && !".!?\n".includes(text[a - 1] ?? "")) a--
      let b = f.end
      while (b < text.length && !".!?\n".includes(text[b] ?? "")) b++
      return { a, b, category: f.type ?? "" }
    })
    .sort((x, y) => y.a - x.a)
  let last = Infinity
  for (const s of spans) {
    if (s.b > last) continue
    out = out.slice(0, s.a) + `[removed: ${s.category}]` + out.slice(Math.min(s.b + 1, out.length))
    last = s.a
  }
  return { text: out, blocked: false, verdict }
}

/** The `ContentFilter` service: `checkSafety` scores text; `filter` applies the configured action. */
export interface ContentFilterShape {
  readonly checkSafety: (text: string) => Effect.Effect<ContentVerdict>
  readonly filter: (text: string) => Effect.Effect<FilterResult>
}

const make = (options: ContentFilterOptions): ContentFilterShape => {
  const rules = rulesFor(options)
  const classifier = options.classifier
  const check = (text: string): Effect.Effect<ContentVerdict> => {
    const heuristic = scan(text, rules, options)
    if (classifier === undefined) return Effect.succeed(heuristic)
    return classifier(text).pipe(
      Effect.map((extra) => {
        const byCategory: Record<string, Array<number>> = {}
        for (const [c, s] of Object.entries(heuristic.scores)) byCategory[c] = [s]
        const findings = [...heuristic.findings]
        for (const [c, s] of Object.entries(extra)) {
          if (!Number.isFinite(s)) continue
          ;(byCategory[c] ??= []).push(Math.min(1, Math.max(0, s)))
          findings.push({ rule: "content.classifier", type: c, start: 0, end: text.length, score: s })
        }
        const merged: Record<string, Array<number>> = {}
        for (const [c, ws] of Object.entries(byCategory)) merged[c] = [Math.max(...ws)]
        return verdictOf(findings, merged, options)
      }),
      Effect.catch(() => Effect.succeed(heuristic))
    )
  }
  return {
    checkSafety: check,
    filter: (text) => Effect.map(check(text), (v) => applyAction(text, v, options.action ?? "block", options.refusal))
  }
}

/**
 * Content-safety filtering of inputs and outputs (categories such as violence or self-harm), by rules and an
 * optional classifier.
 */
export class ContentFilter extends Context.Service<ContentFilter, ContentFilterShape>()("troupe/guard/ContentFilter") {
  static readonly layer = (options: ContentFilterOptions = {}): Layer.Layer<ContentFilter> =>
    Layer.succeed(ContentFilter, make(options))
  static readonly make = make
}
