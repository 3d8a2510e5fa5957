/**
 * The `troupe` commands run in this process through `Cli.run(argv)` (the real-binary tests in this folder run
 * `bin/troupe.js` in child processes, whose coverage v8 does not report here), against `serveLayer` — what
 * `troupe serve` runs — built once on a free loopback port, with an admin key and issued keys required on `/v1/*`.
 * Output is captured through effect's `Console` service; the exit code is the one `report` sets on
 * `process.exitCode` (1 when the program itself fails, as `NodeRuntime.runMain` would exit), reset after each run.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Console, Context, Effect, Exit, Layer, Schema, Scope } from "effect"
import { WorkflowEngine } from "effect/workflow"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import type { AddressInfo, Server } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { Action, type AgentLoop, Tool } from "../../src/agent/index.ts"
import { Troupe } from "../../src/app/index.ts"
import { Cli } from "../../src/cli/index.ts"
import { Gateway } from "../../src/gateway/index.ts"
import type { LlmResponse } from "../../src/llm/index.ts"
import { Journal, LlmAgent, LlmAgents, RunJournal } from "../../src/llmagent/index.ts"
import { startGateway } from "../gateway/support.ts"
import { serveInProcess } from "./support/serveInProcess.ts"

const ADMIN = "inproc-admin"
const home = mkdtempSync(join(tmpdir(), "troupe-inproc-"))
const savedExitCode = process.exitCode
const saved = {
  HOME: process.env.HOME,
  TROUPE_URL: process.env.TROUPE_URL,
  TROUPE_ADMIN_KEY: process.env.TROUPE_ADMIN_KEY
}
let served: Awaited<ReturnType<typeof serveInProcess>> | undefined
let url = ""
let closedPort = 0
let silent: Server
let silentUrl = ""

interface Run {
  readonly code: number
  readonly out: string
  readonly err: string
}

/** Runs `troupe <args>` in this process, capturing stdout and stderr. */
const troupe = async (args: ReadonlyArray<string>): Promise<Run> => {
  const out: Array<string> = []
  const err: Array<string> = []
  const capture: Console.Console = {
    ...globalThis.console,
    log: (...xs: ReadonlyArray<unknown>) => {
      out.push(xs.map(String).join(" "))
    },
    error: (...xs: ReadonlyArray<unknown>) => {
      err.push(xs.map(String).join(" "))
    }
  }
  process.exitCode = undefined
  try {
    const exit = await Effect.runPromiseExit(
      Cli.run(args).pipe(Effect.provideService(Console.Console, capture), Effect.provide(NodeServices.layer))
    )
    const set = process.exitCode
    return {
      code: typeof set === "number" ? set : Exit.isSuccess(exit) ? 0 : 1,
      out: out.join("\n"),
      err: err.join("\n")
    }
  } finally {
    process.exitCode = savedExitCode
  }
}
const admin = (args: ReadonlyArray<string>) => troupe([...args, "--url", url, "--admin-key", ADMIN])

