import { type OutputTensor, runInference } from './inference';
import type { ManifestSample } from './manifest';
import type { LoadedModel } from './model-cache';
import { parseInferRequest } from './protocol/oip';

export interface SampleCheck {
  ok: boolean;
  /** One line per difference, naming the output and element. */
  problems: string[];
  outputs: OutputTensor[];
  runMs: number;
}

/**
 * Runs a manifest's sample through the model and compares each expected output element-wise
 * within the sample's tolerance. Used at packaging, for warm-up and by smoke tests.
 */
export async function checkSample(model: LoadedModel, sample: ManifestSample): Promise<SampleCheck> {
  const call = parseInferRequest(
    { inputs: sample.inputs, outputs: sample.outputs.map((output) => ({ name: output.name })) },
    model,
    { maxTensorElements: Number.MAX_SAFE_INTEGER },
  );
  const { outputs, runMs } = await runInference(model, call);
  const problems = compareOutputs(sample.outputs, outputs, sample.tolerance);
  return { ok: problems.length === 0, problems, outputs, runMs };
}

export function compareOutputs(
  expected: readonly { name: string; shape: number[]; data: unknown[] }[],
  actual: readonly OutputTensor[],
  tolerance: number,
): string[] {
  const problems: string[] = [];
  for (const want of expected) {
    const got = actual.find((output) => output.name === want.name);
    if (got === undefined) {
      problems.push(`output "${want.name}" is missing`);
      continue;
    }
    if (want.shape.join(',') !== got.shape.join(',')) {
      problems.push(`output "${want.name}": shape [${got.shape}] differs from expected [${want.shape}]`);
      continue;
    }
    const wantData = flatten(want.data);
    const gotData = got.data ?? [];
    for (let i = 0; i < wantData.length; i++) {
      const a = Number(wantData[i]);
      const b = Number(gotData[i]);
      const close = Number.isNaN(a) ? Number.isNaN(b) : Math.abs(a - b) <= tolerance;
      if (!close) {
        problems.push(
          `output "${want.name}" element ${i}: got ${gotData[i]}, expected ${wantData[i]} (±${tolerance})`,
        );
        if (problems.length >= 10) return problems;
      }
    }
  }
  return problems;
}

function flatten(data: unknown[]): unknown[] {
  return data.some(Array.isArray) ? (data as unknown[]).flat(Number.POSITIVE_INFINITY) : data;
}
