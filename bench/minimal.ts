/**
 * The hand-written baseline every comparison uses: what a developer writes in ten lines (the
 * parsed OIP request straight into tensors, run, outputs out), with no validation, routing or
 * metrics. The servers and the in-process handler wrap this same function.
 */
import * as ort from 'onnxruntime-node';

export interface MinimalRequest {
  inputs: { name: string; shape: number[]; data: number[] }[];
}

export async function minimalPredict(
  session: ort.InferenceSession,
  request: MinimalRequest,
): Promise<string> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of request.inputs) {
    feeds[input.name] = new ort.Tensor('float32', Float32Array.from(input.data), input.shape);
  }
  const results = await session.run(feeds);
  const outputs = Object.entries(results).map(([name, tensor]) => ({
    name,
    datatype: 'FP32',
    shape: tensor.dims,
    data: Array.from(tensor.data as Float32Array),
  }));
  return JSON.stringify({ outputs });
}
