/**
 * The built-in PII recognisers: a candidate regular expression, a validator (checksum or shape) and optional
 * context words, as in Presidio's pattern recognisers. Earlier recognisers win overlaps (checksum-validated types
 * first), so a Luhn-valid card is never also reported as a phone number.
 */
import { profile } from "./profile.ts"
import { IBAN_LENGTH, ibanMod97, ipv4Valid, ipv6Valid, luhn, ssnValid } from "./validators.ts"

export interface Span {
  readonly start: number
  readonly end: number
}

export interface Recognizer {
  readonly type: string
  readonly rule: string
  /** Must have the `g` flag. */
  readonly re: RegExp
  /** Checks a candidate; may narrow it (returns the span to report) or reject it (`undefined`). */
  readonly validate?: (match: RegExpExecArray, text: string) => Span | undefined
  /** When given, the candidate counts only if one of these words occurs within `contextWindow` characters before it. */
  readonly context?: RegExp
  readonly contextWindow?: number
  readonly score: number
  /** A cheap test the text must pass before the regex runs (a speed-up: the regex cannot match without it). */
  readonly hint?: (text: string) => boolean
}

const hasDigitRun = (n: number) => (text: string): boolean => profile(text).maxDigitRun >= n

const LOCAL = /[A-Za-z0-9._%+-]/
const DOMAIN =
  /(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})(?![\w-])/y

const whole = (m: RegExpExecArray): Span => ({ start: m.index, end: m.index + m[0].length })

const before = (text: string, at: number, window: number): string => text.slice(Math.max(0, at - window), at)

const PHONE_CONTEXT =
  /\b(?:phone|tel|telephone|mobile|mob|cell|fax|call|calling|called|number|no\.?|nr|reach|text|sms|whatsapp|contact|answering|dial|desk|office|registered|ring|landline|hotline)\b/i
