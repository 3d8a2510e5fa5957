import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import fc from "fast-check"
import { PermissionDenied, Rbac } from "../../src/identity/index.ts"
import { failureOf } from "./support.ts"

const as = (...roles: Array<string>) => Effect.provideService(Rbac.Subject, { id: "u1", roles })

describe("Rbac", () => {
  it.effect("the four built-in roles of the plan grant their permissions", () =>
    Effect.gen(function*() {
      const rbac = yield* Rbac
      const P = Rbac.Permissions
      assert.isTrue(rbac.can(["admin"], P.manageUsers))
      assert.isTrue(rbac.can(["admin"], P.exportData))
      assert.isTrue(rbac.can(["admin"], P.eraseData))
      for (const role of ["viewer", "api_user", "user"]) assert.isFalse(rbac.can([role], P.eraseData))
      assert.isTrue(rbac.can(["user"], P.useAgent("chat")))
      assert.isTrue(rbac.can(["user"], P.viewMetrics))
      assert.isTrue(rbac.can(["user"], P.deleteDocuments))
      assert.isFalse(rbac.can(["user"], P.manageUsers))
      assert.isTrue(rbac.can(["viewer"], P.viewMetrics))
      assert.isFalse(rbac.can(["viewer"], P.useAgent("chat")))
      assert.isTrue(rbac.can(["api_user"], P.useAgent("rag")))
      assert.isFalse(rbac.can(["api_user"], P.viewMetrics))
      assert.isFalse(rbac.can(["nobody"], P.viewMetrics)) // an unknown role grants nothing
      assert.isFalse(rbac.can([], P.viewMetrics))
    }).pipe(Effect.provide(Rbac.layer())))

  it.effect("require is an Effect guard: it fails PermissionDenied naming the permission and the roles", () =>
    Effect.gen(function*() {
      yield* Rbac.require("metrics:view").pipe(as("viewer"))
      const exit = yield* Effect.exit(Rbac.require("users:manage").pipe(as("viewer", "api_user")))
      const error = failureOf(exit)
      assert.instanceOf(error, PermissionDenied)
      assert.deepStrictEqual({ ...(error as PermissionDenied) }, {
        _tag: "PermissionDenied",
        permission: "users:manage",
        roles: ["viewer", "api_user"]
      })
    }).pipe(Effect.provide(Rbac.layer())))

  it.effect("roles and permissions are data: custom definitions with inheritance load from plain JSON", () =>
    Effect.gen(function*() {
      const rbac = yield* Rbac
      assert.isTrue(rbac.can(["trainer"], "training:manage"))
      assert.isTrue(rbac.can(["trainer"], "agent:use:fine-tune"))
      assert.isFalse(rbac.can(["trainer"], "agent:use:chat"))
      assert.isTrue(rbac.can(["lead"], "agent:use:fine-tune")) // transitively
      assert.deepStrictEqual([...rbac.grantsOf(["lead"])].sort(), [
        "agent:use:fine-tune",
        "data:export",
        "training:manage"
      ])
    }).pipe(Effect.provide(Rbac.layer(JSON.parse(JSON.stringify({
      trainer: { permissions: ["training:manage", "agent:use:fine-tune"] },
      lead: { permissions: ["data:export"], inherits: ["trainer"] }
    }))))))

  it.effect("a bad definition, an unknown parent or a cycle fails InvalidIdentityInput naming the path", () =>
    Effect.gen(function*() {
      const bad = failureOf(yield* Effect.exit(Rbac.make({ r: { permissions: ["Has Space"] } }))) as { path: string }
      assert.strictEqual(bad.path, "roles.r.permissions[0]")
      const parent = failureOf(yield* Effect.exit(Rbac.make({ r: { permissions: [], inherits: ["ghost"] } }))) as {
        path: string
        message: string
      }
      assert.strictEqual(parent.path, "roles.r.inherits")
      assert.include(parent.message, "unknown role ghost")
      const cycle = failureOf(
        yield* Effect.exit(
          Rbac.make({ a: { permissions: [], inherits: ["b"] }, b: { permissions: [], inherits: ["a"] } })
        )
      )
      assert.include((cycle as { message: string }).message, "cycle")
    }))

  it.effect("an unknown parent fails InvalidIdentityInput naming the path, also when it is named like an Object.prototype member", () =>
    Effect.gen(function*() {
      for (const ghost of ["constructor", "__proto__", "hasownproperty", "tostring"]) {
        const exit = yield* Effect.exit(Rbac.make({ r: { permissions: ["metrics:view"], inherits: [ghost] } }))
        const error = failureOf(exit) as { _tag: string; path: string; message: string }
        assert.deepInclude(error, { _tag: "InvalidIdentityInput", path: "roles.r.inherits" })
        assert.include(error.message, `unknown role ${ghost}`)
      }
    }))

  it.effect("fuzz: random role definitions either load or fail with a typed InvalidIdentityInput", () =>
    Effect.gen(function*() {
      const samples = fc.sample(
        fc.oneof(
          fc.anything(),
          fc.dictionary(fc.string(), fc.record({ permissions: fc.array(fc.string()), inherits: fc.array(fc.string()) }))
        ),
        { numRuns: 200, seed: 7 }
      )
      for (const sample of samples) {
        const exit = yield* Effect.exit(Rbac.make(sample))
        if (Exit.isFailure(exit)) assert.strictEqual((failureOf(exit) as { _tag: string })._tag, "InvalidIdentityInput")
      }
    }))
})
