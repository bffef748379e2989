#!/usr/bin/env node
// Before an incremental build: removes what dist/ still holds for sources that were moved or
// deleted. tsc -b never deletes outputs, and a stale dist/shared/config.js would shadow the
// dist/shared/config/index.js that replaced it (Node resolves the file before the folder).
const { existsSync, readdirSync, rmSync } = require('node:fs');
const path = require('node:path');

// The project root: this checkout, or the folder given (tests).
const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..'));
const dist = path.join(root, 'dist');
const OUTPUT = /\.(js|js\.map|d\.ts|d\.ts\.map)$/;
let removed = 0;

function prune(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      prune(full);
      if (readdirSync(full).length === 0) rmSync(full, { recursive: true });
    } else if (OUTPUT.test(entry.name)) {
      const source = path.join(root, path.relative(dist, full)).replace(OUTPUT, '');
      if (!existsSync(`${source}.ts`) && !existsSync(`${source}.js`) && !existsSync(`${source}.cjs`)) {
        rmSync(full);
        removed++;
      }
    }
  }
}

for (const top of ['shared', 'functions', 'scripts']) {
  if (existsSync(path.join(dist, top))) prune(path.join(dist, top));
}
if (removed > 0) process.stderr.write(`prune-dist: removed ${removed} outputs of deleted sources\n`);
