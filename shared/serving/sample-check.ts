import { parseInferRequest } from '../protocol/oip';
import type { ManifestSample } from '../repository/manifest';
import { compareOutputs } from '../tensor/compare';
import type { OutputTensor } from '../tensor/types';
import { runInference } from './inference';
import type { LoadedModel } from './loaded-model';

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

/** Runs the manifest's sample once so the first real request does not pay for ORT's first run. */
export async function warmUp(model: LoadedModel): Promise<{ ran: boolean; ok: boolean; problems: string[] }> {
  if (model.manifest.sample === undefined) return { ran: false, ok: true, problems: [] };
  const check = await checkSample(model, model.manifest.sample);
  return { ran: true, ok: check.ok, problems: check.problems };
}