beforeAll(async () => {
  process.env.HOME = home
  delete process.env.TROUPE_URL
  delete process.env.TROUPE_ADMIN_KEY
  served = await serveInProcess(ADMIN)
  url = served.url
  // a port nothing listens on, and a server that accepts connections and never answers
  const probe = createServer()
  await new Promise<void>((resolve) => {
    probe.listen(0, "127.0.0.1", resolve)
  })
  closedPort = (probe.address() as AddressInfo).port // listening on a TCP port
  await new Promise<void>((resolve) => {
    probe.close(() => resolve())
  })
  silent = createServer(() => {})
  await new Promise<void>((resolve) => {
    silent.listen(0, "127.0.0.1", resolve)
  })
  silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}` // listening on a TCP port
})

afterAll(async () => {
  silent.close()
  await served?.stop()
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
})

describe("troupe admin commands in process", () => {
  it("tree, health and metrics, human and --json", async () => {
    const tree = await admin(["tree"])
    expect(tree.code).toBe(0)
    expect(tree.out).toContain("troupe")
    const treeJson = await admin(["tree", "--json"])
    expect(JSON.parse(treeJson.out)).toHaveProperty("id")
    const health = await troupe(["health", "--url", url])
    expect(health.code).toBe(0)
    expect(health.out).toContain("live: up")
    const healthJson = await troupe(["health", "--url", url, "--json"])
    expect(JSON.parse(healthJson.out)).toHaveProperty("ready")
    const metrics = await troupe(["metrics", "--url", url])
    expect(metrics.code).toBe(0)
    const metricsJson = await troupe(["metrics", "--url", url, "--json"])
    expect(Array.isArray(JSON.parse(metricsJson.out))).toBe(true)
  })

  it("config get, set and the errors of both", async () => {
    const whole = await admin(["config", "get"])
    expect(whole.code).toBe(0)
    expect(JSON.parse(whole.out)).toHaveProperty("gateway")
    expect((await admin(["config", "get", "gateway.auth.adminKey"])).out.trim()).toBe("<redacted>")
    const set = await admin(["config", "set", "cache.maxEntries", "4000"])
    expect(set.code).toBe(0)
    expect(set.out).toContain("set cache.maxEntries")
    expect((await admin(["config", "set", "cache.maxEntries", "4001", "--json"])).out).toContain("version")
    expect((await admin(["config", "get", "cache.maxEntries"])).out.trim()).toBe("4001")
    expect((await admin(["config", "get", "cache.maxEntries", "--json"])).out.trim()).toBe("4001")
    const bad = await admin(["config", "set", "cache.maxEntries", "-1"])
    expect(bad.code).toBe(1)
    expect(bad.err).toContain("refused")
    const missing = await admin(["config", "get", "no.such.path"])
    expect(missing.code).toBe(1)
    expect(missing.err).toContain("no config value at no.such.path")
  })

  it("config validate: a valid file, an invalid one, an unreadable one (no server)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "troupe-inproc-config-"))
    writeFileSync(join(dir, "good.json"), JSON.stringify({ cache: { maxEntries: 10 } }))
    writeFileSync(join(dir, "bad.json"), JSON.stringify({ cache: { maxEntries: -1 } }))
    writeFileSync(join(dir, "broken.json"), "{ not json")
    const good = await troupe(["config", "validate", join(dir, "good.json")])
    expect(good.code).toBe(0)
    expect(good.out).toContain("valid")
    const bad = await troupe(["config", "validate", join(dir, "bad.json")])
    expect(bad.code).toBe(1)
    expect(bad.out).toContain("invalid")
    expect(bad.out).toContain("cache.maxEntries")
    const badJson = await troupe(["config", "validate", "--json", join(dir, "bad.json")])
    expect(JSON.parse(badJson.out)).toMatchObject({ valid: false })
    const broken = await troupe(["config", "validate", join(dir, "broken.json")])
    expect(broken.code).toBe(1)
    expect(broken.err).toContain("broken.json")
  })

  it("maintenance on makes health exit 1; off restores it", async () => {
    const on = await admin(["maintenance", "on", "--message", "back soon"])
    expect(on.code).toBe(0)
    expect(on.out).toBe("maintenance on")
    const notReady = await troupe(["health", "--url", url])
    expect(notReady.code).toBe(1)
    expect(notReady.out).toContain("maintenance")
    expect(notReady.err).toContain("not ready")
    const off = await admin(["maintenance", "off", "--json"])
    expect(off.out).toContain("\"enabled\": false")
    expect((await troupe(["health", "--url", url])).code).toBe(0)
  })

  it("exit codes: no key 4, wrong key 4, unreachable 3, no answer in time 3, unknown flag 1", async () => {
    const noKey = await troupe(["tree", "--url", url])
    expect(noKey.code).toBe(4)
    expect(noKey.err).toContain("no admin key")
    const wrong = await troupe(["tree", "--url", url, "--admin-key", "wrong"])
    expect(wrong.code).toBe(4)
    expect(wrong.err).toContain("HTTP 401")
    const down = await troupe(["tree", "--url", `http://127.0.0.1:${closedPort}/`, "--admin-key", ADMIN])
    expect(down.code).toBe(3)
    expect(down.err).toContain("unreachable")
    const slow = await troupe(["health", "--url", silentUrl, "--timeout", "200"])
    expect(slow.code).toBe(3)
    expect(slow.err).toContain("no answer within 200 ms")
    expect((await troupe(["tree", "--no-such-flag"])).code).toBe(1)
  })

  it("tree --watch prints snapshots (JSON lines, or redrawn) until the gateway ends the stream (exit 3)", async () => {
    const gw = await startGateway({
      config: {
        env: {},
        defaults: {
          gateway: { accessLog: false, auth: { adminKey: ADMIN }, drain: { timeout: 50, deregistrationDelay: 0 } }
        }
      }
    })
    const written: Array<string> = []
    const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk))
      return true
    })
    try {
      const flags = ["--url", gw.url, "--admin-key", ADMIN, "--interval", "100"]
      const json = troupe(["tree", "--watch", "--json", ...flags])
      const human = troupe(["tree", "-w", ...flags])
      await vi.waitFor(() => {
        expect(written.some((w) => w.startsWith("{"))).toBe(true)
        expect(written.some((w) => w.includes("(Ctrl-C to quit)"))).toBe(true)
      }, { timeout: 10_000, interval: 20 })
      await gw.stop()
      const [j, h] = await Promise.all([json, human])
      expect(j.code).toBe(3)
      expect(h.code).toBe(3)
      expect(j.err).toMatch(/^troupe: /) // the stream ended (closed or terminated by the shutdown)
    } finally {
      write.mockRestore()
    }
    expect(JSON.parse(written.find((w) => w.startsWith("{")) ?? "{}")).toHaveProperty("id")
    expect((await troupe(["tree", "--watch", "--url", url])).code).toBe(4)
    expect((await troupe(["tree", "--watch", "--url", url, "--admin-key", "wrong"])).code).toBe(4)
    expect((await troupe(["tree", "--watch", "--url", `http://127.0.0.1:${closedPort}`, "--admin-key", ADMIN])).code)
      .toBe(3)
  })

  it("~/.trouperc gives the url and the admin key", async () => {
    writeFileSync(join(home, ".trouperc"), JSON.stringify({ url, adminKey: ADMIN }))
    try {
      expect((await troupe(["tree"])).code).toBe(0)
      writeFileSync(join(home, ".trouperc"), "[1]")
      expect((await troupe(["tree", "--url", url])).code).toBe(4)
    } finally {
      writeFileSync(join(home, ".trouperc"), "not json")
    }
    expect((await troupe(["tree", "--url", url])).code).toBe(4)
  })
})

