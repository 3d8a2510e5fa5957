/**
 * The observer: `/admin/events` (SSE snapshots, lifecycle and telemetry events), the supervision actions (audited),
 * and the `/observer` page in a real browser (Debian's chromium driven by playwright-core).
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import fc from "fast-check"
import { existsSync, mkdirSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Troupe } from "../../src/app/index.ts"
import { Gateway } from "../../src/gateway/index.ts"
import { CurrentLifecycleSink, ExitReason } from "../../src/runtime/index.ts"
import type { LifecycleSink } from "../../src/runtime/index.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"
import type { Running } from "./support.ts"
import { readSse, startGateway } from "./support.ts"

const admin = { authorization: "Bearer observer-secret" }
const chromium = "/usr/bin/chromium"
let gw: Running

beforeAll(async () => {
  gw = await startGateway({
    pipeline: { retry: false },
    budgets: true,
    queues: { default: { capacity: 100 } },
    config: { defaults: { gateway: { auth: { adminKey: "observer-secret" } } } }
  })
})
afterAll(async () => {
  await gw?.stop()
})

/** A node of `/admin/supervision`'s tree (the fields these tests read). */
interface TreeNode {
  readonly id: string
  readonly state?: string
  readonly restarts?: number
  readonly children?: ReadonlyArray<TreeNode>
}

/** The data of an `/admin/events` frame (the fields these tests read; each frame kind has some of them). */
interface FrameData {
  readonly _tag?: string
  readonly supervisor?: string
  readonly childId?: string
  readonly name?: string
  readonly metadata: { readonly action?: string; readonly outcome?: string }
  readonly tree: TreeNode
  readonly stats: { readonly gateway: { readonly phase: string } }
}

/** Reads SSE frames from `/admin/events` until `until` holds or the deadline passes. */
const readEvents = async (
  query: string,
  until: (frames: ReadonlyArray<{ event: string; data: FrameData }>) => boolean,
  ms = 5_000
) => {
  const frames: Array<{ event: string; data: FrameData }> = []
  await readSse(`${gw.url}/admin/events${query}`, admin, (f) => {
    frames.push({ event: f.event, data: f.data as FrameData }) // the observer's frames carry these fields
    return until(frames)
  }, ms)
  return frames
}

