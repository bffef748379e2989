import { parseInferRequest } from '../protocol/oip';
import type { ManifestSample } from '../repository/manifest';
import { compareOutputs } from '../tensor/compare';
import { type OutputTensor, runInference } from './inference';
import type { LoadedModel } from './model-cache';

// Kept apart so that code without onnxruntime (the pre-traffic hook) can compare outputs too.
export { compareOutputs } from '../tensor/compare';

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
