#!/usr/bin/env node
// Harness CLI (being built): install | up | down | status.
const cmd = process.argv[2] ?? 'status';
console.log(`harness: ${cmd}: no services are managed yet`);
