#!/usr/bin/env node
// The `bursar` command (package.json "bin"): Bursar runs from its TypeScript sources, so
// register tsx (a runtime dependency) in this process, then hand over to src/cli.ts.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli.ts');
await runCli(process.argv.slice(2));
