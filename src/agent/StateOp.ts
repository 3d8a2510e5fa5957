/**
 * State operations: how an action (or a route handler) asks for the agent's state to change.
 *
 * Mirrors Jido's state-modification instructions returned alongside an action result
 * (`%Jido.Agent.StateOp.SetState{}`, `ReplaceState`, `DeleteKeys`, `SetPath`, `DeletePath`): they are data, the
 * agent's pure `cmd` applies them in order, and nothing is mutated — every operation returns a new state that
 * shares untouched branches with the old one.
 *
 * Hand-rolled: Effect has no deep-merge or path-update helpers for plain records.
 */

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

const isPlainObject = (u: unknown): u is Record<string, unknown> => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

/** Deep merge: plain objects merge recursively, anything else in `patch` wins. */
export const deepMerge = (base: unknown, patch: unknown): unknown => {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch
  const out: Record<string, unknown> = { ...base }
  for (const key in patch) {
    if (!Object.prototype.hasOwnProperty.call(patch, key)) continue
    const value = patch[key]
    // a primitive (or null) in the patch replaces whatever was there: no recursion needed
    out[key] = typeof value === "object" && value !== null ? deepMerge(base[key], value) : value
  }
  return out
}

const setIn = (target: unknown, path: Path, index: number, value: unknown): unknown => {
  if (index === path.length) return value
  // index < path.length (checked above)
  const key = path[index] as string | number
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

/** Applies one operation to a state (pure). */
export const applyOne = (state: unknown, op: StateOp): unknown => {
  switch (op._tag) {
    case "SetState":
      return deepMerge(state, op.value)
    case "ReplaceState":
      return op.value
    case "DeleteKeys": {
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

/** Applies operations in order (pure). */
export const apply = (state: unknown, ops: ReadonlyArray<StateOp>): unknown => {
  let out = state
  for (const op of ops) out = applyOne(out, op)
  return out
}