describe("troupe keys, budgets, costs in process", () => {
  it("keys create, list, rotate, revoke; an issued admin key works on /admin and a use key on /v1", async () => {
    const created = await admin([
      "keys",
      "create",
      "--tenant",
      "acme",
      "--principal",
      "alice",
      "--name",
      "ci",
      "--expires-in",
      "30d"
    ])
    expect(created.code).toBe(0)
    expect(created.out).toContain("shown only this once")
    const key = /key: (\S+)/.exec(created.out)?.[1] ?? ""
    const id = /id: (\S+)/.exec(created.out)?.[1] ?? ""
    expect(key.startsWith("tr_live_")).toBe(true)

    const chat = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hello" }], user: "alice" })
    })
    expect(chat.status).toBe(200)
    await chat.text()

    const adminKey = await admin([
      "keys",
      "create",
      "--tenant",
      "acme",
      "--principal",
      "ops",
      "--kind",
      "service_account",
      "--name",
      "ops",
      "--scope",
      "gateway:admin",
      "--json"
    ])
    const issuedAdmin = (JSON.parse(adminKey.out) as { key: string }).key
    expect((await troupe(["tree", "--url", url, "--admin-key", issuedAdmin])).code).toBe(0)

    const list = await admin(["keys", "list", "--tenant", "acme"])
    expect(list.out).toContain("active")
    expect(list.out).toContain(id)
    expect((await admin(["keys", "list", "--tenant", "acme", "--principal", "alice", "--json"])).out).toContain(id)
    expect((await admin(["keys", "list", "--tenant", "nobody"])).out).toBe("no keys")

    const rotated = await admin(["keys", "rotate", "--tenant", "acme", `--id=${id}`, "--grace", "1h"])
    expect(rotated.code).toBe(0)
    expect(rotated.out).toContain("works until")
    expect((await admin(["keys", "list", "--tenant", "acme"])).out).toContain("rotated")
    const next = /id: (\S+)/.exec(rotated.out)?.[1] ?? ""
    const now = await admin(["keys", "rotate", "--tenant", "acme", `--id=${next}`, "--json"])
    expect(now.code).toBe(0)
    const revoked = await admin(["keys", "revoke", "--tenant", "acme", `--id=${id}`])
    expect(revoked.code).toBe(0)
    expect(revoked.out).toContain(`revoked ${id}`)
    expect((await admin(["keys", "list", "--tenant", "acme"])).out).toContain("revoked")
    expect((await admin(["keys", "revoke", "--tenant", "other", `--id=${next}`])).code).toBe(1)
  })

  it("keys: invalid arguments exit 2 before any request", async () => {
    const base = ["--url", `http://127.0.0.1:${closedPort}`, "--admin-key", ADMIN]
    const cases: ReadonlyArray<ReadonlyArray<string>> = [
      ["keys", "create", "--tenant", "a b", "--principal", "p", "--name", "n"],
      ["keys", "create", "--tenant", "t", "--principal", "p", "--name="],
      ["keys", "create", "--tenant", "t", "--principal", "p", "--name", "n", "--scope", "bad scope"],
      ["keys", "create", "--tenant", "t", "--principal", "p", "--name", "n", "--expires-in", "soon"],
      ["keys", "create", "--tenant", "t", "--principal", "p", "--name", "n", "--expires-in", "0"],
      ["keys", "list", "--tenant", "t", "--principal", "a b"],
      ["keys", "revoke", "--tenant", "t", "--id", "a/b"],
      ["keys", "rotate", "--tenant", "t", "--id", "abc", "--grace", "31d"]
    ]
    for (const args of cases) {
      const r = await troupe([...args, ...base])
      expect(r.code, args.join(" ")).toBe(2)
    }
  })

  it("budgets set and show; invalid arguments exit 2, an unknown scope 1", async () => {
    const set = await admin([
      "budgets",
      "set",
      "principal:carol",
      "--limit",
      "5",
      "--period",
      "day",
      "--alert-at",
      "0.5,0.9"
    ])
    expect(set.code).toBe(0)
    expect(set.out).toContain("budget set: principal:carol $5 per day")
    expect((await admin(["budgets", "set", "tenant:acme", "--limit", "100", "--period", "total", "--json"])).code).toBe(
      0
    )
    const show = await admin(["budgets", "show", "principal:carol"])
    expect(show.out).toContain("remaining $5")
    expect(show.out).toContain("alerts at 50%, 90%")
    expect((await admin(["budgets", "show", "tenant:acme"])).out).not.toContain("since")
    expect(JSON.parse((await admin(["budgets", "show", "principal:carol", "--json"])).out)).toMatchObject({ limit: 5 })
    expect((await admin(["budgets", "show", "principal:nobody"])).code).toBe(1)
    for (
      const args of [
        ["budgets", "set", "nope", "--limit", "1"],
        ["budgets", "set", "principal:x", "--limit", "-1"],
        ["budgets", "set", "principal:x", "--limit", "1", "--alert-at", "0.5,2"],
        ["budgets", "set", "principal:x", "--limit", "1", "--alert-at", "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9"],
        ["budgets", "show", "nope"]
      ]
    ) expect((await admin(args)).code, args.join(" ")).toBe(2)
  })

  it("costs stats, usage and forecast, human and --json", async () => {
    const stats = await admin(["costs", "stats"])
    expect(stats.code).toBe(0)
    expect(stats.out).toContain("call(s) this day")
    const grouped = await admin(["costs", "stats", "--period", "month", "--group-by", "model"])
    expect(grouped.code).toBe(0)
    expect(grouped.out).toContain("MODEL")
    expect(JSON.parse((await admin(["costs", "stats", "--json"])).out)).toHaveProperty("total")
    const usage = await admin(["costs", "usage", "alice"])
    expect(usage.code).toBe(0)
    expect(usage.out).toContain("alice")
    expect((await admin(["costs", "usage", "alice", "--period", "day", "--json"])).code).toBe(0)
    const forecast = await admin(["costs", "forecast", "--days", "3"])
    expect(forecast.code).toBe(0)
    expect(forecast.out).toContain("projected this month")
    expect((await admin(["costs", "forecast", "--json"])).code).toBe(0)
    expect((await admin(["costs", "forecast", "--days", "0"])).code).toBe(2)
    expect((await admin(["costs", "usage", "u".repeat(257)])).code).toBe(2)
  })
})

