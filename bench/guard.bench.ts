/**
 * Guardrail latency (rows in `bench/results.json`), each measured interleaved with its baseline:
 *
 * - `guard.input.2k` / `.20k` / `.200k`: `Guard.check(text, "input")` — sanitiser, injection heuristics (with the
 *   encoded-payload decoders), secrets and PII under the default policy — on ordinary prose of 2 KB, 20 KB and
 *   200 KB holding an e-mail address and a phone number (so the PII redaction path runs). Target ≤ 50 µs for 2 KB;
 *   linear in size (the 20k and 200k rows name the 2k row as baseline: ratios ≈ 10 and ≈ 100).
 * - `floor.guard.regex-pass.2k`: the baseline — one plain global regex pass (an e-mail pattern) over the same 2 KB.
 * - `guard.stream.chunk`: one `StreamWindow.push` of a 16-character chunk (hold-back 256) with the default output
 *   policy (secrets and content), vs `floor.guard.regex-pass.chunk`, the same regex over the window's 272 characters.
 *
 * The evaluation figures (precision, recall, F1) are in `bench/guard-accuracy.bench.ts`; `node bench/guard-eval.ts` prints them all.
 */
import { Effect } from "effect"
import { Guard, Vault } from "../src/guard/index.ts"
import type { BenchRow } from "./harness.ts"
import { timeInterleaved } from "./harness.ts"

const SENTENCES = [
  "The quarterly report shows that revenue grew in every region except the north, where supply issues persisted.",
  "Please summarise the attached notes and list the three decisions we took during Tuesday's planning meeting.",
  "Our team will migrate the billing service to the new cluster next month, after the load tests are green.",
  "Customers asked for clearer invoices, faster refunds and a way to export their data as CSV files.",
  "If the deployment fails, roll back to the previous release and open an incident ticket for the on-call engineer.",
  "The design review concluded that the cache should expire entries after ten minutes to keep prices fresh."
]

/** Deterministic prose of about `bytes` characters with one e-mail address and one phone number. */
export const prose = (bytes: number): string => {
  let out = "Hi, I am writing from ops.lead@example.com (call +44 20 7946 0958). "
  for (let i = 0; out.length < bytes; i++) out += SENTENCES[i % SENTENCES.length] + " "
  return out.slice(0, bytes)
}

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g
const regexPass = (text: string): number => {
  EMAIL.lastIndex = 0
  let n = 0
  while (EMAIL.exec(text) !== null) n++
  return n
}

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const text2 = prose(2_048)
  const text20 = prose(20_480)
  const text200 = prose(204_800)
  let sink = 0
  const rows = await timeInterleaved(
    Effect.gen(function*() {
      const guard = yield* Guard.make()
      const check = (text: string, ops: number) =>
        Effect.suspend(() => {
          let e: Effect.Effect<void, unknown> = Effect.void
          for (let i = 0; i < ops; i++) e = Effect.flatMap(e, () => Effect.asVoid(guard.check(text, "input")))
          return e
        })
      const chunks = prose(4_096).match(/.{1,16}/gs) ?? []
      const window272 = prose(272)
      const streamBatch = Effect.suspend(() => {
        const w = guard.window({}, new Vault(), 256)
        return Effect.forEach(chunks, (c) => Effect.map(w.push(c), (r) => (sink += r.length)), { discard: true })
      })
      return [
        {
          id: "floor.guard.regex-pass.2k",
          ops: 200,
          batch: Effect.sync(() => {
            for (let i = 0; i < 200; i++) sink += regexPass(text2)
          })
        },
        {
          id: "guard.input.2k",
          ops: 200,
          batch: check(text2, 200),
          baseline: "floor.guard.regex-pass.2k",
          note: "all input scanners, default policy; target ≤ 50 µs"
        },
        {
          id: "guard.input.20k",
          ops: 20,
          batch: check(text20, 20),
          baseline: "guard.input.2k",
          note: "linear: ratio ≈ 10"
        },
        {
          id: "guard.input.200k",
          ops: 2,
          batch: check(text200, 2),
          baseline: "guard.input.2k",
          note: "linear: ratio ≈ 100"
        },
        {
          id: "floor.guard.regex-pass.chunk",
          ops: chunks.length,
          batch: Effect.sync(() => {
            for (let i = 0; i < chunks.length; i++) sink += regexPass(window272)
          })
        },
        {
          id: "guard.stream.chunk",
          ops: chunks.length,
          batch: streamBatch,
          baseline: "floor.guard.regex-pass.chunk",
          note: "16-char chunks, hold-back 256, default output policy"
        }
      ]
    }),
    { samples: 15, warmup: 3 }
  )
  if (sink === -1) console.log(sink)
  return rows
}
