import { spawn } from "node:child_process"
import { once } from "node:events"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import OpenAI from "openai"
import { describe, expect, it } from "vitest"

describe("troupe serve (CLI)", () => {
  it(
    "starts with no configuration on the embedded defaults; curl-style fetch and the openai SDK get answers; SIGINT stops it",
    async () => {
      const bin = fileURLToPath(new URL("../../bin/troupe.js", import.meta.url))
      const env: Record<string, string | undefined> = {
        ...process.env,
        OPENAI_API_KEY: undefined,
        ANTHROPIC_API_KEY: undefined,
        TROUPE_CONFIG: undefined,
        REDIS_URL: undefined
      }
      const child = spawn(process.execPath, [bin, "serve", "--port", "0"], {
        stdio: ["ignore", "pipe", "pipe"],
        env: env as NodeJS.ProcessEnv
      })
      try {
        const lines = createInterface({ input: child.stdout! })
        const url = await new Promise<string>((resolve) => {
          lines.on("line", (l) => {
            const m = /listening on (http:\/\/\S+)/.exec(l)
            if (m?.[1]) resolve(m[1])
          })
        })
        const plain = await fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hello" }] })
        })
        expect(plain.status).toBe(200)
        expect((await plain.json()).choices[0].message.content).toContain("hello")
        const sdk = new OpenAI({ baseURL: `${url}/v1`, apiKey: "none", maxRetries: 0 })
        const answer = await sdk.chat.completions.create({
          model: "fast",
          messages: [{ role: "user", content: "ping" }]
        })
        expect(answer.choices[0]?.message.content).toContain("ping")
        // the default scripted agent definition serves every agent id
        const turn = await fetch(`${url}/v1/agents/assistant:cli/turns`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ input: "hello agent" })
        })
        expect(turn.status).toBe(200)
        expect(((await turn.json()) as { text: string }).text).toContain("hello agent")
        const streamed = await fetch(`${url}/v1/agents/anything/turns`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ input: "hi", stream: true })
        })
        const text = await streamed.text()
        expect(text).toContain("event: done")
        expect(text).toMatch(/^id: \S+\.1$/m)
        child.kill("SIGINT")
        await once(child, "exit")
      } finally {
        child.kill("SIGKILL")
      }
    },
    30_000
  )
})
