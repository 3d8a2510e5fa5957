/**
 * Shared fixtures of the LLM agent tests: a recording scripted model and helpers to let actors run.
 */
import { Effect, Stream } from "effect"
import type { AgentLoop } from "../../src/agent/index.ts"
import type { LlmRequest, ProviderError, ScriptedOptions } from "../../src/llm/index.ts"
import { ScriptedProvider } from "../../src/llm/index.ts"

/** The last user message of a request. */
export const lastUser = (request: LlmRequest): string => {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i]
    if (m?.role === "user") return m.content
  }
  return ""
}

/** A scripted model recording every request; `die` makes a request whose last user message matches crash (a defect). */
export const recording = (options: ScriptedOptions & { readonly die?: RegExp } = {}) => {
  const provider = ScriptedProvider.makeUnsafe(options)
  const requests: Array<LlmRequest> = []
  const llm: AgentLoop.ModelClient<ProviderError> = {
    generate: (request) =>
      Effect.suspend(() => {
        requests.push(request)
        if (options.die !== undefined && options.die.test(lastUser(request))) {
          return Effect.die(new Error("model blew up"))
        }
        return provider.generate(request)
      }),
    stream: (request) =>
      Stream.suspend(() => {
        requests.push(request)
        if (options.die !== undefined && options.die.test(lastUser(request))) {
          return Stream.die(new Error("model blew up"))
        }
        return provider.stream(request)
      })
  }
  return { llm, requests }
}

/** Lets forked fibers and actors run (no clock movement). */
export const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})
