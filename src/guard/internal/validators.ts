/**
 * Checksum and shape validators of the PII recognisers: Luhn (payment cards), ISO 13616 mod-97 with the per-country
 * length (IBAN), the SSA's never-issued ranges (US SSN), and IPv4/IPv6 parsers. Hand-rolled, pure.
 */

/** Luhn check over the digits of `s` (other characters ignored). */
export const luhn = (s: string): boolean => {
  let sum = 0
  let double = false
  let n = 0
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) continue
    n++
    let d = c
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return n > 0 && sum % 10 === 0
}

/** IBAN lengths per country (ISO 13616 registry, plus the experimental ones in common use). */
export const IBAN_LENGTH: Readonly<Record<string, number>> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BI: 27,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DJ: 27,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FK: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  LY: 25,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MN: 20,
  MR: 27,
  MT: 31,
  MU: 30,
  NI: 28,
  NL: 18,
  NO: 15,
  OM: 23,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  RU: 33,
  SA: 24,
  SC: 31,
  SD: 18,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  SO: 23,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
  YE: 30
}

/** ISO 7064 mod 97-10 over an IBAN's alphanumerics (already upper case, no spaces). */
export const ibanMod97 = (iban: string): boolean => {
  const s = iban.slice(4) + iban.slice(0, 4)
  let rem = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97
    else if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97
    else return false
  }
  return rem === 1
}

/** A US SSN's area, group and serial were ever issuable (not 000/666/9xx, 00, 0000). */
export const ssnValid = (area: string, group: string, serial: string): boolean =>
  area !== "000" && area !== "666" && area[0] !== "9" && group !== "00" && serial !== "0000"

/** A dotted-quad IPv4 address (no leading zeros beyond a single 0). */
export const ipv4Valid = (s: string): boolean => {
  const parts = s.split(".")
  return parts.length === 4 && parts.every((p) => /^(?:0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)
}

/** An IPv6 address (RFC 4291 text forms: `::` at most once, an optional trailing dotted quad). */
export const ipv6Valid = (s: string): boolean => {
  if (s.length < 2 || s.length > 45) return false
  let groups = s
  let extra = 0
  const lastColon = s.lastIndexOf(":")
  const tail = s.slice(lastColon + 1)
  if (tail.includes(".")) {
    if (!ipv4Valid(tail)) return false
    groups = s.slice(0, lastColon + 1) + "0:0"
    extra = 0
  }
  const halves = groups.split("::")
  if (halves.length > 2) return false
  const parse = (h: string): Array<string> | undefined => {
    if (h === "") return []
    const g = h.split(":")
    return g.every((x) => /^[0-9a-fA-F]{1,4}$/.test(x)) ? g : undefined
  }
  const left = parse(halves[0] ?? "")
  const right = halves.length === 2 ? parse(halves[1] ?? "") : []
  if (left === undefined || right === undefined) return false
  const n = left.length + right.length + extra
  return halves.length === 2 ? n <= 7 : n === 8
}