describe("observer admin API", () => {
  it("the admin endpoints refuse a request without the admin key; the page shell holds no data", async () => {
    expect((await fetch(`${gw.url}/admin/events`)).status).toBe(401)
    expect((await fetch(`${gw.url}/admin/supervision/gateway%2Fhttp-server/restart`, { method: "POST" })).status).toBe(
      401
    )
    const page = await fetch(`${gw.url}/observer`)
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toContain("text/html")
    const html = await page.text()
    expect(html).toContain("supervision tree")
    expect(html).not.toContain("observer-secret")
  })

  it("a bad query is a 400 naming the parameter, never a 500 (interval under 100 ms)", async () => {
    const r = await fetch(`${gw.url}/admin/events?interval=50`, { headers: admin })
    expect(r.status).toBe(400)
    expect(JSON.stringify(await r.json())).toContain("interval")
  })

  it("GET /admin/events sends a snapshot at once whose tree matches /admin/supervision", async () => {
    const tree = await (await fetch(`${gw.url}/admin/supervision`, { headers: admin })).json()
    const controller = new AbortController()
    const head = await fetch(`${gw.url}/admin/events`, { headers: admin, signal: controller.signal })
    expect(head.status).toBe(200)
    expect(head.headers.get("content-type")).toContain("text/event-stream")
    controller.abort()
    const frames = await readEvents("", (f) => f.some((x) => x.event === "snapshot"))
    const snap = frames.find((f) => f.event === "snapshot")!.data
    const ids = (n: TreeNode): Array<string> => [n.id, ...(n.children ?? []).flatMap(ids)]
    expect(ids(snap.tree)).toEqual(ids(tree))
    expect(snap.stats.gateway.phase).toBe("ready")
  })

  it(
    "restart kills a running child: its supervisor restarts it, the restart is streamed and audited; stop then restart",
    async () => {
      const seen = readEvents(
        "?filter=troupe.gateway.admin",
        (f) =>
          f.some((x) =>
            x.event === "lifecycle" && x.data._tag === "ChildRestarted" && x.data.supervisor === "ratelimiter" &&
            x.data.childId === "sweeper"
          ) &&
          f.some((x) => x.event === "telemetry" && x.data.metadata.action === "restart")
      )
      await new Promise((r) => {
        setTimeout(r, 200)
      })
      const r = await fetch(`${gw.url}/admin/supervision/${encodeURIComponent("ratelimiter/sweeper")}/restart`, {
        method: "POST",
        headers: admin
      })
      expect(r.status).toBe(200)
      expect(await r.json()).toEqual({ action: "restart", path: "ratelimiter/sweeper", outcome: "killed" })
      const frames = await seen
      expect(
        frames.some((x) =>
          x.event === "telemetry" && x.data.name === "troupe.gateway.admin.action" &&
          x.data.metadata.outcome === "killed"
        )
      ).toBe(true)
      const tree = await (await fetch(`${gw.url}/admin/supervision`, { headers: admin })).json()
      const sweeper = tree.children.find((c: TreeNode) => c.id === "ratelimiter").children.find((c: TreeNode) =>
        c.id === "sweeper"
      )
      expect(sweeper.state).toBe("running")
      expect(sweeper.restarts).toBeGreaterThanOrEqual(1)
      const stop = await fetch(`${gw.url}/admin/supervision/${encodeURIComponent("ratelimiter/sweeper")}/stop`, {
        method: "POST",
        headers: admin
      })
      expect(await stop.json()).toMatchObject({ outcome: "stopped" })
      const stopped = await (await fetch(`${gw.url}/admin/supervision`, { headers: admin })).json()
      expect(
        stopped.children.find((c: TreeNode) => c.id === "ratelimiter").children.find((c: TreeNode) =>
          c.id === "sweeper"
        ).state
      ).toBe("stopped")
      const again = await fetch(`${gw.url}/admin/supervision/${encodeURIComponent("ratelimiter/sweeper")}/restart`, {
        method: "POST",
        headers: admin
      })
      expect(await again.json()).toMatchObject({ outcome: "restarted" })
      expect(
        (await fetch(`${gw.url}/admin/supervision/gateway%2Fhttp-server/stop`, { method: "POST", headers: admin }))
          .status
      ).toBe(409)
      expect(
        (await fetch(`${gw.url}/admin/supervision/nope%2Fmissing/restart`, { method: "POST", headers: admin })).status
      ).toBe(404)
      expect(
        (await fetch(`${gw.url}/admin/supervision/${encodeURIComponent(tree.id)}/stop`, {
          method: "POST",
          headers: admin
        })).status
      ).toBe(400)
    },
    20_000
  )

  it("the gateway's own HTTP server and the gateway supervisor above it cannot be restarted or stopped through its admin API (409); the gateway keeps serving", async () => {
    const own = await startGateway({ config: { defaults: { gateway: { auth: { adminKey: "observer-secret" } } } } })
    try {
      for (const path of ["gateway", "gateway/http-server"]) {
        for (const action of ["restart", "stop"]) {
          const r = await fetch(`${own.url}/admin/supervision/${encodeURIComponent(path)}/${action}`, {
            method: "POST",
            headers: admin
          })
          expect([path, action, r.status]).toEqual([path, action, 409])
        }
      }
      expect((await fetch(`${own.url}/health/ready`)).status).toBe(200)
      expect((await fetch(`${own.url}/v1/models`, { headers: admin })).status).toBe(200)
    } finally {
      await own.stop()
    }
  })
})

describe("observer: a slow reader", () => {
  it("bounded: a slow reader loses the oldest of 1,000 queued frames", async () => {
    const scope = Effect.runSync(Scope.make())
    const layer = Gateway.layer({ port: 0 }).pipe(
      Layer.provideMerge(
        Troupe.layerTest({ config: { defaults: { gateway: { auth: { adminKey: "observer-secret" } } } } })
      )
    )
    const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
    const url = Context.get(context, Gateway).address.url
    const hub = Context.get(context, TelemetryHub)
    const controller = new AbortController()
    try {
      const r = await fetch(`${url}/admin/events?filter=troupe.flood`, { headers: admin, signal: controller.signal })
      const reader = r.body!.getReader()
      const dec = new TextDecoder()
      let buf = ""
      const ns: Array<number> = []
      let flooded = false
      while (!ns.includes(4_999)) {
        const { value, done } = await reader.read()
        if (done) break
        buf += dec.decode(value, { stream: true })
        let i: number
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const chunk = buf.slice(0, i)
          buf = buf.slice(i + 2)
          const event = /^event: (.*)$/m.exec(chunk)?.[1]
          const data = /^data: (.*)$/m.exec(chunk)?.[1]
          if (event === "telemetry" && data !== undefined) ns.push(JSON.parse(data).measurements.n)
          if (event === "snapshot" && !flooded) {
            flooded = true
            // 5,000 events while the stream is not read (synchronously: the server's fiber cannot run in between)
            for (let n = 0; n < 5_000; n++) hub.emitUnsafe(["troupe", "flood", "event"], { n })
          }
        }
      }
      expect(ns.filter((n) => n >= 4_000)).toHaveLength(1_000) // the newest 1,000 are all delivered
      expect(ns.filter((n) => n > 0 && n < 4_000)).toEqual([]) // the older ones were dropped, oldest first
    } finally {
      controller.abort()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }, 20_000)
})

