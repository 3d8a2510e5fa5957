/**
 * Test helpers for the config subsystem: an in-memory file system and a store layer built from an explicit
 * environment record, so no test reads the real process environment or the disk.
 */
import { Effect, FileSystem, Layer, PlatformError } from "effect"
import type { ConfigStoreOptions } from "../../src/config/index.ts"
import { ConfigStore } from "../../src/config/index.ts"

/** Files by path; mutate it to simulate edits before `reload()`. */
export type Files = Map<string, string>

export const memoryFileSystem = (files: Files): Layer.Layer<FileSystem.FileSystem> =>
  FileSystem.layerNoop({
    readFileString: (path) => {
      const text = files.get(path)
      return text !== undefined
        ? Effect.succeed(text)
        : Effect.fail(PlatformError.systemError({
          _tag: "NotFound",
          module: "FileSystem",
          method: "readFileString",
          pathOrDescriptor: path
        }))
    }
  })

/** A store over an explicit env record (read on every load) and in-memory files. */
export const storeLayer = (
  options: {
    readonly env?: Record<string, string | undefined>
    readonly files?: Files
  } & Omit<ConfigStoreOptions, "env"> = {}
) => {
  const env = options.env ?? {}
  const { files, ...rest } = options
  return ConfigStore.layer({ ...rest, env: () => env }).pipe(Layer.provide(memoryFileSystem(files ?? new Map())))
}
