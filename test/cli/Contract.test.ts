/**
 * What the real `troupe` binary promises on every command (issue 17 §3), each checked on the binary itself:
 * `--json` on every command (`serve --json` included: one JSON line once it listens), `--help` on every command and
 * subcommand, the request timeout (`--timeout`) against a server that accepts the connection and never answers, and
 * `tree` printing a tree as the demos print theirs (`SupervisionTree.render`, what `examples/supervision-tree.ts`
 * calls).
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createServer as createHttpServer } from "node:http"
import type { Server as HttpServer } from "node:http"
import { createServer } from "node:net"
import type { AddressInfo, Server } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Behaviour, ChildSpec, SupervisionTree, Supervisor } from "../../src/runtime/index.ts"
import { bin, cleanEnv, type Env, type Run, runAsync } from "./support/binary.ts"

const baseEnv = cleanEnv("contract")
const ADMIN = "contract-admin"
let server: ChildProcess | undefined
let serveLine = ""
let serveErr = ""
/** The line `serve --json` printed. */
const line = () => JSON.parse(serveLine) as { url: string; host: string; port: number }
let url = ""
let silent: Server
let silentUrl = ""

const troupe = (args: ReadonlyArray<string>, env: Env = {}): Promise<Run> => runAsync(baseEnv, args, env)
const admin = (args: ReadonlyArray<string>) => troupe(args, { TROUPE_URL: url, TROUPE_ADMIN_KEY: ADMIN })

/** Runs `runs` at most `n` at a time, results in order. */
const limited = async <A>(n: number, runs: ReadonlyArray<() => Promise<A>>): Promise<Array<A>> => {
  const results: Array<A> = []
  let next = 0
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < runs.length) {
      const i = next++
      // i < runs.length was just checked
      results[i] = await (runs[i] as () => Promise<A>)()
    }
  }))
  return results
}

const listen = <S extends Server | HttpServer>(s: S): Promise<string> =>
  new Promise((resolve) => {
    s.listen(0, "127.0.0.1", () => {
      resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`) // listening on a TCP port
    })
  })

beforeAll(async () => {
  // a server that accepts connections and never answers
  silent = createServer(() => {})
  silentUrl = await listen(silent)
  // `troupe serve --json`: stdout is one JSON line once it listens, the logs go to stderr
  const child = spawn(process.execPath, [bin, "serve", "--port", "0", "--json"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...baseEnv,
      TROUPE_GATEWAY__AUTH__ADMIN_KEY: ADMIN,
      TROUPE_GATEWAY__AUTH__ISSUED_KEYS: "true"
    } as NodeJS.ProcessEnv // undefined values remove the variable
  })
  server = child
  child.stderr.on("data", (d: Buffer) => {
    serveErr += d.toString()
  })
  serveLine = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve)
    child.on("exit", (code) => reject(new Error(`troupe serve --json exited ${code}: ${serveErr}`)))
  })
  url = line().url
}, 40_000)

afterAll(() => {
  server?.kill("SIGKILL")
  silent?.close()
})

describe("--json on every command (real binary, real gateway)", () => {
  it("serve --json prints one JSON line with the url, host and bound port; the logs go to stderr", async () => {
    const { host, port, url: listening } = line()
    expect(host).toBe("127.0.0.1")
    expect(port).toBeGreaterThan(0)
    expect(listening).toBe(`http://127.0.0.1:${port}`)
    expect(serveErr).toContain(`troupe gateway listening on ${listening}`)
    expect((await fetch(`${listening}/health/live`)).status).toBe(200)
  })

  it(
    "every admin command prints one parseable JSON document with --json (keys, budgets, costs, dlq, maintenance, config, tree, health, metrics)",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "troupe-contract-"))
      writeFileSync(join(dir, "good.json"), JSON.stringify({ gateway: { port: 8080 } }))
      const created = await admin([
        "keys",
        "create",
        "--tenant",
        "acme",
        "--principal",
        "bob",
        "--name",
        "ci",
        "--json"
      ])
      const key = JSON.parse(created.out) as { id: string; key: string }
      const rotated = await admin(["keys", "rotate", `--id=${key.id}`, "--tenant", "acme", "--json"])
      const successor = JSON.parse(rotated.out) as { id: string; key: string }
      const revoked = await admin(["keys", "revoke", `--id=${successor.id}`, "--tenant", "acme", "--json"])
      const independent: ReadonlyArray<ReadonlyArray<string>> = [
        ["tree"],
        ["health"],
        ["metrics"],
        ["config", "get"],
        ["config", "get", "gateway.port"],
        ["config", "set", "cache.maxEntries", "5000"],
        ["config", "validate", join(dir, "good.json")],
        ["keys", "list", "--tenant", "acme"],
        ["budgets", "set", "tenant:acme", "--limit", "5", "--period", "day"],
        ["costs", "stats", "--group-by", "tenant"],
        ["costs", "usage", "bob"],
        ["costs", "forecast"],
        ["dlq", "list"],
        ["dlq", "stats"],
        ["dlq", "redrive", "--all"],
        ["dlq", "purge", "--all", "--yes"]
      ]
      const runs = await limited(4, independent.map((args) => () => admin([...args, "--json"])))
      const show = await admin(["budgets", "show", "tenant:acme", "--json"])
      const on = await admin(["maintenance", "on", "--json"])
      const off = await admin(["maintenance", "off", "--json"])

      const parsed = (r: Run, what: string): unknown => {
        expect(r.code, `${what}: ${r.err}`).toBe(0)
        expect(() => JSON.parse(r.out), `${what} prints JSON: ${r.out}`).not.toThrow()
        return JSON.parse(r.out)
      }
      independent.forEach((args, i) => {
        // runs[i] is the run of independent[i]
        parsed(runs[i] as Run, args.join(" "))
      })
      expect(parsed(rotated, "keys rotate")).toMatchObject({ key: expect.stringMatching(/^tr_live_/) })
      expect(successor.key).not.toBe(key.key)
      expect(parsed(revoked, "keys revoke")).toMatchObject({ id: successor.id, revokedAt: expect.any(Number) })
      expect(parsed(show, "budgets show")).toMatchObject({ scope: "tenant:acme", limit: 5, period: "day" })
      expect(parsed(on, "maintenance on")).toMatchObject({ enabled: true })
      expect(parsed(off, "maintenance off")).toMatchObject({ enabled: false })
      const byArgs = (args: string) => JSON.parse(runs[independent.findIndex((a) => a.join(" ") === args)]?.out ?? "")
      expect(byArgs("budgets set tenant:acme --limit 5 --period day")).toMatchObject({
        ok: true,
        budget: { scope: "tenant:acme", limit: 5 }
      })
      expect(byArgs("dlq purge --all --yes")).toEqual({ purged: 0 })
      expect(byArgs("dlq stats")).toMatchObject({ depth: 0, total: 0 })
      expect(byArgs("config get gateway.port")).toEqual(expect.any(Number))
    },
    90_000
  )
})

