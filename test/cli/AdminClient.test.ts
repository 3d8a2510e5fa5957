/**
 * The argument checks of the admin commands (`internal/AdminClient.ts`, `KeysCommands.durationArg`), in process:
 * every input is either accepted within its bounds or refused with exit code 2 naming the flag; the answers `call`
 * decodes, and what `report` prints.
 */
import { Console, Effect, Exit, Option, Schema } from "effect"
import fc from "fast-check"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import {
  call,
  CliFailure,
  isoTime,
  numberArg,
  queryOf,
  report,
  resolveTarget,
  table
} from "../../src/cli/internal/AdminClient.ts"
import { durationArg } from "../../src/cli/KeysCommands.ts"

const refusal = (exit: Exit.Exit<unknown, CliFailure>) => {
  if (Exit.isSuccess(exit)) return undefined
  const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
  return failure?._tag === "Fail" ? failure.error : undefined
}

describe("admin command arguments", () => {
  it("numberArg accepts a finite number within bounds and refuses anything else with exit 2 naming the flag", () => {
    expect(Effect.runSync(numberArg("--limit", "5", { min: 0, max: 1e9 }))).toBe(5)
    expect(Effect.runSync(numberArg("--limit", "0.25", { min: 0, max: 1e9 }))).toBe(0.25)
    for (const raw of ["-1", "ten", "", " ", "NaN", "Infinity", "1e10", "0x"]) {
      const e = refusal(Effect.runSyncExit(numberArg("--limit", raw, { min: 0, max: 1e9 })))
      expect(e?.code, raw).toBe(2)
      expect(e?.message).toContain("--limit")
    }
    expect(refusal(Effect.runSyncExit(numberArg("--days", "2.5", { min: 1, max: 31, int: true })))?.code).toBe(2)
  })

  it("durationArg reads 0, ms, s, m, h and d up to its maximum", () => {
    expect(Effect.runSync(durationArg("--grace", "0", 86_400_000))).toBe(0)
    expect(Effect.runSync(durationArg("--grace", "90s", 86_400_000))).toBe(90_000)
    expect(Effect.runSync(durationArg("--grace", "2h", 86_400_000))).toBe(7_200_000)
    for (const raw of ["2d", "-1s", "1.5h", "forever", "", "1w"]) {
      expect(refusal(Effect.runSyncExit(durationArg("--grace", raw, 86_400_000)))?.code, raw).toBe(2)
    }
  })

  it("fuzz: any string is accepted within bounds or refused with exit 2, never thrown", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (raw) => {
        for (
          const exit of [
            Effect.runSyncExit(numberArg("--rate", raw, { min: 0.001, max: 10_000 })),
            Effect.runSyncExit(durationArg("--expires-in", raw, 3650 * 86_400_000))
          ]
        ) {
          if (Exit.isSuccess(exit)) {
            expect(Number.isFinite(exit.value)).toBe(true)
            expect(exit.value).toBeGreaterThanOrEqual(0)
          } else {
            expect(refusal(exit)).toBeInstanceOf(CliFailure)
            expect(refusal(exit)?.code).toBe(2)
          }
        }
      }),
      { numRuns: 500, seed: 7 }
    )
  })

  it("queryOf leaves out absent parameters and encodes the rest; table pads its columns", () => {
    expect(queryOf({ tenant: "a&b", principal: undefined, limit: 5 })).toBe("?tenant=a%26b&limit=5")
    expect(queryOf({ a: undefined })).toBe("")
    expect(table(["ID", "NAME"], [["1", "x"], ["200", "yy"]])).toBe("ID   NAME\n1    x\n200  yy")
  })
})

const target = (url: string | undefined, timeout = 10_000) => ({
  url: Option.fromUndefinedOr(url),
  adminKey: Option.some("k"),
  timeout
})

describe("the gateway, the timeout and the answers of admin commands", () => {
  it("the gateway URL must be http(s) without credentials: else exit 2 naming --url, the password never echoed", () => {
    expect(Effect.runSync(resolveTarget(target("https://gw.example:8443/base/"))).base).toBe(
      "https://gw.example:8443/base"
    )
    expect(Effect.runSync(resolveTarget(target("http://127.0.0.1:7400"))).origin).toBe("http://127.0.0.1:7400")
    for (
      const raw of ["notaurl", "ftp://127.0.0.1:1", "http://ops:hunter2pw@127.0.0.1:1", "http://hunter2pw@h", "", "/x"]
    ) {
      const e = refusal(Effect.runSyncExit(resolveTarget(target(raw))))
      expect(e?.code, raw).toBe(2)
      expect(e?.message, raw).toMatch(/^--url: /)
      expect(e?.message, raw).not.toContain("hunter2pw")
    }
  })

  it("--timeout must be 1 to 2147483647 ms (Node's longest timer): else exit 2 naming --timeout", () => {
    expect(Effect.runSync(resolveTarget(target(undefined, 2_147_483_647))).timeout).toBe(2_147_483_647)
    for (const ms of [-1, 0, 2_147_483_648, 4_294_967_296, 1.5]) {
      const e = refusal(Effect.runSyncExit(resolveTarget(target(undefined, ms))))
      expect(e?.code, String(ms)).toBe(2)
      expect(e?.message).toMatch(/^--timeout: /)
    }
  })

  it("call decodes the answer with the command's Schema: one it does not expect is exit 5 'unexpected answer at <path>'", async () => {
    const server = createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(req.url === "/good" ? JSON.stringify({ enabled: true, extra: 1 }) : JSON.stringify({ enabled: "yes" }))
    })
    await new Promise<void>((resolve) => {
      server.listen(0, "127.0.0.1", resolve)
    })
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}` // listening on a TCP port
    try {
      const Answer = Schema.Struct({ enabled: Schema.Boolean })
      const good = await Effect.runPromise(call(target(url), "GET", "/good", Answer))
      expect(good.answer).toStrictEqual({ enabled: true })
      expect(good.body).toStrictEqual({ enabled: true, extra: 1 }) // --json prints the server's JSON as is
      const exit = await Effect.runPromiseExit(call(target(url), "GET", "/bad?x=1", Answer))
      const e = refusal(exit)
      expect(e?.code).toBe(5)
      expect(e?.message).toMatch(/^GET \/bad: unexpected answer at enabled: /)
    } finally {
      server.close()
    }
  })

  it("report prints a defect as one troupe: line and exit 1, not a stack trace", async () => {
    const lines: Array<string> = []
    const capture: Console.Console = {
      ...globalThis.console,
      error: (...xs: ReadonlyArray<unknown>) => {
        lines.push(xs.map(String).join(" "))
      }
    }
    const saved = process.exitCode
    try {
      await Effect.runPromise(
        report(Effect.die(new TypeError("boom"))).pipe(Effect.provideService(Console.Console, capture))
      )
      expect(process.exitCode).toBe(1)
      expect(lines).toStrictEqual(["troupe: unexpected error: TypeError: boom"])
    } finally {
      process.exitCode = saved
    }
  })

  it("isoTime prints a time outside the Date range as '-' instead of throwing", () => {
    expect(isoTime(0)).toBe("1970-01-01T00:00:00Z")
    expect(isoTime(8.64e15)).toBe("+275760-09-13T00:00:00Z")
    for (const ms of [1e20, -1e20, 8.64e15 + 1, Number.NaN, "1"]) expect(isoTime(ms)).toBe("-")
  })
})
