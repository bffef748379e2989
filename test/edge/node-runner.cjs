// Runs modelfleet-edge's Node bundle in a plain Node process (as on a device without
// onnxruntime-node): `node node-runner.cjs <jobs.json>`; prints one JSON array of results.
// Each job: { load: LoadOptions, request?: OIP body or JSON text }.
const { readFileSync } = require('node:fs');

async function main() {
  const { module, jobs } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const edge = require(module);
  const loaded = new Map();
  const results = [];
  for (const job of jobs) {
    const key = JSON.stringify(job.load);
    try {
      if (!loaded.has(key)) loaded.set(key, edge.load(job.load));
      const model = await loaded.get(key);
      const info = {
        name: model.name,
        version: model.version,
        variant: model.variant,
        verification: model.verification,
      };
      const response = job.request === undefined ? undefined : await model.infer(job.request);
      results.push({ ok: true, info, response });
    } catch (err) {
      results.push({ ok: false, error: { name: err.name, message: err.message, status: err.status } });
    }
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((err) => {
  process.stderr.write(String(err?.stack));
  process.exit(1);
});