const SSN_CONTEXT = /\b(?:ssn|social\s+security|social\s+sec|ss#|tax\s+id|tin)\b/i
const DOB_CONTEXT = /\b(?:born|birth|dob|d\.o\.b|birthday|birthdate|geboren|né|née)\b/i
const DATE_SHAPE = /^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|^\d{1,2}[-/.]\d{1,2}[-/.]\d{4}$|^\d{1,2}:\d{2}/

export const RECOGNIZERS: ReadonlyArray<Recognizer> = [
  {
    type: "CREDIT_CARD",
    rule: "pii.credit-card",
    hint: hasDigitRun(13),
    re: /(?<![\d\w-])[1-6]\d{2,3}(?:([ -]?)\d{2,6}){2,5}(?![\d-]|\w)/g,
    validate: (m) => {
      const raw = m[0]
      const digits = raw.replace(/[ -]/g, "")
      if (digits.length < 13 || digits.length > 19) return undefined
      const seps = raw.match(/[ -]/g)
      if (seps !== null && new Set(seps).size > 1) return undefined // mixed separators: not a card layout
      if (/^(\d)\1+$/.test(digits)) return undefined
      // a grouped number right after another alphanumeric group is part of a longer code (an IBAN, a SKU)
      if (
        seps !== null &&
        /(?:^|[^A-Za-z0-9])[A-Za-z]{0,4}\d[A-Za-z0-9]{0,5}[ -]$/.test(m.input.slice(Math.max(0, m.index - 12), m.index))
      ) return undefined
      return luhn(digits) ? whole(m) : undefined
    },
    score: 0.95
  },
  {
    type: "IBAN",
    rule: "pii.iban",
    hint: hasDigitRun(6),
    re: /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,32}/g,
    validate: (m) => {
      const raw = m[0]
      const country = raw.slice(0, 2).toUpperCase()
      const length = IBAN_LENGTH[country]
      if (length === undefined) return undefined
      let n = 0
      let end = 0
      let compact = ""
      for (let i = 0; i < raw.length && n < length; i++) {
        const c = raw[i] ?? ""
        if (c !== " ") {
          n++
          compact += c.toUpperCase()
          end = i + 1
        }
      }
      if (n !== length) return undefined
      const next = raw[end]
      // the IBAN must end at a word boundary (not inside a longer alphanumeric run)
      if (next !== undefined && next !== " ") return undefined
      if (next === undefined && /[A-Za-z0-9]/.test(m.input[m.index + end] ?? "")) return undefined
      if (raw.slice(0, 2) !== raw.slice(0, 2).toUpperCase() && raw !== raw.toLowerCase()) return undefined
      return ibanMod97(compact) ? { start: m.index, end: m.index + end } : undefined
    },
    score: 0.95
  },
  {
    type: "US_SSN",
    rule: "pii.us-ssn",
    hint: hasDigitRun(9),
    re: /(?<![\d-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\d-])/g,
    validate: (m, text) => {
      const [, area = "", sep = "", group = "", serial = ""] = m
      if (!ssnValid(area, group, serial)) return undefined
      if (sep === "" && !SSN_CONTEXT.test(before(text, m.index, 40))) return undefined
      if (sep === " " && !SSN_CONTEXT.test(before(text, m.index, 40))) return undefined
      return whole(m)
    },
    score: 0.85
  },
  {
    type: "EMAIL",
    rule: "pii.email",
    hint: (t) => t.includes("@"),
    // found from each "@": the regex is anchored there (a regex over the whole text would be tried at every position)
    re: /@/g,
    validate: (m, text) => {
      const at = m.index
      let a = at
      while (a > 0 && at - a < 64 && LOCAL.test(text[a - 1] ?? "")) a--
      while (a < at && !/[A-Za-z0-9]/.test(text[a] ?? "")) a++ // a local part starts with a letter or digit
      if (a === at || /[\w.%+-]/.test(text[a - 1] ?? "")) return undefined
      DOMAIN.lastIndex = at + 1
      const d = DOMAIN.exec(text)
      if (d === null) return undefined
      if (/[._%+-]$/.test(text.slice(a, at))) return undefined
      return { start: a, end: at + 1 + d[0].length }
    },
    score: 0.95
  },
  {
    type: "IP_ADDRESS",
    rule: "pii.ipv6",
    hint: (t) => t.includes(":"),
    re: /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?![\w:])/g,
    validate: (m) => {
      const s = m[0]
      if (!s.includes("::") && s.split(":").length < 8) return undefined
      if (s === "::") return undefined
      return ipv6Valid(s) ? whole(m) : undefined
    },
    score: 0.85
  },
  {
    type: "IP_ADDRESS",
    rule: "pii.ipv4",
    hint: hasDigitRun(4),
    re: /(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\d)/g,
    validate: (m) => (ipv4Valid(m[0]) ? whole(m) : undefined),
    score: 0.85
  },
  {
    type: "DATE_OF_BIRTH",
    rule: "pii.date-of-birth",
    hint: (t) => DOB_CONTEXT.test(t),
    re:
      /\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2},? \d{4}|\d{1,2} (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{4})\b/gi,
    context: DOB_CONTEXT,
    contextWindow: 40,
    score: 0.7
  },
  {
    type: "PHONE",
    rule: "pii.phone",
    hint: hasDigitRun(7),
    re:
      /(?<![\w+.\-/])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d[\d().\- ]{4,22}\d(?:\s?(?:x|ext\.?|#)\s?\d{1,6})?(?![\w-]|\.\d)/g,
    validate: (m, text) => {
      const raw = m[0]
      const main = raw.replace(/\s?(?:x|ext\.?|#)\s?\d{1,6}$/, "")
      const digits = main.replace(/\D/g, "")
      if (digits.length < 7 || digits.length > 15) return undefined
      if (/[ .()-]{2,}/.test(main.replace(/\) /g, ")").replace(/ \(/g, "("))) return undefined
      const open = (main.match(/\(/g) ?? []).length
      if (open !== (main.match(/\)/g) ?? []).length || open > 1) return undefined
      if (DATE_SHAPE.test(main)) return undefined
      const plus = main.startsWith("+")
      const area = /^\(\d{2,4}\)/.test(main)
      const nanp = /^(?:1[ .-])?\d{3}[ .-]\d{3}[ .-]\d{4}$/.test(main)
      if (plus && digits.length >= 8) return whole(m)
      if (area || nanp) return whole(m)
      return PHONE_CONTEXT.test(before(text, m.index, 40)) ? whole(m) : undefined
    },
    score: 0.7
  }
]
