/**
 * A strict parser and format checker for the Prometheus text exposition format (version 0.0.4), used by the tests
 * as an equivalent of `promtool check metrics` when promtool is absent (and alongside it when present).
 *
 * Checks: line grammar (`# HELP`, `# TYPE`, samples), metric and label name grammar, label value escaping
 * (only `\\`, `\"`, `\n`), duplicate labels, float values, one HELP/TYPE per family placed before its samples,
 * contiguous families, counter values ≥ 0, histogram `_bucket{le}` ascending with non-decreasing counts ending in
 * `le="+Inf"` equal to `_count` and present `_sum`, summary `quantile` labels in [0, 1] with `_sum`/`_count`, and
 * promtool's lint rules that apply (HELP present, counters end in `_total`, others do not).
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  readonly type: string
  readonly help: string | undefined
  readonly samples: ReadonlyArray<Sample>
}

export interface ParseResult {
  readonly families: ReadonlyMap<string, Family>
  readonly problems: ReadonlyArray<string>
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const floatText = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$/
const types = new Set(["counter", "gauge", "histogram", "summary", "untyped"])

const parseFloatText = (text: string): number | undefined => {
  if (!floatText.test(text)) return undefined
  if (text === "NaN") return Number.NaN
  if (text.endsWith("Inf")) return text.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY
  return Number(text)
}

/** Parses `{a="x",b="y"}` starting at `text[0] === "{"`; returns labels and the rest of the line. */
const parseLabels = (
  text: string,
  problems: Array<string>,
  line: number
): { labels: Record<string, string>; rest: string } | undefined => {
  const labels: Record<string, string> = {}
  let i = 1
  while (i < text.length) {
    if (text[i] === "}") return { labels, rest: text.slice(i + 1) }
    const eq = text.indexOf("=", i)
    if (eq < 0) return void problems.push(`line ${line}: label without '='`)
    const name = text.slice(i, eq)
    if (!labelName.test(name)) problems.push(`line ${line}: invalid label name "${name}"`)
    if (name.startsWith("__")) problems.push(`line ${line}: reserved label name "${name}"`)
    if (name in labels) problems.push(`line ${line}: duplicate label "${name}"`)
    if (text[eq + 1] !== "\"") return void problems.push(`line ${line}: label value must be quoted`)
    let value = ""
    let j = eq + 2
    for (; j < text.length; j++) {
      const c = text[j]
      if (c === "\\") {
        const next = text[j + 1]
        if (next === "\\") value += "\\"
        else if (next === "\"") value += "\""
        else if (next === "n") value += "\n"
        else problems.push(`line ${line}: invalid escape \\${next ?? ""} in label ${name}`)
        j++
      } else if (c === "\"") break
      else if (c === "\n") problems.push(`line ${line}: raw newline in label value`)
      else value += c
    }
    if (j >= text.length) return void problems.push(`line ${line}: unterminated label value`)
    labels[name] = value
    i = j + 1
    if (text[i] === ",") i++
    else if (text[i] !== "}") return void problems.push(`line ${line}: expected ',' or '}' after label ${name}`)
  }
  problems.push(`line ${line}: unterminated label set`)
  return undefined
}

const familyOf = (sample: string, declared: ReadonlyMap<string, { type: string }>): string => {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (sample.endsWith(suffix)) {
      const base = sample.slice(0, -suffix.length)
      const t = declared.get(base)?.type
      if (t === "histogram" || (t === "summary" && suffix !== "_bucket")) return base
    }
  }
  return sample
}

