/**
 * Text helpers of the guard's stream window (`Guard.ts`): where an open run of token characters starts, how much of
 * a scanned text equals what arrived, and a placeholder's start with no end yet.
 */

/**
 * Characters before an open token run held with it, and before a redaction in a tail held as it arrived: longer than
 * any key name and separator of a secret rule and than the context window of a PII recogniser.
 */
export const TOKEN_CONTEXT = 64
/** Whether a UTF-16 code unit is a token character (`[A-Za-z0-9._~+/=-]`, the characters of every bounded token). */
const isTokenChar = (c: number): boolean =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x2d && c <= 0x39) || c === 0x2b || c === 0x3d ||
  c === 0x5f || c === 0x7e
/** The start of the run of token characters that ends `text` (`text.length` when its last character is another). */
export const openRunStart = (text: string): number => {
  let i = text.length
  while (i > 0 && isTokenChar(text.charCodeAt(i - 1))) i--
  return i
}
/** Whether every character of `text` is a token character. */
export const allTokenChars = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) if (!isTokenChar(text.charCodeAt(i))) return false
  return true
}
/** The length of the longest common prefix of `a` and `b`. */
export const commonPrefix = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  let i = 0
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++
  return i
}
/** A placeholder's start with no end yet, at the end of a text (`<`, `<EMAIL`, `<EMAIL_1`). */
export const PARTIAL_PLACEHOLDER = /<(?:[A-Z][A-Z0-9_]{0,63})?$/
