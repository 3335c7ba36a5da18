#!/usr/bin/env node
// The installed entry point: everything lives in the compiled CLI (npm ci builds it via `prepare`).
import { main } from '../dist/cli/main.js';

await main(process.argv);