/** A gateway of its own (a test that drains or floods it must not disturb the others), with its hub and sink. */
const ownGateway = async (drainTimeout = 60_000) => {
  const scope = Effect.runSync(Scope.make())
  const layer = Gateway.layer({ port: 0 }).pipe(
    Layer.provideMerge(
      Troupe.layerTest({
        config: {
          defaults: { gateway: { auth: { adminKey: "observer-secret" }, drain: { timeout: drainTimeout } } }
        }
      })
    )
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  return {
    gateway: Context.get(context, Gateway),
    url: Context.get(context, Gateway).address.url,
    hub: Context.get(context, TelemetryHub),
    sink: Context.get(context, CurrentLifecycleSink) as LifecycleSink, // Troupe.layerTest provides Lifecycle.layer
    stop: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** Reads `/admin/events?filter=…` frame by frame; `onSnapshot` runs once, at the first snapshot. */
const readFrames = async (
  url: string,
  query: string,
  onSnapshot: () => void,
  until: (frames: ReadonlyArray<{ event: string; data: Record<string, unknown> }>) => boolean
) => {
  const controller = new AbortController()
  const frames: Array<{ event: string; data: Record<string, unknown> }> = []
  try {
    const r = await fetch(`${url}/admin/events${query}`, { headers: admin, signal: controller.signal })
    const reader = r.body!.getReader()
    const dec = new TextDecoder()
    let buf = ""
    let snapshotSeen = false
    while (!until(frames)) {
      const { value, done } = await reader.read()
      if (done) break
      buf += dec.decode(value, { stream: true })
      let i: number
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const chunk = buf.slice(0, i)
        buf = buf.slice(i + 2)
        const event = /^event: (.*)$/m.exec(chunk)?.[1] ?? "message"
        const data = /^data: (.*)$/m.exec(chunk)?.[1]
        if (data !== undefined) frames.push({ event, data: JSON.parse(data) })
        if (event === "snapshot" && !snapshotSeen) {
          snapshotSeen = true
          onSnapshot()
        }
      }
    }
  } finally {
    controller.abort()
  }
  return frames
}

describe("observer: a slow reader loses the oldest lifecycle events too", () => {
  it("bounded: lifecycle events go through the same sliding queue of 1,000 frames", async () => {
    const own = await ownGateway(500)
    try {
      const flood = (frames: ReadonlyArray<{ event: string; data: Record<string, unknown> }>) =>
        frames.filter((f) => f.event === "lifecycle" && String(f.data["childId"]).startsWith("flood-")).map((f) =>
          Number(String(f.data["childId"]).slice("flood-".length))
        )
      const frames = await readFrames(own.url, "?filter=troupe.nothing&interval=60000", () => {
        // 5,000 lifecycle events while the stream is not read (synchronously: the server's fibers cannot run between)
        for (let n = 0; n < 5_000; n++) {
          own.sink.publish({
            _tag: "ChildExited",
            supervisor: "agents",
            childId: `flood-${n}`,
            reason: ExitReason.normal,
            timestamp: 0
          })
        }
      }, (f) => flood(f).includes(4_999))
      const ns = flood(frames)
      expect(ns.filter((n) => n >= 4_000)).toHaveLength(1_000) // the newest 1,000 are all delivered
      expect(ns.filter((n) => n < 4_000)).toEqual([]) // the older ones were dropped, oldest first
    } finally {
      await own.stop()
    }
  }, 20_000)
})

describe("observer: a response whose body never runs", () => {
  it(
    "a HEAD of /admin/events attaches no hub handler and counts no open stream: a drain after it does not wait",
    async () => {
      const own = await ownGateway(60_000) // a leaked stream would hold the drain for 60 s, past this test's timeout
      try {
        for (let i = 0; i < 3; i++) {
          expect((await fetch(`${own.url}/admin/events`, { method: "HEAD", headers: admin })).status).toBe(200)
        }
        const handlers = await Effect.runPromise(own.hub.handlers())
        expect(handlers.filter((h) => /^troupe\/observer:[0-9a-f-]{36}$/.test(h.id))).toEqual([])
        expect((await Effect.runPromise(own.gateway.inFlight)).streams).toBe(0)
        await Effect.runPromise(own.gateway.drain)
      } finally {
        await own.stop()
      }
    },
    10_000
  )
})

describe("observer: telemetry frames", () => {
  it(
    "an event whose metadata JSON cannot render as is (a bigint, a cycle) is still sent; the stream keeps its telemetry",
    async () => {
      const own = await ownGateway(500)
      try {
        const cyclic: Record<string, unknown> = { name: "loop" }
        cyclic["self"] = cyclic
        const frames = await readFrames(own.url, "?filter=troupe.probe", () => {
          own.hub.emitUnsafe(["troupe", "probe", "big"], { n: 1 }, { id: 12345678901234567890n })
          own.hub.emitUnsafe(["troupe", "probe", "cycle"], { n: 2 }, { cyclic })
          own.hub.emitUnsafe(["troupe", "probe", "after"], { n: 3 }, { ok: true })
        }, (f) => f.some((x) => x.event === "telemetry" && x.data["name"] === "troupe.probe.after"))
        const telemetry = frames.filter((f) => f.event === "telemetry").map((f) => f.data)
        expect(telemetry.map((t) => t["name"])).toEqual([
          "troupe.probe.big",
          "troupe.probe.cycle",
          "troupe.probe.after"
        ])
        expect(telemetry[0]!["metadata"]).toEqual({ id: "12345678901234567890" })
        expect(telemetry[1]!["metadata"]).toEqual({ cyclic: { name: "loop", self: "[Circular]" } })
        const failures = (await (await fetch(`${own.url}/metrics`)).text()).split("\n")
          .filter((l) => l.startsWith("troupe_telemetry_handler_failures_total{") && l.includes("troupe/observer"))
        expect(failures).toEqual([])
      } finally {
        await own.stop()
      }
    },
    10_000
  )
})

describe("observer: fuzzed supervision paths", () => {
  it(
    "any path that names no child is a 400 or 404 with an OpenAI-format error, never a 5xx, and stops nothing",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.string({ maxLength: 64 }), fc.constantFrom("restart", "stop"), async (raw, action) => {
          const path = `fuzz-${raw}`
          const r = await fetch(`${gw.url}/admin/supervision/${encodeURIComponent(path)}/${action}`, {
            method: "POST",
            headers: admin
          })
          expect([400, 404]).toContain(r.status)
          expect((await r.json()).error.message).toBeTypeOf("string")
        }),
        { numRuns: 60 }
      )
      const tree = await (await fetch(`${gw.url}/admin/supervision`, { headers: admin })).json()
      expect(tree.children.find((c: TreeNode) => c.id === "gateway").state).toBe("running")
    },
    30_000
  )
})

