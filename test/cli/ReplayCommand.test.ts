/**
 * `troupe replay <run-id>` of the real binary against a gateway process started by the test with a run journal
 * (support/runsGateway.ts, which ran one durable turn): the steps in order and the outcome, `--json` the server's
 * document, exit 1 for an unknown run, 5 for a gateway without a journal (501), 4 without the admin key.
 */
import * as fc from "fast-check"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { describeStep, renderRun } from "../../src/cli/ReplayCommand.ts"
import { cleanEnv, type Env, runSync, startServe } from "./support/binary.ts"

const gatewayScript = fileURLToPath(new URL("./support/runsGateway.ts", import.meta.url))
const baseEnv = cleanEnv("replay")
let gateway: ChildProcess
let bare: ChildProcess
let url = ""
let bareUrl = ""
let runId = ""

const troupe = (args: ReadonlyArray<string>, env: Env = {}) => runSync(baseEnv, args, env)

beforeAll(async () => {
  gateway = spawn(process.execPath, [gatewayScript], {
    stdio: ["ignore", "pipe", "pipe"],
    env: baseEnv as NodeJS.ProcessEnv
  })
  const ready = await new Promise<{ url: string; runId: string }>((resolve, reject) => {
    createInterface({ input: gateway.stdout! }).on("line", (l) => {
      if (l.startsWith("{")) resolve(JSON.parse(l))
    })
    gateway.on("exit", (code) => reject(new Error(`gateway exited ${code}`)))
  })
  url = ready.url
  runId = ready.runId
  ;({ child: bare, url: bareUrl } = await startServe(baseEnv, [], { TROUPE_GATEWAY__AUTH__ADMIN_KEY: "replay-admin" }))
}, 60_000)
afterAll(() => {
  gateway?.kill("SIGKILL")
  bare?.kill("SIGKILL")
})

describe("troupe replay (real binary, a gateway with a run journal)", () => {
  it("prints the steps of the run in order and its outcome; --json prints the server's document", () => {
    const text = troupe(["replay", runId], { TROUPE_URL: url, TROUPE_ADMIN_KEY: "replay-admin" })
    expect(text.code).toBe(0)
    const lines = text.out.trim().split("\n")
    expect(lines[0]).toMatch(new RegExp(`^run ${runId} — shop \\(shop:1\\): answered in \\d+ ms$`))
    expect(lines[2]).toBe("input: refund o-7")
    expect(lines[3]).toMatch(/^\s+1\s+model\/1\s+\+\d+ ms\s+calls charge\(\{"amount":5\}\); 16 tokens$/)
    expect(lines[4]).toMatch(/^\s+2\s+tool\/1\/1\s+\+\d+ ms\s+charge → charged 5$/)
    expect(lines[5]).toMatch(/^\s+3\s+model\/2\s+\+\d+ ms\s+text "refunded order o-7"; 16 tokens$/)
    expect(lines[6]).toBe("answer: refunded order o-7")
    const json = troupe(["replay", runId, "--json"], { TROUPE_URL: url, TROUPE_ADMIN_KEY: "replay-admin" })
    expect(json.code).toBe(0)
    const doc = JSON.parse(json.out)
    expect(doc).toMatchObject({ runId, agent: "shop", outcome: "answered" })
    expect(doc.steps.map((s: { name: string }) => s.name)).toStrictEqual(["model/1", "tool/1/1", "model/2"])
  }, 30_000)

  it("an unknown run exits 1 (404); a gateway without a journal exits 5 (501); no admin key exits 4", () => {
    const unknown = troupe(["replay", "nope"], { TROUPE_URL: url, TROUPE_ADMIN_KEY: "replay-admin" })
    expect(unknown.code).toBe(1)
    expect(unknown.err).toContain("HTTP 404")
    const none = troupe(["replay", runId], { TROUPE_URL: bareUrl, TROUPE_ADMIN_KEY: "replay-admin" })
    expect(none.code).toBe(5)
    expect(none.err).toContain("HTTP 501")
    expect(troupe(["replay", runId], { TROUPE_URL: url }).code).toBe(4)
  }, 30_000)

  it("fuzz: the human form renders any run document without throwing", () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.array(
          fc.record({
            seq: fc.integer(),
            name: fc.string(),
            kind: fc.constantFrom("model", "tool", "x"),
            at: fc.integer(),
            value: fc.jsonValue()
          })
        ),
        (result, steps) => {
          const text = renderRun({ runId: "r", outcome: "failed", result, steps, startedAt: 0 })
          expect(text.split("\n").length).toBeGreaterThanOrEqual(3 + steps.length)
          for (const step of steps) expect(describeStep(step).length).toBeLessThan(1000)
        }
      ),
      { numRuns: 200 }
    )
  })

  it("renderRun prints a time outside the Date range as '-' instead of throwing", () => {
    const text = renderRun({ runId: "r", startedAt: 1e20, steps: [] })
    expect(text).toContain("started -")
  })
})