export const parsePrometheusText = (text: string): ParseResult => {
  const problems: Array<string> = []
  const declared = new Map<string, { type: string; help: string | undefined; samples: Array<Sample> }>()
  const finished = new Set<string>()
  let current: string | undefined
  if (text.length > 0 && !text.endsWith("\n")) problems.push("exposition must end with a newline")
  const lines = text.split("\n")
  if (lines[lines.length - 1] === "") lines.pop()
  const enter = (family: string, line: number) => {
    if (current !== family) {
      if (current !== undefined) finished.add(current)
      if (finished.has(family)) problems.push(`line ${line}: family ${family} is not contiguous`)
      current = family
    }
  }
  lines.forEach((raw, index) => {
    const line = index + 1
    if (raw.trim() === "") return
    if (raw.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(raw)
      if (m === null) return // plain comment
      const [, keyword, name = "", rest = ""] = m
      if (!metricName.test(name)) problems.push(`line ${line}: invalid metric name "${name}"`)
      enter(name, line)
      const entry = declared.get(name) ?? { type: "untyped", help: undefined, samples: [] }
      if (keyword === "TYPE") {
        if (!types.has(rest)) problems.push(`line ${line}: unknown type "${rest}"`)
        if (declared.get(name)?.type !== undefined && declared.get(name)?.type !== "untyped") {
          problems.push(`line ${line}: second TYPE for ${name}`)
        }
        if (entry.samples.length > 0) problems.push(`line ${line}: TYPE after samples of ${name}`)
        entry.type = rest
      } else {
        if (entry.help !== undefined) problems.push(`line ${line}: second HELP for ${name}`)
        if (/\\(?![\\n])/.test(rest)) problems.push(`line ${line}: invalid escape in HELP`)
        entry.help = rest
      }
      declared.set(name, entry)
      return
    }
    const nameMatch = /^[^\s{]+/.exec(raw)
    const name = nameMatch?.[0] ?? ""
    if (!metricName.test(name)) return void problems.push(`line ${line}: invalid metric name "${name}"`)
    let rest = raw.slice(name.length)
    let labels: Record<string, string> = {}
    if (rest.startsWith("{")) {
      const parsed = parseLabels(rest, problems, line)
      if (parsed === undefined) return
      labels = parsed.labels
      rest = parsed.rest
    }
    const fields = rest.trim().split(/\s+/)
    if (!rest.startsWith(" ") || fields.length < 1 || fields.length > 2) {
      return void problems.push(`line ${line}: malformed sample`)
    }
    const value = parseFloatText(fields[0] ?? "")
    if (value === undefined) return void problems.push(`line ${line}: invalid value "${fields[0]}"`)
    if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) problems.push(`line ${line}: invalid timestamp`)
    const family = familyOf(name, declared)
    enter(family, line)
    const entry = declared.get(family) ?? { type: "untyped", help: undefined, samples: [] }
    declared.set(family, entry)
    entry.samples.push({ name, labels, value })
  })
  for (const [name, f] of declared) checkFamily(name, f, problems)
  const families = new Map<string, Family>()
  for (const [name, f] of declared) families.set(name, { name, ...f })
  return { families, problems }
}

const seriesKey = (labels: Readonly<Record<string, string>>, omit: string): string =>
  JSON.stringify(Object.entries(labels).filter(([k]) => k !== omit).sort(([a], [b]) => (a < b ? -1 : 1)))

const checkFamily = (
  name: string,
  f: { type: string; help: string | undefined; samples: Array<Sample> },
  problems: Array<string>
) => {
  if (f.help === undefined) problems.push(`${name}: no help text (promtool lint)`)
  if (f.type === "counter" && !name.endsWith("_total")) {
    problems.push(`${name}: counter metrics should have "_total" suffix (promtool lint)`)
  }
  if (f.type !== "counter" && name.endsWith("_total")) {
    problems.push(`${name}: non-counter metrics should not have "_total" suffix (promtool lint)`)
  }
  if (f.type === "counter") {
    for (const s of f.samples) if (!(s.value >= 0)) problems.push(`${name}: negative counter value`)
  }
  if (f.type === "histogram") {
    const series = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>()
    for (const s of f.samples) {
      const key = seriesKey(s.labels, "le")
      const entry = series.get(key) ?? { buckets: [] }
      series.set(key, entry)
      if (s.name === `${name}_bucket`) {
        const le = s.labels.le === undefined ? undefined : parseFloatText(s.labels.le)
        if (le === undefined) problems.push(`${name}: bucket without a valid le label`)
        else entry.buckets.push([le, s.value])
      } else if (s.name === `${name}_sum`) entry.sum = s.value
      else if (s.name === `${name}_count`) entry.count = s.value
      else problems.push(`${name}: unexpected histogram sample ${s.name}`)
    }
    for (const [key, e] of series) {
      const les = e.buckets.map(([le]) => le)
      if (les.some((le, i) => i > 0 && le <= (les[i - 1] ?? Number.NEGATIVE_INFINITY))) {
        problems.push(`${name}${key}: le not ascending`)
      }
      if (e.buckets.some(([, c], i) => i > 0 && c < (e.buckets[i - 1]?.[1] ?? 0))) {
        problems.push(`${name}${key}: bucket counts decrease`)
      }
      const last = e.buckets[e.buckets.length - 1]
      if (last === undefined || last[0] !== Number.POSITIVE_INFINITY) {
        problems.push(`${name}${key}: last bucket is not le="+Inf"`)
      }
      if (e.count === undefined || e.sum === undefined) problems.push(`${name}${key}: missing _sum or _count`)
      else if (last !== undefined && last[1] !== e.count) problems.push(`${name}${key}: +Inf bucket != _count`)
    }
  }
  if (f.type === "summary") {
    for (const s of f.samples) {
      if (s.name === name) {
        const q = s.labels.quantile === undefined ? undefined : parseFloatText(s.labels.quantile)
        if (q === undefined || q < 0 || q > 1) problems.push(`${name}: quantile label missing or outside [0, 1]`)
      }
    }
    const names = new Set(f.samples.map((s) => s.name))
    if (f.samples.length > 0 && (!names.has(`${name}_sum`) || !names.has(`${name}_count`))) {
      problems.push(`${name}: missing _sum or _count`)
    }
  }
}
