#!/usr/bin/env node
// The `troupe` executable. Installed from the package it runs the compiled CLI (dist/cli/main.js); in a checkout of
// the repository it runs the sources directly under Node's type stripping (src/cli/main.ts), so no build is needed.
import { existsSync } from "node:fs"

const installed = import.meta.url.includes("/node_modules/")
const source = new URL("../src/cli/main.ts", import.meta.url)
await import(!installed && existsSync(source) ? source.href : new URL("../dist/cli/main.js", import.meta.url).href)
