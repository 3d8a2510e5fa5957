/**
 * Text folding for detection (never for what is sent on): NFKC, lower case, invisible characters dropped, and
 * homoglyphs (Cyrillic, Greek, fullwidth and mathematical look-alikes of Latin letters) mapped to the Latin letter, so
 * `ｉｇｎｏｒｅ`, `іgnоrе` (Cyrillic і, о, е) and `ig\u200Bnore` all read as `ignore`. Pure ASCII text takes a fast
 * path (lower case only). Folding may change lengths, so detectors that report offsets scan the original text.
 *
 * Hand-rolled: no Effect counterpart; the homoglyph table is a small subset of Unicode's confusables (the letters
 * that attacks use), written here, not copied.
 */
import { profile } from "./profile.ts"

/** Zero-width, bidi controls, BOM, soft hyphen, and the tag block (U+E0000–U+E007F). */
export const INVISIBLE =
  /[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF]|\uDB40[\uDC00-\uDC7F]/g

const HOMOGLYPHS: Record<string, string> = {
  // Cyrillic
  "а": "a",
  "в": "b",
  "с": "c",
  "е": "e",
  "ё": "e",
  "һ": "h",
  "і": "i",
  "ї": "i",
  "ј": "j",
  "к": "k",
  "м": "m",
  "н": "h",
  "о": "o",
  "р": "p",
  "ԛ": "q",
  "ѕ": "s",
  "т": "t",
  "у": "y",
  "х": "x",
  "ԝ": "w",
  "ӏ": "l",
  "ɡ": "g",
  // Greek
  "α": "a",
  "β": "b",
  "ε": "e",
  "η": "n",
  "ι": "i",
  "κ": "k",
  "ν": "v",
  "ο": "o",
  "ρ": "p",
  "τ": "t",
  "υ": "u",
  "χ": "x",
  "ϲ": "c",
  "ϳ": "j",
  // Latin look-alikes and digits used as letters in obfuscation are left alone (1337 speak is not folded)
  "ı": "i",
  "ł": "l",
  "ø": "o",
  "đ": "d",
  "ħ": "h"
}

const WORD = /[\p{L}\p{M}]+/gu
const HOMOGLYPH_RE = new RegExp(`[${Object.keys(HOMOGLYPHS).join("")}]`, "g")

/** The folded form of `text` used by the heuristic detectors. */
export const fold = (text: string): string => {
  if (!profile(text).nonAscii) return text.toLowerCase()
  const nfkc = text.normalize("NFKC").replace(INVISIBLE, "").toLowerCase()
  // only words that mix scripts are folded (a Russian word stays Russian; "іgnоrе" with Cyrillic і, о, е becomes Latin)
  return nfkc.replace(WORD, (w) => (/[a-z]/.test(w) ? w.replace(HOMOGLYPH_RE, (c) => HOMOGLYPHS[c] ?? c) : w))
}

/** ROT13 of the ASCII letters of `text`. */
export const rot13 = (text: string): string =>
  text.replace(/[a-zA-Z]/g, (c) => {
    const base = c <= "Z" ? 65 : 97
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base)
  })

/** Shannon entropy in bits per character. */
export const entropy = (s: string): number => {
  if (s.length === 0) return 0
  const counts = new Map<string, number>()
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1)
  let h = 0
  for (const n of counts.values()) {
    const p = n / s.length
    h -= p * Math.log2(p)
  }
  return h
}
