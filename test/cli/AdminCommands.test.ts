/**
 * The admin commands of the real `troupe` binary against a real `troupe serve` process; `tree --watch` in tmux
 * (skipped with a message when tmux is missing, except under `CI=true`, where a missing tmux fails the test).
 */
import { execFileSync, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bin, cleanEnv, type Env, runSync, startServe } from "./support/binary.ts"

const baseEnv = cleanEnv("cli")
const home = baseEnv["HOME"] as string // set by cleanEnv
let server: ChildProcess
let url = ""

const troupe = (args: ReadonlyArray<string>, env: Env = {}) => runSync(baseEnv, args, env)
const withKey = (args: ReadonlyArray<string>) => troupe(args, { TROUPE_URL: url, TROUPE_ADMIN_KEY: "cli-admin" })

beforeAll(async () => {
  ;({ child: server, url } = await startServe(baseEnv, [], { TROUPE_GATEWAY__AUTH__ADMIN_KEY: "cli-admin" }))
}, 30_000)
afterAll(() => {
  server?.kill("SIGKILL")
})

describe("troupe admin commands (real binary, real gateway)", () => {
  it("tree prints the supervision tree; --json prints the admin API's document", () => {
    const text = withKey(["tree"])
    expect(text.code).toBe(0)
    expect(text.out).toMatch(/^troupe pid 1\n/)
    expect(text.out).toMatch(/^├─ gateway \(supervisor, permanent\) pid \d+$/m)
    expect(text.out).toMatch(/^│  ├─ http-server \(worker, permanent\) pid \d+$/m)
    const json = withKey(["tree", "--json"])
    expect(JSON.parse(json.out).children.map((c: { id: string }) => c.id)).toContain("gateway")
  }, 30_000)

  it("health, metrics (text and --json), config get|set, maintenance on|off", () => {
    const health = withKey(["health", "--json"])
    expect(health.code).toBe(0)
    expect(JSON.parse(health.out).ready.status).toBe("ready")
    expect(withKey(["metrics"]).out).toContain("# TYPE troupe_gateway_http_requests_total counter")
    expect(
      JSON.parse(withKey(["metrics", "--json"]).out).some((s: { name: string }) =>
        s.name === "process_resident_memory_bytes"
      )
    ).toBe(true)
    expect(withKey(["config", "get", "gateway.auth.adminKey"]).out.trim()).toBe("<redacted>")
    expect(withKey(["config", "set", "cache.maxEntries", "5000"]).code).toBe(0)
    expect(withKey(["config", "get", "cache.maxEntries"]).out.trim()).toBe("5000")
    const bad = withKey(["config", "set", "cache.maxEntries", "-1"])
    expect(bad.code).toBe(1)
    expect(bad.err).toContain("cache.maxEntries")
    expect(withKey(["maintenance", "on", "--json"]).out).toContain("\"enabled\": true")
    const notReady = withKey(["health"])
    expect(notReady.code).toBe(1)
    expect(notReady.out).toContain("maintenance")
    expect(withKey(["maintenance", "off"]).out.trim()).toBe("maintenance off")
  }, 60_000)

  it("--url beats TROUPE_URL, ~/.trouperc is the fallback; clear errors with exit codes", () => {
    writeFileSync(join(home, ".trouperc"), JSON.stringify({ url, adminKey: "cli-admin" }))
    try {
      expect(troupe(["tree", "--json"]).code).toBe(0)
      const wrongKey = troupe(["tree"], { TROUPE_ADMIN_KEY: "nope" })
      expect(wrongKey.code).toBe(4)
      expect(wrongKey.err).toContain("admin key refused")
      expect(wrongKey.err).not.toContain("nope")
      const down = troupe(["tree", "--url", "http://127.0.0.1:9"], { TROUPE_URL: url })
      expect(down.code).toBe(3)
      expect(down.err).toContain("unreachable")
    } finally {
      writeFileSync(join(home, ".trouperc"), "{}")
    }
    const noKey = troupe(["tree", "--url", url])
    expect(noKey.code).toBe(4)
    expect(noKey.err).toContain("no admin key")
  }, 60_000)

  it("config validate checks a file locally without a server, listing every issue", () => {
    const dir = mkdtempSync(join(tmpdir(), "troupe-validate-"))
    writeFileSync(join(dir, "good.json"), JSON.stringify({ gateway: { port: 8080 } }))
    writeFileSync(join(dir, "bad.json"), JSON.stringify({ cache: { maxEntries: -1 }, gateway: { port: "x" } }))
    expect(troupe(["config", "validate", join(dir, "good.json")]).out).toContain("valid")
    const bad = troupe(["config", "validate", "--json", join(dir, "bad.json")])
    expect(bad.code).toBe(1)
    const paths = JSON.parse(bad.out).issues.map((i: { path: string }) => i.path)
    expect(paths).toEqual(expect.arrayContaining(["cache.maxEntries", "gateway.port"]))
    expect(troupe(["config", "--help"]).out).toContain("validate")
  }, 30_000)

  const tmux = spawnSync("sh", ["-c", "command -v tmux"]).status === 0
  const underCi = process.env.CI === "true"
  if (!tmux && !underCi) {
    console.warn("skipping the tree --watch terminal test: tmux is not installed (apt-get install -y tmux)")
  }
  it.skipIf(!tmux && !underCi)(
    "tree --watch redraws in a terminal (tmux) and shows a restart; Ctrl-C quits",
    async () => {
      if (!tmux) throw new Error("tmux is missing under CI=true (.ci/run installs it): the tree --watch test must run")
      const session = `troupe-cli-${process.pid}`
      const cmd = `exec env TROUPE_URL=${url} TROUPE_ADMIN_KEY=cli-admin HOME=${home} ${process.execPath} ${bin} ` +
        "tree --watch --interval 200"
      execFileSync("tmux", ["new-session", "-d", "-s", session, "-x", "160", "-y", "50", cmd])
      // the pane stays once its command exits, so that its exit can be read
      execFileSync("tmux", ["set-window-option", "-t", session, "remain-on-exit", "on"])
      const capture = () => execFileSync("tmux", ["capture-pane", "-p", "-t", session], { encoding: "utf8" })
      // "<dead> <pid>" of the pane: its command is the binary itself (exec), so the pid is the binary's
      const pane = () =>
        execFileSync("tmux", ["list-panes", "-t", session, "-F", "#{pane_dead} #{pane_pid}"], { encoding: "utf8" })
          .trim()
      // running: the pid exists and is not a zombie (an exited child tmux has not reaped yet still answers kill 0)
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0)
        } catch {
          return false
        }
        try {
          // /proc/<pid>/stat: "pid (comm) state …"; Z is a zombie, which has exited
          const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
          return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
        } catch {
          return false
        }
      }
      const waitFor = async (done: () => boolean, what: () => string) => {
        const deadline = Date.now() + 10_000
        while (Date.now() < deadline) {
          if (done()) return
          await new Promise((r) => {
            setTimeout(r, 100)
          })
        }
        throw new Error(what())
      }
      const shown = (re: RegExp) => waitFor(() => re.test(capture()), () => `not shown: ${re}\n${capture()}`)
      try {
        await shown(/sweeper \(worker, permanent\) pid \d+/)
        await fetch(`${url}/admin/supervision/${encodeURIComponent("ratelimiter/sweeper")}/restart`, {
          method: "POST",
          headers: { authorization: "Bearer cli-admin" }
        })
        await shown(/sweeper \(worker, permanent\) pid \d+ restarts=1 last-exit=Killed/)
        const [dead, pid] = pane().split(" ")
        expect(dead).toBe("0")
        expect(alive(Number(pid))).toBe(true)
        execFileSync("tmux", ["send-keys", "-t", session, "C-c"])
        // the process quit: its pane is dead and its pid is gone
        await waitFor(
          () => pane().startsWith("1 ") && !alive(Number(pid)),
          () => `still running after Ctrl-C: ${pane()}\n${capture()}`
        )
      } finally {
        spawnSync("tmux", ["kill-session", "-t", session])
      }
    },
    30_000
  )
})
