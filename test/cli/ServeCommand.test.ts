/**
 * `troupe serve` of the real binary: its flags are checked before anything starts (exit 2 naming the flag), a start
 * that fails is one `troupe: <reason>` line and exit 1 without a stack trace, and a SIGTERM or SIGINT after a clean
 * drain exits 0.
 */
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, type Env, type Run, runAsync, startServe } from "./support/binary.ts"

const baseEnv = cleanEnv("serve")

const troupe = (args: ReadonlyArray<string>, env: Env = {}): Promise<Run> => runAsync(baseEnv, args, env)

/** A stack frame or an untyped defect in the output. */
const stack = (r: Run) => /TypeError|RangeError|\n\s+at |ERROR \(#/.test(r.out + r.err)

let busy: ReturnType<typeof createServer>
let busyPort = 0
beforeAll(async () => {
  busy = createServer()
  await new Promise<void>((resolve) => {
    busy.listen(0, "127.0.0.1", resolve)
  })
  busyPort = (busy.address() as AddressInfo).port // listening on a TCP port
})
afterAll(() => {
  busy?.close()
})

describe("troupe serve (real binary)", () => {
  it("--port outside 0-65535 is exit 2 naming --port, before anything starts", async () => {
    const runs = await Promise.all([troupe(["serve", "--port", "70000"]), troupe(["serve", "--port", "-1"])])
    for (const r of runs) {
      expect(r.code, r.out + r.err).toBe(2)
      expect(r.err).toContain("troupe: --port: ")
      expect(stack(r), r.out + r.err).toBe(false)
      expect(r.out).not.toContain("listening on")
    }
  }, 30_000)

  it(
    "a start that fails (a missing --config file, a busy port) prints troupe: <reason> and exits 1 without a stack trace",
    async () => {
      const [missing, taken] = await Promise.all([
        troupe(["serve", "--port", "0", "--config", "/nonexistent/troupe.json"]),
        troupe(["serve", "--port", String(busyPort)])
      ])
      expect(missing.code, missing.out + missing.err).toBe(1)
      expect(missing.err).toMatch(/^troupe: .*\/nonexistent\/troupe\.json/m)
      expect(stack(missing), missing.out + missing.err).toBe(false)
      expect(taken.code, taken.out + taken.err).toBe(1)
      expect(taken.err).toMatch(/^troupe: .*EADDRINUSE/m)
      expect(stack(taken), taken.out + taken.err).toBe(false)
    },
    30_000
  )

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`a ${signal} drains the gateway and exits 0`, async () => {
      const { child } = await startServe(baseEnv)
      let err = ""
      child.stderr?.on("data", (d: Buffer) => {
        err += d.toString()
      })
      const code = await new Promise<number | null>((resolve) => {
        child.once("close", (c) => resolve(c))
        child.kill(signal)
      })
      expect(code, err).toBe(0)
    }, 30_000)
  }
})