/** Every command and subcommand of `troupe`. */
const COMMANDS: ReadonlyArray<ReadonlyArray<string>> = [
  ["serve"],
  ["keys", "create"],
  ["keys", "list"],
  ["keys", "revoke"],
  ["keys", "rotate"],
  ["budgets", "set"],
  ["budgets", "show"],
  ["costs", "stats"],
  ["costs", "usage"],
  ["costs", "forecast"],
  ["config", "get"],
  ["config", "set"],
  ["config", "validate"],
  ["tree"],
  ["health"],
  ["metrics"],
  ["dlq", "list"],
  ["dlq", "stats"],
  ["dlq", "redrive"],
  ["dlq", "purge"],
  ["replay"],
  ["maintenance", "on"],
  ["maintenance", "off"]
]

/** The names listed under SUBCOMMANDS in a help text. */
const subcommandsIn = (help: string): Array<string> =>
  (/\nSUBCOMMANDS\n((?: {2}\S.*\n?)+)/.exec(help)?.[1] ?? "").split("\n").filter((l) => l !== "").map((l) =>
    l.trim().split(/\s+/)[0] ?? ""
  )

describe("--help on every command and subcommand (real binary, no server)", () => {
  it("each command's --help exits 0 with a usage line naming it; the list is every command there is", async () => {
    const groups = [...new Set(COMMANDS.filter((c) => c.length > 1).map((c) => c[0] ?? ""))]
    const targets: ReadonlyArray<ReadonlyArray<string>> = [[], ...groups.map((g) => [g]), ...COMMANDS]
    const helps = await limited(4, targets.map((path) => () => troupe([...path, "--help"])))
    targets.forEach((path, i) => {
      // helps[i] is the help of targets[i]
      const help = helps[i] as Run
      const name = ["troupe", ...path].join(" ")
      expect(help.code, `${name} --help: ${help.err}`).toBe(0)
      expect(help.out, name).toContain(`USAGE\n  ${name}`)
      expect(help.out, name).toContain("DESCRIPTION")
    })
    // what the help lists is what is tested here: the root's subcommands and each group's
    const listed = subcommandsIn(helps[0]?.out ?? "").flatMap((c) => {
      const g = groups.indexOf(c)
      // helps[1 + g] is the help of group g
      return g < 0 ? [[c]] : subcommandsIn((helps[1 + g] as Run).out).map((s) => [c, s])
    })
    expect(listed.map((c) => c.join(" ")).sort()).toEqual(COMMANDS.map((c) => c.join(" ")).sort())
  }, 90_000)
})

