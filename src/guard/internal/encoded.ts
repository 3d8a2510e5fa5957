/**
 * Encoded payloads: runs of base64 or hex long enough to hide an instruction are decoded, and kept when the result is
 * mostly printable text, so the injection rules can read what they say. ROT13 is tried on the whole text when ROT13
 * forms of trigger words appear. Bounded: at most `MAX_CANDIDATES` runs, each at most 4 KB decoded.
 */
import { Buffer } from "node:buffer"
import { profile } from "./profile.ts"

const BASE64_RUN = /(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=])/g
const HEX_RUN = /(?<![0-9a-fA-F])(?:[0-9a-fA-F]{2}[ :]?){16,}(?![0-9a-fA-F])/g
const MAX_CANDIDATES = 8
const MAX_DECODED = 4096

const printable = (s: string): boolean => {
  if (s.length < 12) return false
  let ok = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if ((c >= 32 && c < 127) || c === 10 || c === 13 || c === 9) ok++
  }
  return ok / s.length > 0.92 && /[a-z]{3,}\s+[a-z]{2,}/i.test(s)
}

export interface Decoded {
  readonly encoding: "base64" | "hex"
  readonly start: number
  readonly end: number
  readonly text: string
}

/** Decoded texts of the encoded runs of `text`. */
export const decodeCandidates = (text: string): Array<Decoded> => {
  const out: Array<Decoded> = []
  if (text.length < 24) return out
  const { base64Run: b64, hexRun: hex } = profile(text)
  if (!b64 && !hex) return out
  BASE64_RUN.lastIndex = 0
  for (
    let m = b64 ? BASE64_RUN.exec(text) : null;
    m !== null && out.length < MAX_CANDIDATES;
    m = BASE64_RUN.exec(text)
  ) {
    const run = m[0].slice(0, (MAX_DECODED * 4) / 3)
    // letters only (a long word) is not base64 worth decoding
    if (!/[0-9+/=]|[A-Z].*[a-z].*[A-Z]/.test(run)) continue
    const decoded = Buffer.from(run, "base64").toString("latin1")
    if (printable(decoded)) out.push({ encoding: "base64", start: m.index, end: m.index + m[0].length, text: decoded })
  }
  HEX_RUN.lastIndex = 0
  for (let m = hex ? HEX_RUN.exec(text) : null; m !== null && out.length < MAX_CANDIDATES; m = HEX_RUN.exec(text)) {
    const hex = m[0].replace(/[ :]/g, "").slice(0, MAX_DECODED * 2)
    const decoded = Buffer.from(hex.length % 2 === 0 ? hex : hex.slice(0, -1), "hex").toString("latin1")
    if (printable(decoded)) out.push({ encoding: "hex", start: m.index, end: m.index + m[0].length, text: decoded })
  }
  return out
}
