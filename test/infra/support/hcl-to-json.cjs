// Parses the .tf files named on the command line with @cdktf/hcl2json and prints
// {file: parsed} as JSON. In a process of its own because the parser is a Go WASM program whose
// runtime never stops: inside a jest worker it kept the worker from exiting.
const { readFileSync } = require('node:fs');
const path = require('node:path');
const { parse } = require('@cdktf/hcl2json');

(async () => {
  const out = {};
  for (const file of process.argv.slice(2))
    out[path.basename(file)] = await parse(path.basename(file), readFileSync(file, 'utf8'));
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
})().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
