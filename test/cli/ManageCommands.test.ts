/**
 * `troupe keys|budgets|costs|dlq` of the real binary against a real `troupe serve` process: issued keys required on
 * `/v1/*` (`gateway.auth.issuedKeys`), costs and budgets of the scripted model, and a provider on a loopback server
 * of this test that fails until it is told to answer (a permanent failure goes to the dead-letter queue).
 */
import fc from "fast-check"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bin, cleanEnv, type Env, type Run, runAsync } from "./support/binary.ts"

const baseEnv = cleanEnv("manage")
const ADMIN = "manage-admin"
let server: ChildProcess
let provider: Server
let providerUp = false
let url = ""

const troupe = (args: ReadonlyArray<string>, env: Env = {}): Promise<Run> => runAsync(baseEnv, args, env)
const admin = (args: ReadonlyArray<string>) => troupe(args, { TROUPE_URL: url, TROUPE_ADMIN_KEY: ADMIN })

const chat = (model: string, key: string | undefined, user?: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key !== undefined ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({
      model,
      messages: [{ role: "user", content: "hello" }],
      ...(user !== undefined ? { user } : {})
    })
  })

beforeAll(async () => {
  // an OpenAI-compatible provider on loopback: 400 (a permanent failure, no retry) until `providerUp`
  provider = createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      res.setHeader("content-type", "application/json")
      if (!providerUp) {
        res.statusCode = 400
        res.end(JSON.stringify({ error: { message: "the model is down for the test", type: "invalid_request_error" } }))
        return
      }
      res.end(JSON.stringify({
        id: "chatcmpl-test",
        object: "chat.completion",
        created: 1,
        model: "m1",
        choices: [{ index: 0, message: { role: "assistant", content: "back up" }, finish_reason: "stop" }],
        usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }
      }))
    })
  })
  await new Promise<void>((resolve) => {
    provider.listen(0, "127.0.0.1", resolve)
  })
  const port = (provider.address() as AddressInfo).port // listening on a TCP port
  const dir = mkdtempSync(join(tmpdir(), "troupe-manage-config-"))
  const config = join(dir, "troupe.json")
  writeFileSync(
    config,
    JSON.stringify({
      gateway: { auth: { adminKey: ADMIN, issuedKeys: true } },
      providers: {
        flaky: { apiKey: "sk-test-flaky", baseUrl: `http://127.0.0.1:${port}/v1`, maxRetries: 0, timeout: 5_000 }
      }
    })
  )
  server = spawn(process.execPath, [bin, "serve", "--port", "0", "--config", config], {
    stdio: ["ignore", "pipe", "pipe"],
    env: baseEnv as NodeJS.ProcessEnv
  })
  const lines = createInterface({ input: server.stdout! })
  url = await new Promise<string>((resolve) => {
    lines.on("line", (l) => {
      const m = /listening on (http:\/\/\S+)/.exec(l)
      if (m?.[1]) resolve(m[1])
    })
  })
}, 40_000)
afterAll(() => {
  server?.kill("SIGKILL")
  provider?.close()
})