describe("troupe dlq and replay in process", () => {
  it("dlq list, redrive and purge of an empty queue", async () => {
    expect((await admin(["dlq", "list"])).out).toBe("no dead letters")
    expect(JSON.parse((await admin(["dlq", "list", "--kind", "request", "--status", "dead", "--json"])).out))
      .toMatchObject({ letters: [] })
    const redrive = await admin(["dlq", "redrive", "--all", "--rate", "100", "--limit", "10"])
    expect(redrive.code).toBe(0)
    expect(redrive.out).toContain("redriven 0, failed 0, skipped 0")
    expect((await admin(["dlq", "redrive", "--source", "fast"])).code).toBe(0)
    expect((await admin(["dlq", "redrive", "--id", "nope"])).code).toBe(1)
    const purge = await admin(["dlq", "purge", "--all", "--yes"])
    expect(purge.code).toBe(0)
    expect(purge.out).toBe("purged 0 letter(s)")
    expect((await admin(["dlq", "purge", "--error-tag", "X", "--yes", "--json"])).code).toBe(0)
  })

  it("dlq: invalid arguments exit 2", async () => {
    for (
      const args of [
        ["dlq", "list", "--limit", "0"],
        ["dlq", "list", "--source="],
        ["dlq", "redrive"],
        ["dlq", "redrive", "--all", "--source", "x"],
        ["dlq", "redrive", "--id", "x", "--rate", "5"],
        ["dlq", "redrive", "--all", "--rate", "0"],
        ["dlq", "redrive", "--all", "--limit", "1.5"],
        ["dlq", "redrive", "--id", "x".repeat(513)],
        ["dlq", "purge", "--all"],
        ["dlq", "purge", "--yes"],
        ["dlq", "purge", "--all", "--source", "x", "--yes"]
      ]
    ) expect((await admin(args)).code, args.join(" ")).toBe(2)
  })

  it("replay: the gateway has no run journal (501, exit 5); a too long id exits 1", async () => {
    const r = await admin(["replay", "run-1"])
    expect(r.code).toBe(5)
    expect(r.err).toContain("HTTP 501")
    expect((await admin(["replay", "r".repeat(513)])).code).toBe(1)
  })

  it("replay of a journaled run: its steps and outcome, --json the server's document; an unknown run exits 1", async () => {
    // a durable agent whose scripted model calls `charge`, then answers (as test/cli/support/runsGateway.ts)
    const reply = (text: string, toolCalls: LlmResponse["toolCalls"]): LlmResponse => ({
      provider: "scripted",
      model: "fast",
      text,
      toolCalls,
      finishReason: toolCalls.length > 0 ? "tool-calls" : "stop",
      usage: { inputTokens: 12, outputTokens: 4, totalTokens: 16 }
    })
    const llm: AgentLoop.ModelClient<never> = {
      generate: (request) =>
        Effect.succeed(
          request.messages.at(-1)?.role === "tool"
            ? reply("refunded order o-7", [])
            : reply("checking", [{ id: "c1", name: "charge", arguments: { amount: 5 } }])
        ),
      stream: () => {
        throw new Error("unused")
      }
    }
    const charge = Tool.fromAction(Action.make({
      name: "charge",
      description: "Charges the card",
      params: Schema.Struct({ amount: Schema.Number }),
      output: Schema.String,
      retries: 0,
      run: ({ amount }) => Effect.succeed(`charged ${amount}`)
    }))
    const Shop = LlmAgent.make({ name: "shop", model: "fast", llm, memory: "none", tools: [charge], durable: true })
    const layer = Layer.mergeAll(Gateway.layer({ port: 0 }), LlmAgents.layer({ agents: [Shop] })).pipe(
      Layer.provideMerge(
        Layer.mergeAll(RunJournal.layerMemory(), WorkflowEngine.layerMemory, Journal.ToolLedger.layerMemory())
      ),
      Layer.provide(
        Troupe.layerTest({
          pipeline: { retry: false },
          config: { defaults: { gateway: { accessLog: false, auth: { adminKey: ADMIN } } } }
        })
      )
    )
    const runs = Effect.runSync(Scope.make())
    try {
      const context = await Effect.runPromise(Layer.buildWithScope(layer, runs))
      const answer = await Effect.runPromise(Context.get(context, LlmAgents).ask("shop:1", "refund o-7"))
      const runsUrl = Context.get(context, Gateway).address.url
      const flags = ["--url", runsUrl, "--admin-key", ADMIN]
      const human = await troupe(["replay", answer.runId ?? "", ...flags])
      expect(human.code).toBe(0)
      expect(human.out).toContain("charge")
      expect(human.out).toContain("answered")
      expect(human.out).toContain("refunded order o-7")
      const json = await troupe(["replay", answer.runId ?? "", "--json", ...flags])
      expect(JSON.parse(json.out)).toMatchObject({ runId: answer.runId })
      expect((await troupe(["replay", "no-such-run", ...flags])).code).toBe(1)
    } finally {
      await Effect.runPromise(Scope.close(runs, Exit.void))
    }
  })

  it("serve fails when its host cannot be bound", async () => {
    const r = await troupe(["serve", "--host", "203.0.113.1", "--port", "0"])
    expect(r.code).toBe(1)
  })
})
