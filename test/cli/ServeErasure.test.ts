/**
 * GDPR erasure over `troupe serve` end to end (issue 13 §4): serve provides a `SubjectIndex`, so the response cache
 * links what it stores for an issued key's principal and the agent routes link the principal to the agent's
 * conversation; `POST /admin/privacy/erase` then deletes those cache entries and clears that conversation.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { serveInProcess } from "./support/serveInProcess.ts"

const ADMIN = "serve-erasure-admin-key-0123456789"
let served: Awaited<ReturnType<typeof serveInProcess>> | undefined
let url = ""

beforeAll(async () => {
  served = await serveInProcess(ADMIN)
  url = served.url
})
afterAll(async () => {
  await served?.stop()
})

const post = async (path: string, key: string, body: unknown) => {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body)
  })
  return { res, body: await res.json() as Record<string, unknown> }
}
const issue = async (tenant: string, id: string) => {
  const created = await post("/admin/keys", ADMIN, {
    principal: { kind: "user", id, tenant },
    name: `${id}-key`,
    scopes: ["gateway:use"]
  })
  expect(created.res.status).toBe(201)
  return created.body["key"] as string
}
const chat = (key: string, content: string) =>
  post("/v1/chat/completions", key, { model: "fast", messages: [{ role: "user", content }] })
const count = (report: Record<string, unknown>, where: string) =>
  (report["items"] as Array<{ where: string; count: number }>).find((i) => i.where === where)?.count

describe("troupe serve: erasure finds a subject's cached answers and conversations", () => {
  it("the response cache links each entry it stores or serves for an issued key's principal; erase deletes it (a shared entry is erased by either subject)", async () => {
    const ana = await issue("acme", "ana")
    const ben = await issue("acme", "ben")
    const first = await chat(ana, "what is the capital of France, for ana?")
    expect(first.res.headers.get("x-troupe-cached")).toBe("false")
    expect((await chat(ana, "what is the capital of France, for ana?")).res.headers.get("x-troupe-cached")).toBe("true")
    // ben asks the same: a hit, now linked to ben too
    expect((await chat(ben, "what is the capital of France, for ana?")).res.headers.get("x-troupe-cached")).toBe("true")
    const erased = await post("/admin/privacy/erase", ADMIN, { tenant: "acme", principal: "ben" })
    expect(erased.res.status).toBe(200)
    expect(count(erased.body, "cache")).toBe(1)
    // the shared entry is gone for ana as well
    expect((await chat(ana, "what is the capital of France, for ana?")).res.headers.get("x-troupe-cached")).toBe(
      "false"
    )
    const again = await post("/admin/privacy/erase", ADMIN, { tenant: "acme", principal: "ana" })
    expect(count(again.body, "cache")).toBe(1)
  })

  it("an agent turn links the caller's principal to the agent's conversation; erase clears it", async () => {
    const cleo = await issue("acme", "cleo")
    const turn = await post("/v1/agents/assistant:cleo-chat/turns", cleo, { input: "remember that my name is Cleo" })
    expect(turn.res.status).toBe(200)
    const erased = await post("/admin/privacy/erase", ADMIN, { tenant: "acme", principal: "cleo" })
    expect(erased.res.status).toBe(200)
    expect(count(erased.body, "memory")).toBe(1)
    const items = erased.body["items"] as Array<{ where: string; note?: string }>
    expect(items.find((i) => i.where === "memory")?.note).toBeUndefined()
  })
})
