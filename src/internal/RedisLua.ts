/**
 * A Lua script for effect's `Redis.script` called as `(keys, args)`: every key first, then every argument, the
 * number of keys taken from the call. The budget, costs and abuse Redis backends each run their scripts this way.
 *
 * @internal
 */
import { Redis } from "effect/persistence"

type Params = ReadonlyArray<string>

/** The script `lua`, called with `(keys, args)`; its reply is `unknown` (each caller decodes it). */
export const luaScript = (lua: string) =>
  Redis.script((keys: Params, args: Params) => [...keys, ...args], {
    lua,
    numberOfKeys: (keys: Params) => keys.length
  }).withReturnType<unknown>()
