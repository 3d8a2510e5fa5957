/** `Embeddings`: the `/embeddings` answer decoded as the chat wires decode theirs — a hostile count is typed. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { decodeEmbeddingsResponse } from "../../src/llm/Embeddings.ts"

const answer = (usage: unknown) => ({
  object: "list",
  model: "emb",
  data: [{ index: 0, embedding: [0.1, 0.2] }],
  usage
})

describe("Embeddings: the /embeddings answer", () => {
  it("a negative, fractional or unsafe prompt_tokens or total_tokens is a MalformedResponse, never a usage", () => {
    for (const n of [-1_000_000, 2.5, 1e300, 2 ** 53]) {
      for (const usage of [{ prompt_tokens: n }, { prompt_tokens: 3, total_tokens: n }]) {
        const exit = Effect.runSyncExit(
          decodeEmbeddingsResponse("p", { model: "emb", input: ["hello"] }, answer(usage))
        )
        assert.isTrue(Exit.isFailure(exit), `${JSON.stringify(usage)} was read as a usage`)
        const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
        assert.strictEqual(error?._tag === "Fail" ? error.error._tag : undefined, "MalformedResponse")
      }
    }
  })

  it("prompt_tokens is the input usage and total_tokens the total; absent, the input is estimated and marked so", () => {
    const read = (usage: unknown) =>
      Effect.runSync(decodeEmbeddingsResponse("p", { model: "emb", input: ["hello"] }, answer(usage))).usage
    assert.deepStrictEqual(read({ prompt_tokens: 7, total_tokens: 7 }), {
      inputTokens: 7,
      outputTokens: 0,
      totalTokens: 7
    })
    assert.isAbove(read(null).inputTokens, 0)
    assert.strictEqual(read(null).estimated, true)
  })
})
