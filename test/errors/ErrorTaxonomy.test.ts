import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { classify, isErrorTag, taxonomy, taxonomyMarkdown, unknownClass } from "../../src/errors/index.ts"
import { ProviderServerError } from "../../src/llm/index.ts"

const walk = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : path.endsWith(".ts") ? [path] : []
  })

/** Every `Schema.TaggedError<X>()("Tag"` in src/, including the multi-line form. */
const declaredTags = (): Set<string> => {
  const tags = new Set<string>()
  for (const file of walk("src")) {
    for (const m of readFileSync(file, "utf8").matchAll(/TaggedError(?:Class)?<\w+>\(\)\(\s*"(\w+)"/g)) tags.add(m[1]!)
  }
  return tags
}

describe("error taxonomy", () => {
  it("every error tag in src/ is classified", () => {
    const tags = declaredTags()
    assert.isAbove(tags.size, 90)
    const missing = [...tags].filter((t) => !isErrorTag(t))
    assert.deepStrictEqual(missing, [])
  })

  it("the README's table is the taxonomy's table (same words)", () => {
    const readme = readFileSync("README.md", "utf8")
    assert.include(readme, "## Error taxonomy")
    assert.include(readme, taxonomyMarkdown())
  })

  it("retryable classes are transient; retry and wait are the retryable strategies", () => {
    for (const [tag, c] of Object.entries(taxonomy)) {
      if (c.retryable) assert.strictEqual(c.transience, "transient", tag)
      assert.strictEqual(c.retryable, c.recovery === "retry" || c.recovery === "wait", tag)
    }
  })

  it("classify reads the tag of an error value; an unknown tag classifies as unknown", () => {
    const err = new ProviderServerError({ provider: "openai", status: 503, description: "down", retryable: true })
    assert.deepStrictEqual(classify(err), {
      transience: "transient",
      source: "provider",
      retryable: true,
      recovery: "retry"
    })
    assert.strictEqual(classify("GuardBlocked").recovery, "reject")
    assert.strictEqual(classify(new Error("x")), unknownClass)
    assert.strictEqual(classify(null), unknownClass)
    assert.strictEqual(classify({ _tag: "toString" }), unknownClass)
  })
})
