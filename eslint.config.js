/**
 * ESLint for troupe (`npm run lint`, run by `npm test`): TypeScript parsed by Babel's parser (syntax only — the
 * TypeScript 7 compiler the project uses has no JavaScript API for typescript-eslint; `tsc` does the type checks),
 * the core rules that catch real mistakes, and the project's own rules in `scripts/lint-rules.js`:
 * no `any` anywhere, and in the library, its examples and scripts a cast (`x as T`, not `as const`) carries a comment
 * saying why. Formatting is `scripts/format.ts`.
 */
import babelParser from "@babel/eslint-parser"
import troupe from "./scripts/lint-rules.js"

export default [
  { ignores: ["node_modules/**", "dist/**", "coverage/**", "docs/api/**", "bench/results.json"] },
  {
    files: ["**/*.ts", "**/*.js"],
    languageOptions: {
      parser: babelParser,
      parserOptions: {
        requireConfigFile: false,
        babelOptions: { babelrc: false, configFile: false, parserOpts: { plugins: ["typescript", "explicitResourceManagement"] } }
      }
    },
    plugins: { troupe },
    rules: {
      "troupe/no-any": "error",
      "no-debugger": "error",
      "no-dupe-keys": "error",
      "no-duplicate-case": "error",
      "no-empty-pattern": "error",
      "no-self-assign": "error",
      "no-self-compare": "error",
      "no-unreachable": "error",
      "no-unsafe-finally": "error",
      "no-unsafe-negation": "error",
      "no-sparse-arrays": "error",
      "no-cond-assign": ["error", "except-parens"],
      "no-constant-binary-expression": "error",
      "no-compare-neg-zero": "error",
      "no-dupe-else-if": "error",
      "no-loss-of-precision": "error",
      "no-var": "error",
      "prefer-const": ["error", { destructuring: "all" }],
      "eqeqeq": ["error", "always", { null: "ignore" }],
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
      "no-useless-catch": "error",
      "no-async-promise-executor": "error",
      "no-promise-executor-return": "error",
      "no-template-curly-in-string": "error",
      "no-control-regex": "error"
    }
  },
  {
    // the library and its examples: every cast says why it is sound. Tests and benchmarks are exempt: their casts
    // feed deliberately ill-typed input (fuzzing, hostile payloads) to the code under test.
    files: ["src/**/*.ts", "examples/**/*.ts", "scripts/**/*.ts"],
    rules: { "troupe/cast-needs-comment": "error" }
  }
]
