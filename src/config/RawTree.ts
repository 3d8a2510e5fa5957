/**
 * Raw configuration trees: the undecoded, JSON-like layers that the ConfigStore merges before validating.
 *
 * Each source (defaults, file, environment, runtime updates) yields a partial tree; they are deep-merged lowest to
 * highest (objects merge key by key; scalars, arrays and `Redacted` values replace; a `null` in a higher layer
 * removes the key, like RFC 7386 JSON Merge Patch). Paths are arrays of keys, written dotted for people
 * (`providers.openai.timeout`). `diffPaths` compares two decoded configurations and returns the leaf paths that
 * changed, which is what change events carry.
 *
 * Hand-rolled: Effect has no deep-merge / path utilities for plain trees (its `Struct`/`Record` modules are
 * shallow). `Redacted` values are compared with `Equal.equals` (by the hidden value) and never unwrapped here.
 *
 * Hostile trees: merged and copied objects are built without a prototype (`Object.create(null)`), so a key named
 * `__proto__` can never re-parent a node; `scanTree` finds, without recursion, a key in `RESERVED_KEYS`
 * (`__proto__`, `constructor`, `prototype`) or nesting deeper than `MAX_CONFIG_DEPTH` (64) levels, which the
 * ConfigStore rejects before any recursive walk (20,000 levels would overflow the stack).
 */
import { Equal, Predicate, Redacted } from "effect"

/** Keys never accepted in a configuration tree or path (they would reach or replace an object's prototype). */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"])

/** How deeply a configuration tree may nest objects and arrays. */
export const MAX_CONFIG_DEPTH = 64

/** What `scanTree` found wrong: the dotted path and the problem. */
export interface TreeProblem {
  readonly path: string
  readonly message: string
}

/**
 * The first reserved key or too-deep node in `value` (iterative: never overflows), or `undefined`. `at` is the path
 * of `value` in the whole tree (it counts towards the depth).
 */
export const scanTree = (value: unknown, at: ConfigPath = []): TreeProblem | undefined => {
  const stack: Array<readonly [unknown, ConfigPath]> = [[value, at]]
  while (stack.length > 0) {
    const [node, path] = stack.pop() as readonly [unknown, ConfigPath] // length > 0
    if (typeof node !== "object" || node === null || Redacted.isRedacted(node)) continue
    if (path.length >= MAX_CONFIG_DEPTH) {
      return {
        path: formatPath(path.slice(0, MAX_CONFIG_DEPTH)),
        message: `nested deeper than ${MAX_CONFIG_DEPTH} levels`
      }
    }
    const entries: ReadonlyArray<readonly [string, unknown]> = Array.isArray(node)
      ? node.map((v, i) => [String(i), v] as const)
      // a non-null object (checked above) that is not an array, read by key
      : Object.keys(node).map((k) => [k, (node as Record<string, unknown>)[k]] as const)
    for (const [key, child] of entries) {
      if (RESERVED_KEYS.has(key)) return { path: formatPath([...path, key]), message: `"${key}" is a reserved key` }
      stack.push([child, [...path, key]])
    }
  }
  return undefined
}

/** A fresh object without a prototype (a `__proto__` key is then an ordinary own key). */
const bare = (): { [key: string]: unknown } => Object.create(null) as { [key: string]: unknown }

/** A plain (JSON-like) object node. */
export type RawObject = { readonly [key: string]: unknown }

/** A path into a configuration tree. */
export type ConfigPath = ReadonlyArray<string>