describe("request timeout (real binary, a server that never answers)", () => {
  it("--timeout: health, keys list and tree --watch give up in time with exit 3 and a clear message", async () => {
    const flags = ["--url", silentUrl, "--admin-key", ADMIN, "--timeout", "300"]
    const runs = await Promise.all([
      troupe(["health", ...flags]),
      troupe(["keys", "list", "--tenant", "acme", ...flags]),
      troupe(["tree", "--watch", ...flags])
    ])
    for (const r of runs) {
      expect(r.code, r.err).toBe(3)
      expect(r.err).toContain(`troupe: ${silentUrl}: no answer within 300 ms`)
      // the process start (~0.3 s) plus the 300 ms timeout, with room for a loaded machine
      expect(r.ms).toBeLessThan(8_000)
    }
  }, 30_000)
})

const LINE = {
  root: /^\S+ (?:pid \d+|restarting|not running)$/,
  child:
    /^(?:│ {2})*├─ \S+ \((?:supervisor|worker), (?:permanent|transient|temporary)\) (?:pid \d+|restarting|not running)(?: restarts=\d+)?(?: last-exit=\S+)?$/
}

/** An admin API answering `GET /admin/supervision` with `doc` (admin key `ADMIN`). */
const supervisionServer = async (doc: unknown): Promise<{ url: string; close: () => void }> => {
  const s = createHttpServer((req, res) => {
    const ok = req.url === "/admin/supervision" && req.headers.authorization === `Bearer ${ADMIN}`
    res.writeHead(ok ? 200 : 404, { "content-type": "application/json" })
    res.end(JSON.stringify(ok ? doc : { error: { message: "not found" } }))
  })
  return { url: await listen(s), close: () => s.close() }
}

describe("tree prints as the demo does (real binary)", () => {
  it(
    "a known tree: troupe tree prints exactly what the demo's renderer prints for it, line by line in the demo's shape",
    async () => {
      const worker = Behaviour.make<{ readonly call: "ping"; readonly reply: string }>()({
        init: () => Behaviour.ok(0),
        handleCall: (_request, _from, s) => Behaviour.reply("pong", s)
      })
      // the tree read as the demo reads its own (`SupervisionTree.of`), then rendered as it prints it
      const doc = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const root = yield* Supervisor.start({
          name: "shop",
          children: [
            ChildSpec.actor("metrics", worker, undefined),
            Supervisor.childSpec("pipeline", {
              strategy: "restForOne",
              children: [ChildSpec.actor("ingest", worker, undefined), ChildSpec.actor("sink", worker, undefined)]
            }),
            ChildSpec.task({ id: "report", run: Effect.never, restart: "transient" })
          ]
        })
        yield* Supervisor.terminateChild(root, "report")
        return yield* SupervisionTree.of(root)
      })))
      const demo = SupervisionTree.render(doc)
      const api = await supervisionServer(doc)
      try {
        const r = await troupe(["tree", "--url", api.url, "--admin-key", ADMIN])
        expect(r.code, r.err).toBe(0)
        expect(r.out.trimEnd()).toBe(demo)
        const lines = r.out.trimEnd().split("\n")
        const expected = [
          /^shop pid \d+$/,
          /^├─ metrics \(worker, permanent\) pid \d+$/,
          /^├─ pipeline \(supervisor, permanent\) pid \d+$/,
          /^│ {2}├─ ingest \(worker, permanent\) pid \d+$/,
          /^│ {2}├─ sink \(worker, permanent\) pid \d+$/,
          /^├─ report \(worker, transient\) not running$/
        ]
        expect(lines).toHaveLength(expected.length)
        lines.forEach((l, i) => {
          expect(l).toMatch(expected[i] as RegExp) // expected has one pattern per line
        })
      } finally {
        api.close()
      }
    },
    30_000
  )

  it(
    "a gateway's document (restarts, last exit, restarting, stopped) prints in the same shape as every tree line of the demo's run",
    async () => {
      const api = await supervisionServer({
        id: "troupe",
        type: "supervisor",
        pid: 1,
        state: "running",
        children: [
          {
            id: "ratelimiter",
            type: "supervisor",
            pid: 4,
            state: "running",
            restart: "permanent",
            restarts: 0,
            lastExit: null,
            children: [
              {
                id: "sweeper",
                type: "worker",
                pid: 9,
                state: "running",
                restart: "permanent",
                restarts: 2,
                lastExit: "Killed"
              },
              { id: "refill-ticker", type: "worker", state: "restarting", restart: "permanent", restarts: 1 }
            ]
          },
          { id: "agents", type: "supervisor", state: "stopped", restart: "temporary", restarts: 0, lastExit: "Normal" }
        ]
      })
      // the demo itself (`npm run tree`): its tree lines, as it prints them
      const [r, demoRun] = await Promise.all([
        troupe(["tree", "--url", api.url, "--admin-key", ADMIN]),
        new Promise<string>((resolve) => {
          const child = spawn(process.execPath, [
            fileURLToPath(new URL("../../examples/supervision-tree.ts", import.meta.url))
          ], {
            stdio: ["ignore", "pipe", "inherit"]
          })
          let out = ""
          child.stdout.on("data", (d: Buffer) => {
            out += d.toString()
          })
          child.on("close", () => resolve(out))
        })
      ]).finally(() => api.close())
      expect(r.code, r.err).toBe(0)
      expect(r.out.trimEnd().split("\n")).toEqual([
        "troupe pid 1",
        "├─ ratelimiter (supervisor, permanent) pid 4",
        "│  ├─ sweeper (worker, permanent) pid 9 restarts=2 last-exit=Killed",
        "│  ├─ refill-ticker (worker, permanent) restarting restarts=1",
        "├─ agents (supervisor, temporary) not running last-exit=Normal"
      ])
      const demoLines = demoRun.split("\n")
      const demoRoot = demoLines.filter((l) => /^root /.test(l))
      const demoChildren = demoLines.filter((l) => l.startsWith("├─") || l.startsWith("│"))
      expect(demoRoot.length).toBeGreaterThanOrEqual(2) // the tree at the start and before shutdown
      expect(demoChildren.length).toBeGreaterThanOrEqual(2 * 8)
      for (const l of demoRoot) expect(l).toMatch(LINE.root)
      for (const l of demoChildren) expect(l).toMatch(LINE.child)
      const [root, ...children] = r.out.trimEnd().split("\n")
      expect(root).toMatch(LINE.root)
      for (const l of children) expect(l).toMatch(LINE.child)
    },
    30_000
  )
})

