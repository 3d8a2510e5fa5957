/**
 * The guard's stream window (`Guard.window`, whose module doc states its rules): the text of a streamed answer is
 * scanned as it arrives and released but for a held tail of `holdBack` characters, so a match split across chunks is
 * caught before any of it is released. Past the plain window it holds an open PEM private key from its header to its
 * END line (redacted and dropped up to END past `maxHold`), an open run of token characters that would cross the
 * cut (a JWT, a `Bearer` token, a credential value) with the `TOKEN_CONTEXT` characters before it until the run ends
 * (scanned and released in pieces past `maxHold`), and never releases part of a placeholder.
 *
 * @internal
 */
import { Effect } from "effect"
import type { GuardBlocked } from "../GuardError.ts"

/** What a scan of the output stage returns (the guard's `GuardOutcome`, the text part of it). */
export interface ScanOutcome {
  readonly text: string
}

/** A sliding window over a streamed answer (see `Guard`'s module doc). */
export interface StreamWindow {
  /** Adds a chunk; returns the text that may be released now (possibly redacted), or fails with `GuardBlocked`. */
  readonly push: (chunk: string) => Effect.Effect<string, GuardBlocked>
  /**
   * The end of the stream: the rest, scanned and released. Fails with `GuardBlocked` when a `block` policy of the
   * output stage matches the held text (the last `holdBack` characters, or an open PEM block still waiting for its
   * END line); after a PEM block outgrew `maxHold` the discarded rest is not scanned and `end` succeeds with `""`.
   */
  readonly end: () => Effect.Effect<string, GuardBlocked>
}

export interface StreamWindowOptions {
  /** scans a text at the output stage under the caller's policy and vault */
  readonly scan: (text: string) => Effect.Effect<ScanOutcome, GuardBlocked>
  /** whether the output stage's policy looks for secrets (PEM blocks are then held whole) */
  readonly holdsSecrets: boolean
  /** characters held back at the end of what was scanned */
  readonly holdBack: number
  /** characters a PEM block or a token run is held at most */
  readonly maxHold: number
}

const PEM_BEGIN = /-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----/g
const PEM_END = /-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----/g
/** Characters kept to find an END line split across chunks (longer than any END line). */
const PEM_END_TAIL = 80

/** The index of the last PEM private-key header in `text` with no END line after it, or -1. */
const openPemHeader = (text: string): number => {
  if (!text.includes("PRIVATE KEY")) return -1
  let last = -1
  PEM_BEGIN.lastIndex = 0
  for (let m = PEM_BEGIN.exec(text); m !== null; m = PEM_BEGIN.exec(text)) last = m.index
  if (last < 0) return -1
  return pemEnd(text, last) < 0 ? last : -1
}

/** The index just past the first PEM END line at or after `from`, or -1. */
const pemEnd = (text: string, from: number): number => {
  PEM_END.lastIndex = from
  const m = PEM_END.exec(text)
  return m === null ? -1 : m.index + m[0].length
}
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

