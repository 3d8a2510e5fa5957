/**
 * One pass over a text for every scanner's cheap pre-check, so that the guard reads each character once for all of
 * them instead of once per scanner and per rule: the longest run of digits (spaces, `-`, `.`, `(`, `)` do not break
 * a run: the PII recognisers' hints), whether there is a run of 24 base64 characters and of 32 hex characters (the
 * encoded-payload decoder), whether a secret rule can match (`mayHoldSecret`'s token runs), and whether the text
 * holds non-ASCII or non-printable characters or a `<`/`[` (the sanitiser's and the folder's fast paths). The last two
 * texts' profiles are remembered (by identity), since one `Guard.check` hands the same string to each scanner.
 */

export interface TextProfile {
  readonly maxDigitRun: number
  readonly base64Run: boolean
  readonly hexRun: boolean
  /** A run of 15 token characters with a digit, an upper-case letter or one of `_-+/=~`, or a dot-free run of 24. */
  readonly secretRun: boolean
  /** A character outside ASCII. */
  readonly nonAscii: boolean
  /** A character outside printable ASCII, tab, LF and CR (what the sanitiser removes or normalises). */
  readonly nonPrintable: boolean
  /** A `<` or a `[` (chat-template tokens start with one). */
  readonly bracket: boolean
}

// bit 1: base64 ([A-Za-z0-9+/=]); 2: hex or separator ([0-9a-fA-F :]); 4: digit; 8: digit-run separator
// ( -.()); 16: secret token, weak ([a-z.]); 32: secret token, strong ([A-Z0-9_+/=~-])
const CLASS = (() => {
  const t = new Uint8Array(128)
  for (let c = 0; c < 128; c++) {
    const ch = String.fromCharCode(c)
    let v = 0
    if (/[A-Za-z0-9+/=]/.test(ch)) v |= 1
    if (/[0-9a-fA-F :]/.test(ch)) v |= 2
    if (/[0-9]/.test(ch)) v |= 4
    if (/[ \-.()]/.test(ch)) v |= 8
    if (/[a-z.]/.test(ch)) v |= 16
    else if (/[A-Z0-9_\-+/=~]/.test(ch)) v |= 32
    t[c] = v
  }
  return t
})()

// the last two texts (a check hands one text to every scanner; a decoded payload is the other)
let lastText: string | undefined
let lastProfile: TextProfile | undefined
let prevText: string | undefined
let prevProfile: TextProfile | undefined

const compute = (text: string): TextProfile => {
  let digits = 0
  let maxDigitRun = 0
  let b = 0
  let h = 0
  let base64Run = false
  let hexRun = false
  let run = 0
  let segment = 0
  let strong = false
  let secretRun = false
  let nonAscii = false
  let nonPrintable = false
  let bracket = false
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code >= 127) {
      nonPrintable = true
      if (code >= 128) nonAscii = true
    } else if (code < 32) {
      if (code !== 9 && code !== 10 && code !== 13) nonPrintable = true
    } else if (code === 60 || code === 91) bracket = true
    const cls = code < 128 ? CLASS[code] as number : 0 // code < 128
    if (cls & 4) {
      if (++digits > maxDigitRun) maxDigitRun = digits
    } else if (!(cls & 8)) digits = 0
    b = cls & 1 ? b + 1 : 0
    h = cls & 2 ? h + 1 : 0
    if (b >= 24) base64Run = true
    if (h >= 32) hexRun = true
    if (cls & 48) {
      run++
      segment = code === 46 ? 0 : segment + 1
      if (cls & 32) strong = true
      if ((strong && run >= 15) || segment >= 24) secretRun = true
    } else {
      run = 0
      segment = 0
      strong = false
    }
  }
  return { maxDigitRun, base64Run, hexRun, secretRun, nonAscii, nonPrintable, bracket }
}

/** The profile of `text` (the last one is remembered). */
export const profile = (text: string): TextProfile => {
  if (text === lastText && lastProfile !== undefined) return lastProfile
  if (text === prevText && prevProfile !== undefined) return prevProfile
  const p = compute(text)
  prevText = lastText
  prevProfile = lastProfile
  lastText = text
  lastProfile = p
  return p
}
