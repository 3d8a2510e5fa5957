import { assert, describe, it } from "@effect/vitest"
import { catalogueMarkdown, eventCatalogue, Events, SpanPrefixes } from "../../src/telemetry/index.ts"

describe("event catalogue", () => {
  it("lists every Events constant exactly once, with measurements and metadata", () => {
    const listed = eventCatalogue.map((e) => e.name.join("."))
    assert.strictEqual(new Set(listed).size, listed.length)
    assert.sameMembers(listed, Object.values(Events).map((n) => n.join(".")))
    for (const entry of eventCatalogue) {
      assert.strictEqual(entry.name[0], "troupe")
      assert.isNotEmpty(entry.measurements, entry.name.join("."))
      assert.isNotEmpty(entry.description)
    }
  })

  it("covers the issue's list: LLM, tokens, tools, agents, algorithms, cache, rate limit, config, supervisor, breaker, security, audit", () => {
    const has = (prefix: string) => eventCatalogue.some((e) => e.name.join(".").startsWith(prefix))
    for (
      const prefix of [
        "troupe.llm.call.start",
        "troupe.llm.call.stop",
        "troupe.llm.call.exception",
        "troupe.llm.token.usage",
        "troupe.tool.execution",
        "troupe.agent.action",
        "troupe.algorithm.execution",
        "troupe.cache.hit",
        "troupe.cache.miss",
        "troupe.cache.eviction",
        "troupe.rate_limiter.limited",
        "troupe.config.changed",
        "troupe.supervisor.child.restarted"
      ]
    ) assert.isTrue(has(prefix), prefix)
    for (
      const prefix of [
        "troupe.breaker.opened",
        "troupe.breaker.rejected",
        "troupe.security.injection.detected",
        "troupe.audit.recorded"
      ]
    ) {
      assert.isTrue(has(prefix), prefix)
    }
    // nothing is reserved any more: the breaker events come from BreakerStep, the security events from Guard
    assert.deepStrictEqual(eventCatalogue.filter((e) => e.status === "reserved").map((e) => e.name.join(".")), [])
    for (const prefix of Object.values(SpanPrefixes)) {
      for (const suffix of ["start", "stop", "exception"]) assert.isTrue(has([...prefix, suffix].join(".")))
    }
  })

  it("renders a Markdown table for the README", () => {
    const md = catalogueMarkdown()
    const rows = md.split("\n")
    assert.strictEqual(rows.length, eventCatalogue.length + 2)
    assert.include(md, "| `troupe.llm.call.stop` | emitted |")
    assert.include(md, "| `troupe.breaker.opened` | emitted |")
  })
})
