/**
 * State operations: how an action (or a route handler) asks for the agent's state to change.
 *
 * Mirrors Jido's state-modification instructions returned alongside an action result
 * (`%Jido.Agent.StateOp.SetState{}`, `ReplaceState`, `DeleteKeys`, `SetPath`, `DeletePath`): they are data, the
 * agent's pure `cmd` applies them in order, and nothing is mutated — every operation returns a new state that
 * shares untouched branches with the old one.
 *
 * Reserved keys: a key of a plain object in a `set` patch, or one named by a path or a key list (`setPath`,
 * `deletePath`, `deleteKeys`), that is one of `RESERVED_KEYS` (`__proto__`, `constructor`, `prototype` — the list src/config
 * rejects) is refused: `apply` throws `ReservedKey` naming the path and returns nothing, and `Agent.cmd` turns
 * that into an `InvalidState` Error directive that discards the command. Assigned by key, `__proto__` would
 * re-parent the state (`{"__proto__": {"role": "admin"}}` from a parsed signal made `state.role` read `admin`
 * through the prototype, and every later merge fail); `constructor` and `prototype` reach functions through the
 * prototype chain.
 *
 * Hand-rolled: Effect has no deep-merge or path-update helpers for plain records.
 */
import { RESERVED_KEYS } from "../config/RawTree.ts"
import * as Invalid from "../internal/InvalidInput.ts"

/** A path into a state: property names and array indices. */
export type Path = ReadonlyArray<string | number>

/** Deep-merges `value` into the state (objects merge key by key; arrays and scalars are replaced). */
export interface SetState {
  readonly _tag: "SetState"
  readonly value: Readonly<Record<string, unknown>>
}
/** Replaces the whole state. */
export interface ReplaceState {
  readonly _tag: "ReplaceState"
  readonly value: unknown
}
/** Removes top-level keys. */
export interface DeleteKeys {
  readonly _tag: "DeleteKeys"
  readonly keys: ReadonlyArray<string>
}
/** Sets the value at a path, creating intermediate objects. */
export interface SetPath {
  readonly _tag: "SetPath"
  readonly path: Path
  readonly value: unknown
}
/** Removes the value at a path (nothing happens when the path does not exist). */
export interface DeletePath {
  readonly _tag: "DeletePath"
  readonly path: Path
}

/**
 * A change to an agent's state returned by an action (Jido's state ops): deep-merge, replace, delete keys, set or
 * delete a path.
 */
export type StateOp = SetState | ReplaceState | DeleteKeys | SetPath | DeletePath

/** @example `StateOp.set({ counter: { hits: 2 } })` */
export const set = (value: Readonly<Record<string, unknown>>): SetState => ({ _tag: "SetState", value })
/** Replace the whole state. */
export const replace = (value: unknown): ReplaceState => ({ _tag: "ReplaceState", value })
/** Remove top-level keys. */
export const deleteKeys = (...keys: ReadonlyArray<string>): DeleteKeys => ({ _tag: "DeleteKeys", keys })
/** @example `StateOp.setPath(["user", "name"], "Ada")` */
export const setPath = (path: Path, value: unknown): SetPath => ({ _tag: "SetPath", path, value })
/** Remove the value at a path. */
export const deletePath = (path: Path): DeletePath => ({ _tag: "DeletePath", path })

/**
 * A state operation named a reserved key (`__proto__`, `constructor` or `prototype`): thrown by `apply`,
 * `applyOne` and `deepMerge`; `path` is where (`profile.__proto__`), `key` the key.
 */
export class ReservedKey extends Error {
  readonly path: string
  readonly key: string
  constructor(path: Path) {
    const key = String(path[path.length - 1])
    super(`"${key}" is a reserved key`)
    this.name = "ReservedKey"
    this.path = Invalid.formatPath(path)
    this.key = key
  }
}

const checkKey = (key: string | number, path: Path, index: number): void => {
  if (typeof key === "string" && RESERVED_KEYS.has(key)) throw new ReservedKey(path.slice(0, index + 1))
}

const isPlainObject = (u: unknown): u is Record<string, unknown> => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

/**
 * Deep merge: plain objects merge recursively, anything else in `patch` wins (a plain object replacing a non-object
 * is copied). Throws `ReservedKey` when a key of a plain object of `patch` is reserved.
 */
export const deepMerge = (base: unknown, patch: unknown): unknown => merge(base, patch, [])

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({})

/**
 * `at` is the path of `patch` (a stack: pushed before a recursion, popped after). A plain object replacing a
 * non-object is copied key by key, so each of its keys is checked too.
 */
const merge = (base: unknown, patch: unknown, at: Array<string>): unknown => {
  if (!isPlainObject(patch)) return patch
  const from = isPlainObject(base) ? base : EMPTY
  const out: Record<string, unknown> = { ...from }
  for (const key in patch) {
    if (!Object.prototype.hasOwnProperty.call(patch, key)) continue
    if (RESERVED_KEYS.has(key)) throw new ReservedKey([...at, key])
    const value = patch[key]
    if (typeof value === "object" && value !== null) {
      at.push(key)
      out[key] = merge(from[key], value, at)
      at.pop()
    } else {
      // a primitive (or null) in the patch replaces whatever was there: no recursion needed
      out[key] = value
    }
  }
  return out
}

const setIn = (target: unknown, path: Path, index: number, value: unknown): unknown => {
  if (index === path.length) return value
  // index < path.length (checked above)
  const key = path[index] as string | number
  checkKey(key, path, index)
  if (Array.isArray(target) && typeof key === "number") {
    const copy = target.slice()
    copy[key] = setIn(target[key], path, index + 1, value)
    return copy
  }
  const base = isPlainObject(target) ? target : {}
  return { ...base, [key]: setIn(base[key], path, index + 1, value) }
}

const deleteIn = (target: unknown, path: Path, index: number): unknown => {
  // callers stop before index reaches path.length
  const key = path[index] as string | number
  checkKey(key, path, index)
  if (Array.isArray(target) && typeof key === "number") {
    if (key < 0 || key >= target.length) return target
    const copy = target.slice()
    if (index === path.length - 1) copy.splice(key, 1)
    else copy[key] = deleteIn(target[key], path, index + 1)
    return copy
  }
  if (!isPlainObject(target) || !(String(key) in target)) return target
  if (index === path.length - 1) {
    const { [String(key)]: _removed, ...rest } = target
    return rest
  }
  return { ...target, [key]: deleteIn(target[String(key)], path, index + 1) }
}

/** Applies one operation to a state (pure). Throws `ReservedKey` when the operation names a reserved key. */
export const applyOne = (state: unknown, op: StateOp): unknown => {
  switch (op._tag) {
    case "SetState":
      return deepMerge(state, op.value)
    case "ReplaceState":
      return op.value
    case "DeleteKeys": {
      for (const key of op.keys) checkKey(key, [key], 0)
      if (!isPlainObject(state)) return state
      const out = { ...state }
      for (const key of op.keys) delete out[key]
      return out
    }
    case "SetPath":
      return setIn(state, op.path, 0, op.value)
    case "DeletePath":
      return op.path.length === 0 ? state : deleteIn(state, op.path, 0)
  }
}

/** Applies operations in order (pure). Throws `ReservedKey` when an operation names a reserved key. */
export const apply = (state: unknown, ops: ReadonlyArray<StateOp>): unknown => {
  let out = state
  for (const op of ops) out = applyOne(out, op)
  return out
}