/** A server answering every request with `status` and `body` (as JSON). */
const answering = async (body: string, status = 200): Promise<{ url: string; close: () => void }> => {
  const s = createHttpServer((_req, res) => {
    res.writeHead(status, { "content-type": "application/json" })
    res.end(body)
  })
  return { url: await listen(s), close: () => s.close() }
}

/** An untyped defect logged with its stack rather than a `troupe: …` failure. */
const crashed = (r: Run) => /TypeError|RangeError|\n\s+at /.test(r.out + r.err)

describe("an answer that is not the documented document (real binary, a server answering {} or null)", () => {
  it(
    "every admin command decodes the gateway's answer: one it does not expect is exit 5 'unexpected answer at <path>', never a crash or a success",
    async () => {
      const empty = await answering("{}")
      const nul = await answering("null")
      const both = [
        ["tree"],
        ["health"],
        ["config", "set", "gateway.port", "1"],
        ["maintenance", "on"],
        ["maintenance", "off", "--json"],
        ["keys", "create", "--tenant", "a", "--principal", "b", "--name", "c"],
        ["keys", "list", "--tenant", "acme"],
        ["keys", "revoke", "--tenant", "acme", "--id", "abc"],
        ["keys", "rotate", "--tenant", "acme", "--id", "abc"],
        ["budgets", "show", "tenant:acme"],
        ["costs", "stats"],
        ["costs", "usage", "alice"],
        ["costs", "forecast"],
        ["dlq", "list"],
        ["dlq", "stats"],
        ["dlq", "redrive", "--all"],
        ["dlq", "redrive", "--all", "--json"],
        ["dlq", "purge", "--all", "--yes"],
        ["replay", "r1"]
      ]
      const cases = [
        ...both.map((args) => ({ args, url: empty.url, body: "{}" })),
        ...[...both, ["config", "get"]].map((args) => ({ args, url: nul.url, body: "null" }))
      ]
      try {
        const runs = await limited(
          4,
          cases.map((c) => () => troupe(c.args, { TROUPE_URL: c.url, TROUPE_ADMIN_KEY: ADMIN }))
        )
        runs.forEach((r, i) => {
          const c = cases[i] as (typeof cases)[number] // one run per case, in order
          const what = `${c.args.join(" ")} (${c.body}): ${r.out}${r.err}`
          expect(r.code, what).toBe(5)
          expect(crashed(r), what).toBe(false)
          expect(r.err, what).toMatch(/^troupe: \S+ \S+: unexpected answer/m)
          expect(r.out, what).not.toContain("undefined")
        })
        const at = runs[both.findIndex((a) => a[0] === "keys" && a[1] === "create")] as Run // in `both`
        expect(at.err).toContain("unexpected answer at key")
      } finally {
        empty.close()
        nul.close()
      }
    },
    120_000
  )
})

