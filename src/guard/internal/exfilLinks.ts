/**
 * Linear matchers for the two exfiltration-link rules (`exfil.markdown-image`, `exfil.html-image`): each returns the
 * first match its rule's regular expression returns — the same index and length — without its backtracking. The
 * regex tries every `![` (or `<img`) start against the whole bounded URL grammar, so many starts sharing one long link
 * cost starts × 300 × 40 × 300 steps; here each link is read once per start at most:
 *
 * - the label (or attributes) is found by scanning to its `](` (or each `src` candidate, last first, as the greedy
 *   gap tries them), and the link after it is checked once per position (memoised), however many starts share it;
 * - the URL is sliced to its end (`)` or whitespace; for HTML a quote, whitespace or `>`), and the query grammar
 *   `[?&]` key `=` … marker … is checked over the slice's code points with two precomputed tables (the next `=`, the
 *   last marker), trying the `[?&]` positions from the last, as the regex's greedy first gap does.
 *
 * Bounds count code points, as the `u`-flagged regexes do. Property tests check both against the regexes, which stay
 * the rules' `re` (the reference).
 */

/** A match: where it starts and how long it is (UTF-16 code units). */
export interface LinkMatch {
  readonly index: number
  readonly length: number
}

/** `\s` of a regular expression (every code unit of it is in the Basic Multilingual Plane). */
const isSpace = (c: number): boolean =>
  c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
/** `\w` of a `u`-flagged regular expression without `i`. */
const isWord = (c: number): boolean =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f
const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff

/** The offset of the code point after the one at `i` (a valid surrogate pair is one code point). */
const nextCp = (text: string, i: number): number =>
  isHigh(text.charCodeAt(i)) && i + 1 < text.length && isLow(text.charCodeAt(i + 1)) ? i + 2 : i + 1

/** Whether `[from, to)` holds at most `max` code points. */
const atMostCps = (text: string, from: number, to: number, max: number): boolean => {
  if (to - from <= max) return true
  if (to - from > 2 * max) return false
  let n = 0
  for (let i = from; i < to; i = nextCp(text, i)) if (++n > max) return false
  return true
}

/**
 * Tables over one text, built once (when a link's URL is first checked), so that each URL check costs a few lookups
 * per `[?&]` of its first 300 code points: code point ↔ offset, the next `=`, the last query marker, the previous
 * `?`/`&` and the end of the URL.
 */
class Tables {
  /** `cpAt[i]`: the number of code points before offset `i` (for `i` at a code point's start). */
  readonly cpAt: Int32Array
  /** `offsetOf[k]`: the offset of code point `k` (`offsetOf[count]` is the text's length). */
  readonly offsetOf: Int32Array
  /** The first `=` at or after each offset (the length: none). */
  readonly nextEq: Int32Array
  /** The last marker (`{ < $ %7b`) at or before each offset (-1: none). */
  readonly lastMarker: Int32Array
  /** The last `?` or `&` at or before each offset (-1: none). */
  readonly lastQuery: Int32Array
  /** The first character that ends a URL at or after each offset (the length: none). */
  readonly urlEnd: Int32Array
  readonly text: string
  constructor(text: string, endsUrl: (c: number) => boolean) {
    this.text = text
    const n = text.length
    this.cpAt = new Int32Array(n + 1)
    const offsets: Array<number> = []
    for (let i = 0; i < n; i = nextCp(text, i)) {
      this.cpAt[i] = offsets.length
      if (i + 1 < n && nextCp(text, i) === i + 2) this.cpAt[i + 1] = offsets.length
      offsets.push(i)
    }
    this.cpAt[n] = offsets.length
    offsets.push(n)
    this.offsetOf = Int32Array.from(offsets)
    this.nextEq = new Int32Array(n + 1)
    this.urlEnd = new Int32Array(n + 1)
    this.nextEq[n] = n
    this.urlEnd[n] = n
    for (let i = n - 1; i >= 0; i--) {
      const c = text.charCodeAt(i)
      this.nextEq[i] = c === 0x3d ? i : this.nextEq[i + 1]!
      this.urlEnd[i] = endsUrl(c) ? i : this.urlEnd[i + 1]!
    }
    this.lastMarker = new Int32Array(n)
    this.lastQuery = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i)
      const marker = c === 0x7b || c === 0x3c || c === 0x24 || (c === 0x25 && text.startsWith("7b", i + 1))
      this.lastMarker[i] = marker ? i : i > 0 ? this.lastMarker[i - 1]! : -1
      this.lastQuery[i] = c === 0x3f || c === 0x26 ? i : i > 0 ? this.lastQuery[i - 1]! : -1
    }
  }
}

/**
 * The query grammar after `https?://` at `u`: `A{1,300} [?&] B{1,40} = C{0,300} M D{0,tail}` with A, C, D any URL
 * character, B any but `=`, M one of `{ < $ %7b`; bounds in code points. The `[?&]` is tried from the last one within
 * 300 code points down, as the greedy A does; for it B ends at the next `=`, and C at the last marker within reach.
 * Returns the offset just past the match, or -1.
 */
