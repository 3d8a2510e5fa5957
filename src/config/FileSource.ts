/**
 * The JSON configuration file as a configuration source.
 *
 * Read through Effect's `FileSystem` service (so tests inject `FileSystem.makeNoop({ readFileString })` and never
 * touch the disk, and production uses `NodeFileSystem.layer`). The file must hold one JSON object in the shape of
 * `TroupeConfig` (any subset of it). Failures become a `ConfigSourceError` naming the path and the reason; the
 * reason never quotes file contents: V8's `JSON.parse` messages embed a snippet of the text, which could be a key,
 * so only the position is kept.
 *
 * Hand-rolled only in the error sanitising; reading and parsing are `FileSystem.readFileString` and `JSON.parse`.
 */
import { Effect, FileSystem } from "effect"
import { ConfigSourceError } from "./ConfigError.ts"
import type { RawObject } from "./RawTree.ts"
import { isRawObject } from "./RawTree.ts"

/** Only the location part of a `JSON.parse` error (`at position 12 (line 2 column 5)`), never the quoted text. */
const jsonErrorLocation = (error: unknown): string => {
  const message = error instanceof Error ? error.message : ""
  const match = /(at position \d+(?: \(line \d+ column \d+\))?)/.exec(message)
  return match?.[1] !== undefined ? `invalid JSON ${match[1]}` : "invalid JSON"
}

/**
 * Reads and parses the config file at `path`. Fails with `ConfigSourceError` (`source: "file"`) when the file does
 * not exist (`file not found`) or cannot be read (the `FileSystem` reason tag), when its text is not JSON (the
 * position only), or when the JSON is not an object.
 */
export const readConfigFile = (
  path: string
): Effect.Effect<RawObject, ConfigSourceError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(
      Effect.mapError((error) =>
        new ConfigSourceError({
          source: "file",
          location: path,
          reason: error.reason._tag === "NotFound" ? "file not found" : `cannot read file (${error.reason._tag})`
        })
      )
    )
    const parsed = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: (error) => new ConfigSourceError({ source: "file", location: path, reason: jsonErrorLocation(error) })
    })
    if (!isRawObject(parsed)) {
      return yield* new ConfigSourceError({ source: "file", location: path, reason: "expected a JSON object" })
    }
    return parsed
  })
