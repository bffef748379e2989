/**
 * Writes three "retrained" iris classifiers (the bundled weights with other biases) into a folder,
 * as versions 2-4 for the CLI walk-through (docs/quickstart.sh): distinct artifacts, so that
 * publish accepts them, and outputs that differ on some rows, so that shadow comparisons show it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { IRIS_BIAS, irisModel } from './lib/sample-models';

const RETRAINED_BIAS_SHIFTS = [
  [0, 0.4, -0.4],
  [0.2, 0.8, -1],
  [-0.3, 1.2, -0.9],
];

const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: node dist/scripts/make-demo-models.js DIR\n');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
RETRAINED_BIAS_SHIFTS.forEach((shift, i) => {
  const bias = IRIS_BIAS.map((b, k) => b + (shift[k] ?? 0));
  const file = path.join(dir, `iris-v${i + 2}.onnx`);
  writeFileSync(file, irisModel(bias));
  process.stdout.write(`${file}\n`);
});