const query = (t: Tables, u: number, tail: number): number => {
  const end = t.urlEnd[u]!
  if (end <= u) return -1
  const cpEnd = t.cpAt[end]!
  const cpU = t.cpAt[u]!
  for (let a = t.lastQuery[t.offsetOf[Math.min(cpU + 300, cpEnd - 1)]!]!; a > u; a = t.lastQuery[a - 1]!) {
    const e = t.nextEq[a + 1]!
    const b = t.cpAt[e]! - t.cpAt[a + 1]!
    if (e >= end || b < 1 || b > 40) continue
    const m = t.lastMarker[t.offsetOf[Math.min(t.cpAt[e + 1]! + 300, cpEnd - 1)]!]!
    if (m <= e) continue
    const markerEnd = m + (t.text.charCodeAt(m) === 0x25 ? 3 : 1)
    return t.offsetOf[Math.min(t.cpAt[markerEnd]! + tail, cpEnd)]!
  }
  return -1
}

/** After `https?://` at `s`: the offset past the scheme, or -1. */
const scheme = (text: string, s: number): number =>
  text.startsWith("https://", s) ? s + 8 : text.startsWith("http://", s) ? s + 7 : -1

const ANGLE = /<[^>\n]{1,60}>/uy
const BRACE = /\{[^}\n]{1,60}\}/uy
const DOLLAR = /\$\w+/uy
const sticky = (re: RegExp, text: string, at: number): number => {
  re.lastIndex = at
  return re.test(text) ? re.lastIndex : -1
}

const endsMarkdownUrl = (c: number): boolean => c === 0x29 || isSpace(c)

/** What follows a markdown image's `](` at `s`: the offset past the link's match, or -1. */
const markdownLink = (text: string, s: number, tables: () => Tables): number => {
  while (s < text.length && isSpace(text.charCodeAt(s))) s++
  switch (text.charCodeAt(s)) {
    case 0x3c:
      return sticky(ANGLE, text, s)
    case 0x7b:
      return sticky(BRACE, text, s)
    case 0x24:
      return sticky(DOLLAR, text, s)
    default: {
      const u = scheme(text, s)
      return u < 0 ? -1 : query(tables(), u, 300)
    }
  }
}

/**
 * The first match of `!\[[^\]\n]{0,100}\]\(\s*(?:<…>|\{…\}|\$\w+|https?://…query…)` in `text`, or null (see the
 * module doc).
 */
export const markdownImage = (text: string): LinkMatch | null => {
  let t: Tables | undefined
  const tables = () => (t ??= new Tables(text, endsMarkdownUrl))
  let close = -1 // the first `]` or newline at or after the current label start
  let linkAt = -1
  let linkEnd = -1
  for (let p = text.indexOf("!["); p >= 0; p = text.indexOf("![", p + 1)) {
    const from = p + 2
    if (close < from) {
      close = from
      while (close < text.length && text.charCodeAt(close) !== 0x5d && text.charCodeAt(close) !== 0x0a) close++
    }
    if (close >= text.length || text.charCodeAt(close) !== 0x5d || text.charCodeAt(close + 1) !== 0x28) continue
    if (!atMostCps(text, from, close, 100)) continue
    if (linkAt !== close) { // the link is checked once for every start that shares it
      linkAt = close
      linkEnd = markdownLink(text, close + 2, tables)
    }
    if (linkEnd >= 0) return { index: p, length: linkEnd - p }
  }
  return null
}

const endsHtmlUrl = (c: number): boolean => c === 0x22 || c === 0x27 || c === 0x3e || isSpace(c)

/** `src\s*=\s*["']?https?://…query…` at `j`: the offset past the match, or -1. */
const htmlSrc = (text: string, j: number, tables: () => Tables): number => {
  let s = j + 3
  while (s < text.length && isSpace(text.charCodeAt(s))) s++
  if (text.charCodeAt(s) !== 0x3d) return -1
  s++
  while (s < text.length && isSpace(text.charCodeAt(s))) s++
  if (text.charCodeAt(s) === 0x22 || text.charCodeAt(s) === 0x27) s++
  const u = scheme(text, s)
  return u < 0 ? -1 : query(tables(), u, 0)
}

/**
 * The first match of `<img\b[^>]{0,200}\bsrc\s*=\s*["']?https?://…query…` in `text`, or null (see the module doc).
 */
export const htmlImage = (text: string): LinkMatch | null => {
  let t: Tables | undefined
  const tables = () => (t ??= new Tables(text, endsHtmlUrl))
  const memo = new Map<number, number>() // a `src` position → the offset past its match, or -1
  for (let p = text.indexOf("<img"); p >= 0; p = text.indexOf("<img", p + 1)) {
    const from = p + 4
    if (from < text.length && isWord(text.charCodeAt(from))) continue
    // the gap `[^>]{0,200}`: `src` may start anywhere up to 200 code points on, before any `>`
    let last = from
    for (let n = 0; n < 200 && last < text.length && text.charCodeAt(last) !== 0x3e; n++) last = nextCp(text, last)
    for (let j = text.lastIndexOf("src", last); j >= from; j = j > 0 ? text.lastIndexOf("src", j - 1) : -1) {
      if (j > 0 && isWord(text.charCodeAt(j - 1))) continue
      let end = memo.get(j)
      if (end === undefined) {
        end = htmlSrc(text, j, tables)
        if (memo.size >= 10_000) memo.clear() // bounded
        memo.set(j, end)
      }
      if (end >= 0) return { index: p, length: end - p }
    }
  }
  return null
}