/** True for plain objects (not arrays, not `Redacted`, not class instances such as `Date`). */
export const isRawObject = (u: unknown): u is RawObject => {
  if (!Predicate.isObject(u) || Array.isArray(u) || Redacted.isRedacted(u)) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

/** `["providers", "openai", "timeout"]` → `"providers.openai.timeout"`. */
export const formatPath = (path: ConfigPath): string => path.join(".")

/** Accepts `"a.b.c"` or `["a", "b", "c"]` (use the array form for keys that contain dots). */
export const parsePath = (input: string | ConfigPath): ConfigPath =>
  typeof input === "string" ? (input === "" ? [] : input.split(".")) : input

/** The problem with an untrusted path (not a string or an array of strings, empty segments, reserved keys). */
export const pathProblem = (input: unknown, allowEmpty: boolean): string | undefined => {
  const segments = typeof input === "string" ? (input === "" ? [] : input.split(".")) : input
  if (!Array.isArray(segments) || !segments.every((s) => typeof s === "string")) {
    return "the path must be a string such as \"providers.openai.timeout\" or an array of strings"
  }
  if (!allowEmpty && segments.length === 0) return "the path must name a field, e.g. \"providers.openai.timeout\""
  if (segments.some((s) => s === "")) return "the path has an empty segment"
  if (segments.length > MAX_CONFIG_DEPTH) return `the path is deeper than ${MAX_CONFIG_DEPTH} levels`
  const reserved = segments.find((s) => RESERVED_KEYS.has(s))
  return reserved === undefined ? undefined : `"${reserved}" is a reserved key`
}

/** The value at `path`, or `undefined`. */
export const getAt = (tree: unknown, path: ConfigPath): unknown => {
  let current: unknown = tree
  for (const key of path) {
    if (!isRawObject(current) || !Object.hasOwn(current, key)) return undefined
    current = current[key]
  }
  return current
}

/** A copy of `tree` with `value` at `path` (intermediate objects are created; non-objects on the way replaced). */
export const setAt = (tree: RawObject, path: ConfigPath, value: unknown): RawObject => {
  const [head, ...rest] = path
  if (head === undefined) return isRawObject(value) ? value : tree
  const child = Object.hasOwn(tree, head) ? tree[head] : undefined
  const out = Object.assign(bare(), tree)
  out[head] = rest.length === 0 ? value : setAt(isRawObject(child) ? child : bare(), rest, value)
  return out
}

/** A copy of `tree` without the key at `path` (empty parent objects are kept). */
export const removeAt = (tree: RawObject, path: ConfigPath): RawObject => {
  const [head, ...rest] = path
  if (head === undefined) return {}
  if (!Object.hasOwn(tree, head)) return tree
  if (rest.length === 0) {
    const others = Object.assign(bare(), tree)
    delete others[head]
    return others
  }
  const child = tree[head]
  if (!isRawObject(child)) return tree
  const out = Object.assign(bare(), tree)
  out[head] = removeAt(child, rest)
  return out
}

/** Deep-merges `higher` over `lower`; `null` in `higher` deletes the key. */
export const merge = (lower: RawObject, higher: RawObject): RawObject => {
  const out = Object.assign(bare(), lower)
  for (const [key, value] of Object.entries(higher)) {
    if (value === null) {
      delete out[key]
    } else if (value === undefined) {
      continue
    } else {
      const below = out[key]
      out[key] = isRawObject(value) && isRawObject(below) ? merge(below, value) : stripNulls(value)
    }
  }
  return out
}

/** Removes `null` deletion markers from a subtree that has nothing below it to delete. */
const stripNulls = (value: unknown): unknown => {
  if (!isRawObject(value)) return value
  const out = bare()
  for (const [key, child] of Object.entries(value)) {
    if (child !== null && child !== undefined) out[key] = stripNulls(child)
  }
  return out
}

/**
 * Deep-merges `patch` into the runtime layer `layer`, *keeping* `null` deletion markers (they must survive until
 * the final {@link mergeAll} over the lower layers).
 */
export const overlay = (layer: RawObject, patch: RawObject): RawObject => {
  const out = Object.assign(bare(), layer)
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue
    const below = out[key]
    out[key] = isRawObject(value) && isRawObject(below) ? overlay(below, value) : value
  }
  return out
}

/** Deep-merges layers, lowest first. */
export const mergeAll = (layers: ReadonlyArray<RawObject>): RawObject => layers.reduce(merge, bare())

// Redacted (by hidden value) and Duration values implement Equal; arrays are compared element by element.
const leafEquals = (a: unknown, b: unknown): boolean => {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => diffPaths(x, b[i]).length === 0)
  }
  return Object.is(a, b) || Equal.equals(a, b)
}

/** The leaf paths (dotted) at which `before` and `after` differ, sorted. Works on raw or decoded trees. */
export const diffPaths = (before: unknown, after: unknown, prefix: ConfigPath = []): Array<string> => {
  if (isRawObject(before) && isRawObject(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)])
    const out: Array<string> = []
    for (const key of [...keys].sort()) {
      const a = Object.hasOwn(before, key) ? before[key] : undefined
      const b = Object.hasOwn(after, key) ? after[key] : undefined
      out.push(...diffPaths(a, b, [...prefix, key]))
    }
    return out
  }
  if (isRawObject(before) || isRawObject(after)) {
    // an object appeared, disappeared, or replaced a scalar: report its leaves (or the node itself if empty)
    const leaves = [...diffPaths(isRawObject(before) ? before : {}, isRawObject(after) ? after : {}, prefix)]
    return leaves.length > 0 ? leaves : [formatPath(prefix)]
  }
  return leafEquals(before, after) ? [] : [formatPath(prefix)]
}