describe("troupe keys|budgets|costs|dlq (real binary, real gateway)", () => {
  it(
    "keys: create prints the key once, list shows it masked, the key calls /v1/chat/completions; rotate stops the old key (401), revoke the new one",
    async () => {
      expect((await chat("fast", undefined)).status).toBe(401) // issuedKeys: a key is required
      const created = await admin(["keys", "create", "--tenant", "acme", "--principal", "bob", "--name", "ci"])
      expect(created.code).toBe(0)
      const key = /key: (tr_live_\S+)/.exec(created.out)?.[1] ?? ""
      const id = /id: (\S+)/.exec(created.out)?.[1] ?? ""
      expect(created.out).toContain("shown only this once")
      const [list, listJson, called] = await Promise.all([
        admin(["keys", "list", "--tenant", "acme"]),
        admin(["keys", "list", "--tenant", "acme", "--json"]),
        chat("fast", key, "alice")
      ])
      expect(list.out).toContain(`tr_live_${id}••••••••`)
      expect(list.out).toMatch(/user:bob\s+ci\s+gateway:use\s+\S+\s+active/)
      expect(list.out + listJson.out).not.toContain(key.slice(20))
      expect(JSON.parse(listJson.out).map((k: { id: string }) => k.id)).toEqual([id])
      expect(called.status).toBe(200)

      const rotated = await admin(["keys", "rotate", `--id=${id}`, "--tenant", "acme", "--json"])
      expect(rotated.code).toBe(0)
      const successor = JSON.parse(rotated.out) as { key: string; id: string }
      expect(successor.key).not.toBe(key)
      expect((await chat("fast", key)).status).toBe(401)
      expect((await chat("fast", successor.key)).status).toBe(200)
      const revoked = await admin(["keys", "revoke", `--id=${successor.id}`, "--tenant", "acme"])
      expect(revoked.out).toContain(`revoked ${successor.id}`)
      const [refused, after, unknown] = await Promise.all([
        chat("fast", successor.key),
        admin(["keys", "list", "--tenant", "acme"]),
        admin(["keys", "revoke", "--id", "nope", "--tenant", "acme"])
      ])
      expect(refused.status).toBe(401)
      expect(after.out).toMatch(new RegExp(`${id} .* rotated → ${successor.id}\n`))
      expect(after.out).toMatch(new RegExp(`${successor.id} .* revoked`))
      expect(unknown.code).toBe(1)
      expect(unknown.err).toContain("HTTP 404")
    },
    60_000
  )

  it("keys: an issued key with the gateway:admin scope is an admin key for the CLI", async () => {
    const created = await admin([
      "keys",
      "create",
      "--tenant",
      "ops",
      "--principal",
      "root",
      "--name",
      "admin",
      "--scope",
      "gateway:admin",
      "--json"
    ])
    const key = (JSON.parse(created.out) as { key: string }).key
    const list = await troupe(["keys", "list", "--tenant", "ops", "--json"], { TROUPE_URL: url, TROUPE_ADMIN_KEY: key })
    expect(list.code).toBe(0)
    expect(JSON.parse(list.out)[0].scopes).toEqual(["gateway:admin"])
  }, 30_000)

  it(
    "budgets set then show; a chat call then costs stats, usage and forecast show it; --json prints the server's JSON",
    async () => {
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
      expect(set.out.trim()).toBe("budget set: principal:carol $5 per day")
      const key = (JSON.parse(
        (await admin(["keys", "create", "--tenant", "costs", "--principal", "carol", "--name", "c", "--json"])).out
      ) as { key: string }).key
      expect((await chat("fast", key, "carol")).status).toBe(200)
      const [show, showJson, stats, usage, usageJson, forecast] = await Promise.all([
        admin(["budgets", "show", "principal:carol"]),
        admin(["budgets", "show", "principal:carol", "--json"]),
        admin(["costs", "stats", "--group-by", "tenant"]),
        admin(["costs", "usage", "carol"]),
        admin(["costs", "usage", "carol", "--json"]),
        admin(["costs", "forecast", "--json"])
      ])
      expect(show.out).toContain("principal:carol: $5 per day")
      expect(show.out).toContain("spent $0, reserved $0, remaining $5")
      expect(JSON.parse(showJson.out)).toMatchObject({
        scope: "principal:carol",
        limit: 5,
        period: "day",
        alertAt: [0.5, 0.9]
      })
      // the scripted model is priced at $0: the call is counted, at $0, under its tenant
      expect(stats.out).toMatch(/\$0 in \d+ call\(s\) this day/)
      expect(stats.out).toMatch(/costs\s+\$0/)
      expect(usage.out).toContain("carol: $0 in 1 call(s) this month")
      expect(usage.out).toMatch(/scripted:\S+\s+\$0/)
      expect(JSON.parse(usageJson.out)).toMatchObject({ user: "carol", count: 1, total: 0 })
      expect(JSON.parse(forecast.out)).toMatchObject({ monthToDate: 0, projected: 0 })
    },
    60_000
  )

  it("invalid arguments are refused before any request, with exit 2 (the gateway here is unreachable)", async () => {
    const down = { TROUPE_URL: "http://127.0.0.1:9", TROUPE_ADMIN_KEY: ADMIN }
    const runs = await Promise.all([
      troupe(["budgets", "set", "principal:x", "--limit", "-1"], down),
      troupe(["budgets", "show", "alice"], down),
      troupe(["keys", "create", "--tenant", "a b", "--principal", "p", "--name", "n"], down),
      troupe(["keys", "rotate", "--id", "abc", "--tenant", "t", "--grace", "forever"], down),
      troupe(["dlq", "redrive", "--id", "x", "--all"], down),
      troupe(["dlq", "purge", "--all"], down),
      troupe(["dlq", "purge", "--yes"], down)
    ])
    for (const r of runs) expect(r.code, r.err).toBe(2)
    expect(runs[0]?.err).toContain("--limit: expected a number from 0 to 1000000000")
    expect(runs[1]?.err).toContain("scope: expected key:<id>, principal:<id>")
    expect(runs[4]?.err).toContain("exactly one of --id")
    expect(runs[5]?.err).toContain("--yes")
    expect(runs[6]?.err).toContain("a filter")
  }, 60_000)

  it(
    "dlq: an empty queue lists nothing; a permanent failure is listed, counted by stats, redriven through the pipeline once the provider answers, and purged",
    async () => {
      const empty = await admin(["dlq", "list"])
      expect(empty.code).toBe(0)
      expect(empty.out.trim()).toBe("no dead letters")
      expect(JSON.parse((await admin(["dlq", "list", "--json"])).out)).toEqual({ letters: [] })
      expect((await chat("flaky:m1", ADMIN)).status).toBeGreaterThanOrEqual(400)
      expect((await chat("flaky:m2", ADMIN)).status).toBeGreaterThanOrEqual(400)
      const [listed, filtered, none, stats] = await Promise.all([
        admin(["dlq", "list", "--json"]),
        admin(["dlq", "list", "--source", "flaky:m1", "--kind", "request", "--status", "dead"]),
        admin(["dlq", "list", "--source", "fast"]),
        admin(["dlq", "stats"])
      ])
      expect(stats.out).toMatch(/^depth 2 \(dead letters waiting\)$/m)
      expect(stats.out).toMatch(/^by kind request=2 turn=0$/m)
      expect(stats.out).toMatch(/^oldest \d+ s$/m)
      const letters = (JSON.parse(listed.out) as {
        letters: Array<{ id: string; source: string; status: string; error: { tag: string } }>
      }).letters
      expect(letters.map((l) => l.source)).toEqual(["flaky:m1", "flaky:m2"])
      const [first, second] = letters
      expect(filtered.out).toMatch(new RegExp(`${first!.id}\\s+request\\s+flaky:m1\\s+dead\\s+0`))
      expect(filtered.out).not.toContain(second!.id)
      expect(none.out.trim()).toBe("no dead letters")

      const failed = await admin(["dlq", "redrive", "--id", first!.id])
      expect(failed.code).toBe(1) // the provider still fails: the letter is dead again
      expect(failed.out).toContain(`${first!.id}: failed`)
      providerUp = true
      const byTag = await admin(["dlq", "redrive", "--error-tag", first!.error.tag, "--rate", "50"])
      expect(byTag.code, byTag.err).toBe(0)
      expect(byTag.out).toContain("redriven 2, failed 0, skipped 0")
      const [again, redriven] = await Promise.all([
        admin(["dlq", "redrive", "--all", "--json"]),
        admin(["dlq", "list", "--status", "redriven", "--json"])
      ])
      expect(JSON.parse(again.out)).toEqual({ outcomes: [] }) // --all takes the dead letters only
      expect((JSON.parse(redriven.out) as { letters: Array<{ redrives: number }> }).letters.map((l) => l.redrives))
        .toEqual([2, 1])
      const purged = await admin(["dlq", "purge", "--status", "redriven", "--yes"])
      expect(purged.out.trim()).toBe("purged 2 letter(s)")
      expect((await admin(["dlq", "list"])).out.trim()).toBe("no dead letters")
    },
    60_000
  )

  it(
    "gateway.auth.issuedKeys is read live: switched off, /v1/* is open again; switched on, a key is required",
    async () => {
      expect((await admin(["config", "set", "gateway.auth.issuedKeys", "false"])).code).toBe(0)
      expect((await chat("fast", undefined)).status).toBe(200)
      expect((await admin(["config", "set", "gateway.auth.issuedKeys", "true"])).code).toBe(0)
      expect((await chat("fast", undefined)).status).toBe(401)
    },
    30_000
  )

  it(
    "fuzz: any bearer on /v1/* and on the admin API is a 200, 401 or 403, never a 5xx (issued keys, configured keys)",
    async () => {
      const bearer = fc.oneof(
        fc.stringMatching(/^[\x21-\x7e]{0,80}$/),
        fc.stringMatching(/^[A-Za-z0-9_-]{0,60}$/).map((s) => `tr_live_${s}`),
        fc.constant(ADMIN)
      )
      // 40 samples stay under the abuse policy's 100 auth failures per IP per minute (the loopback IP is shared)
      for (const key of fc.sample(bearer, { numRuns: 40, seed: 17 })) {
        const headers = { authorization: `Bearer ${key}` }
        const [api, adminApi] = await Promise.all([
          fetch(`${url}/v1/models`, { headers }),
          fetch(`${url}/admin/dlq`, { headers })
        ])
        expect([200, 401, 403], key).toContain(api.status)
        expect([200, 401, 403], key).toContain(adminApi.status)
      }
    },
    30_000
  )

  it("exit codes: 4 for a refused admin key, 3 for an unreachable gateway; --help on every new command", async () => {
    const [wrong, noKey, down, ...helps] = await Promise.all([
      troupe(["costs", "stats"], { TROUPE_URL: url, TROUPE_ADMIN_KEY: "nope" }),
      troupe(["dlq", "list", "--url", url]),
      troupe(["keys", "list", "--tenant", "acme", "--url", "http://127.0.0.1:9", "--admin-key", ADMIN]),
      ...["keys", "dlq"].map((c) => troupe([c, "--help"])),
      troupe(["dlq", "redrive", "--help"])
    ])
    expect(wrong.code).toBe(4)
    expect(wrong.err).toContain("admin key refused (HTTP 401)")
    expect(wrong.err).not.toContain("nope")
    expect(noKey.code).toBe(4)
    expect(down.code).toBe(3)
    expect(down.err).toContain("unreachable")
    expect(helps.map((h) => h.code)).toEqual([0, 0, 0])
    expect(helps[0]?.out).toContain("rotate")
    expect(helps[1]?.out).toContain("purge")
    expect(helps[2]?.out).toContain("--rate")
  }, 60_000)
})