const browserReady = existsSync(chromium)
if (!browserReady && process.env.CI === "true") {
  throw new Error(`${chromium} is missing under CI=true (.ci/run installs it)`)
}
if (!browserReady) {
  console.warn(`skipping the observer browser test: ${chromium} is not installed (apt-get install -y chromium)`)
}

describe.skipIf(!browserReady)("observer page in chromium", () => {
  it(
    "loads, shows the tree of the admin API, shows an injected crash within one second, toggles maintenance",
    async () => {
      const { chromium: pw } = await import("playwright-core")
      const browser = await pw.launch({
        executablePath: chromium,
        args: ["--headless", "--no-sandbox", "--disable-gpu"]
      })
      try {
        const page = await browser.newPage()
        await page.goto(`${gw.url}/observer#key=observer-secret`)
        await page.waitForSelector("#tree .node[data-path='ratelimiter/sweeper']", { timeout: 10_000 })
        const tree = await (await fetch(`${gw.url}/admin/supervision`, { headers: admin })).json()
        const paths = (n: TreeNode, p: string | null): Array<string> => {
          const here = p === null ? "" : (p ? p + "/" : "") + n.id
          return [...(p === null ? [] : [here]), ...(n.children ?? []).flatMap((c: TreeNode) => paths(c, here))]
        }
        const shown = await page.$$eval(
          "#tree .node[data-path]",
          (els) => els.map((e) => (e as HTMLElement).dataset.path).filter((p) => p)
        )
        expect(shown).toEqual(paths(tree, null))
        const before = Number(await page.getAttribute("#tree .node[data-path='ratelimiter/sweeper']", "data-restarts"))
        // a crash injected through the API shows within one second
        const t0 = Date.now()
        const r = await fetch(`${gw.url}/admin/supervision/${encodeURIComponent("ratelimiter/sweeper")}/restart`, {
          method: "POST",
          headers: admin
        })
        expect(r.status).toBe(200)
        await page.waitForFunction(
          (b) =>
            Number(
              document.querySelector("#tree .node[data-path='ratelimiter/sweeper']")?.getAttribute("data-restarts")
            ) > b,
          before,
          { timeout: 1_000 }
        )
        const shownAfter = Date.now() - t0
        expect(shownAfter).toBeLessThan(1_000)
        // the restart flashes on its node, which then shows its last exit reason
        expect(await page.$("#tree .node.flash[data-path='ratelimiter/sweeper']")).not.toBeNull()
        await page.waitForFunction(
          () =>
            /last exit \w+/.test(
              document.querySelector("#tree .node[data-path='ratelimiter/sweeper'] .exit")?.textContent ?? ""
            ),
          undefined,
          { timeout: 3_000 }
        )
        // a budget and an LLM call: the budgets panel, the queue of the provider's route, the per-provider/model
        // table with its charts over time
        await fetch(`${gw.url}/costs/budget`, {
          method: "POST",
          headers: { ...admin, "content-type": "application/json" },
          body: JSON.stringify({ scope: "tenant:observer", limit: 5, period: "month" })
        })
        await fetch(`${gw.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hi" }] })
        })
        await page.waitForFunction(
          () =>
            /scripted/.test(document.querySelector("#llm")?.textContent ?? "") &&
            document.querySelectorAll("#llm svg.spark").length >= 4 &&
            /tenant:observer/.test(document.querySelector("#p-budgets")?.textContent ?? "") &&
            /depth/.test(document.querySelector("#p-queues")?.textContent ?? ""),
          undefined,
          { timeout: 3_000 }
        )
        for (const panel of ["#p-cache", "#p-ratelimiter", "#p-breakers", "#agents", "#components"]) {
          expect(await page.$(panel), panel).not.toBeNull()
        }
        expect(await page.textContent("#p-cache")).toMatch(/hit/i)
        expect(await page.textContent("#p-ratelimiter")).toMatch(/keys/)
        // the event filter keeps the events under its prefix
        await page.fill("#filter", "troupe.gateway.admin")
        await fetch(`${gw.url}/admin/supervision/${encodeURIComponent("ratelimiter/sweeper")}/restart`, {
          method: "POST",
          headers: admin
        })
        await page.waitForFunction(
          () => {
            const shown = [...document.querySelectorAll("#events .ev code")].map((e) => e.textContent ?? "")
            return shown.length > 0 && shown.every((n) => n.startsWith("troupe.gateway.admin"))
          },
          undefined,
          { timeout: 3_000 }
        )
        await page.fill("#filter", "")
        // maintenance toggle
        await page.waitForFunction(
          () => document.querySelector("#maint-state")?.textContent === "off",
          undefined,
          { timeout: 5_000 }
        )
        await page.click("#maint")
        await page.waitForFunction(() => document.querySelector("#maint-state")?.textContent === "on", undefined, {
          timeout: 2_000
        })
        expect((await (await fetch(`${gw.url}/admin/maintenance`, { headers: admin })).json()).enabled).toBe(true)
        await page.click("#maint")
        await page.waitForFunction(() => document.querySelector("#maint-state")?.textContent === "off", undefined, {
          timeout: 2_000
        })
        expect((await (await fetch(`${gw.url}/admin/maintenance`, { headers: admin })).json()).enabled).toBe(false)
        mkdirSync("test-artifacts", { recursive: true })
        await page.screenshot({ path: "test-artifacts/observer.png", fullPage: true })
        console.info(`observer: injected crash shown after ${shownAfter} ms`)
      } finally {
        await browser.close()
      }
    },
    40_000
  )
})