export const makeStreamWindow = (options: StreamWindowOptions): StreamWindow => {
  const { holdBack, holdsSecrets, maxHold, scan } = options
  let held = ""
  // "pem": `held` starts at an open PEM header, waiting for its END line; "drop": the block outgrew `maxHold`, was
  // redacted, and what follows is discarded until its END line (`held` keeps a tail in which a split END can be
  // found); "token": `held` ends in an open run of token characters, waiting for its end
  let mode: "window" | "pem" | "drop" | "token" = "window"
  /**
   * Releases the scanned text of `raw` but its tail, which is held. The cut is `holdBack` characters before the end
   * of `raw`, or (`holdRun`) before an open token run and its context that would cross it, and never inside a
   * placeholder. When no redaction touched what is released nor the `TOKEN_CONTEXT` characters after it, the tail
   * is held as it arrived, so a match in it (a token's first characters) is scanned again, whole and with its key
   * name, with what follows; otherwise the scanned text's tail is held.
   */
  const release = (raw: string, holdRun: boolean) => (outcome: ScanOutcome): string => {
    const text = outcome.text
    let cut = Math.max(0, raw.length - holdBack)
    if (holdRun && cut > 0) {
      const run = openRunStart(raw)
      if (run < raw.length && run - TOKEN_CONTEXT < cut) {
        cut = Math.max(0, run - TOKEN_CONTEXT)
        mode = "token"
      }
    }
    const tail = raw.length - cut
    let out: string
    // nothing was redacted before the cut nor in the context before it: hold the tail as it arrived
    if (text === raw || cut <= commonPrefix(text, raw) - TOKEN_CONTEXT) {
      out = raw.slice(0, cut)
      held = raw.slice(cut)
    } else { // the scanned text, but for a tail as long (the same text as raw's tail unless a redaction is in it)
      const at = Math.max(0, text.length - tail)
      out = text.slice(0, at)
      held = text.slice(at)
    }
    const partial = PARTIAL_PLACEHOLDER.exec(out.slice(-65))
    if (partial === null) return out
    held = partial[0] + held
    return out.slice(0, out.length - partial[0].length)
  }
  const whole = (text: string) => Effect.map(scan(text), (o) => o.text)
  /** The normal window over `raw` (held text plus new chunks), entering "pem" at an open PEM header. */
  const slide = (raw: string): Effect.Effect<string, GuardBlocked> => {
    const open = holdsSecrets ? openPemHeader(raw) : -1
    if (open < 0) return Effect.map(scan(raw), release(raw, holdsSecrets))
    held = raw.slice(open)
    mode = "pem"
    return Effect.flatMap(whole(raw.slice(0, open)), (before) => Effect.map(pem(""), (after) => before + after))
  }
  /** Inside an open PEM block: hold until its END line, or redact it once it outgrows `maxHold`. */
  const pem = (chunk: string): Effect.Effect<string, GuardBlocked> => {
    const from = Math.max(0, held.length - PEM_END_TAIL)
    held += chunk
    const end = pemEnd(held, from)
    if (end >= 0) {
      mode = "window"
      return slide(held) // the complete block is masked by the PRIVATE_KEY rule like any secret
    }
    if (held.length <= maxHold) return Effect.succeed("")
    return Effect.map(whole(held), (text) => {
      if (text === held) { // the policy only logs secrets: release what it allows
        mode = "window"
        held = ""
        return text
      }
      mode = "drop"
      held = held.slice(-PEM_END_TAIL)
      return text
    })
  }
  /** After an overflow: discard until the END line, then go on with what follows it. */
  const drop = (chunk: string): Effect.Effect<string, GuardBlocked> => {
    held += chunk
    const end = pemEnd(held, 0)
    if (end < 0) {
      held = held.slice(-PEM_END_TAIL)
      return Effect.succeed("")
    }
    mode = "window"
    const rest = held.slice(end)
    held = ""
    return slide(rest)
  }
  /** Inside an open token run: hold until it ends, or scan and release it once it outgrows `maxHold`. */
  const token = (chunk: string): Effect.Effect<string, GuardBlocked> => {
    held += chunk
    const open = allTokenChars(chunk)
    if (open && held.length <= maxHold) return Effect.succeed("")
    mode = "window"
    // ended: the whole run is scanned at once; outgrown: scanned as it is, released but for the window's tail
    const all = held
    return open ? Effect.map(scan(all), release(all, false)) : slide(all)
  }
  return {
    push: (chunk) =>
      Effect.suspend(() =>
        mode === "pem"
          ? pem(chunk)
          : mode === "drop"
          ? drop(chunk)
          : mode === "token"
          ? token(chunk)
          : slide(held + chunk)
      ),
    end: () =>
      Effect.suspend(() => {
        if (mode === "drop") {
          held = ""
          return Effect.succeed("")
        }
        mode = "window"
        return Effect.map(scan(held), (outcome) => {
          held = ""
          return outcome.text
        })
      })
  }
}