describe("the flags every admin command shares (real binary)", () => {
  it(
    "--url must be an http(s) URL without credentials: else exit 2 before any request, the password never printed",
    async () => {
      const runs = await Promise.all([
        troupe(["keys", "list", "--tenant", "acme", "--url", "http://ops:hunter2pw@127.0.0.1:1"], {
          TROUPE_ADMIN_KEY: ADMIN
        }),
        troupe(["health", "--url", "notaurl"]),
        troupe(["health", "--url", "ftp://127.0.0.1:1"]),
        troupe(["tree", "--watch"], { TROUPE_URL: "http://ops:hunter2pw@127.0.0.1:1", TROUPE_ADMIN_KEY: ADMIN })
      ])
      for (const r of runs) {
        expect(r.code, r.err).toBe(2)
        expect(r.err).toMatch(/^troupe: --url: /m)
        expect(r.out + r.err).not.toContain("hunter2pw")
      }
    },
    30_000
  )

  it("--timeout must be 1 to 2147483647 ms: else exit 2 naming --timeout, not 'gateway unreachable'", async () => {
    const runs = await Promise.all([
      troupe(["keys", "list", "--tenant", "acme", "--timeout", "-1"], { TROUPE_URL: url, TROUPE_ADMIN_KEY: ADMIN }),
      troupe(["health", "--timeout", "0"], { TROUPE_URL: url }),
      troupe(["tree", "--timeout", "4294967296"], { TROUPE_URL: url, TROUPE_ADMIN_KEY: ADMIN }),
      troupe(["tree", "--watch", "--timeout", "2147483648"], { TROUPE_URL: url, TROUPE_ADMIN_KEY: ADMIN })
    ])
    for (const r of runs) {
      expect(r.code, r.err).toBe(2)
      expect(r.err).toContain("troupe: --timeout: ")
      expect(r.err).not.toContain("unreachable")
    }
  }, 30_000)

  it(
    "tree --watch: --interval outside 100-60000 ms is exit 2 before any request; a refused event stream (4xx) is exit 1 with its reason, a 5xx exit 5",
    async () => {
      const refused = await answering(JSON.stringify({ error: { message: "no such stream" } }), 404)
      const broken = await answering(JSON.stringify({ error: { message: "it broke" } }), 500)
      try {
        const [zero, big, four, five] = await Promise.all([
          troupe(["tree", "--watch", "--interval", "0"], { TROUPE_URL: url, TROUPE_ADMIN_KEY: ADMIN }),
          troupe(["tree", "--watch", "--interval", "60001"], { TROUPE_URL: silentUrl, TROUPE_ADMIN_KEY: ADMIN }),
          troupe(["tree", "--watch"], { TROUPE_URL: refused.url, TROUPE_ADMIN_KEY: ADMIN }),
          troupe(["tree", "--watch"], { TROUPE_URL: broken.url, TROUPE_ADMIN_KEY: ADMIN })
        ])
        for (const r of [zero, big]) {
          expect(r?.code, r?.err).toBe(2)
          expect(r?.err).toContain("troupe: --interval: ")
        }
        expect(four?.code, four?.err).toBe(1)
        expect(four?.err).toContain("GET /admin/events: refused (HTTP 404): no such stream")
        expect(five?.code, five?.err).toBe(5)
        expect(five?.err).toContain("GET /admin/events: server error (HTTP 500): it broke")
      } finally {
        refused.close()
        broken.close()
      }
    },
    30_000
  )
})

describe("dlq redrive within its documented bounds (real binary, real gateway)", () => {
  it(
    "--all --rate 0.001 --limit 5000 waits for the answer at most Node's longest timer (2147483647 ms): the redrive reaches the gateway",
    async () => {
      const r = await admin(["dlq", "redrive", "--all", "--rate", "0.001", "--limit", "5000"])
      expect(r.err).not.toContain("unreachable")
      expect(r.code, r.err).toBe(0) // the queue is empty: nothing to redrive
      expect(r.out).toContain("redriven 0, failed 0, skipped 0")
    },
    30_000
  )
})
