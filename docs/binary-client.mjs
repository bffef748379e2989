// A minimal client of the OIP binary tensor extension (no dependencies, Node 20+):
//   node docs/binary-client.mjs [URL]     (KEY=<api key> on stages other than local)
// sends one iris row as raw little-endian FP32 bytes and reads the probabilities back as raw bytes.
const url = process.argv[2] ?? 'http://127.0.0.1:8080/v2/models/iris/infer';
const row = new Float32Array([5.1, 3.5, 1.4, 0.2]);
const header = Buffer.from(
  JSON.stringify({
    inputs: [
      { name: 'input', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: row.byteLength } },
    ],
    outputs: [{ name: 'probabilities', parameters: { binary_data: true } }],
  }),
);
const response = await fetch(url, {
  method: 'POST',
  headers: {
    'content-type': 'application/octet-stream',
    'inference-header-content-length': String(header.length),
    ...(process.env.KEY ? { 'x-api-key': process.env.KEY } : {}),
  },
  body: Buffer.concat([header, Buffer.from(row.buffer)]),
});
const body = Buffer.from(await response.arrayBuffer());
if (!response.ok) throw new Error(`${response.status}: ${body.toString()}`);
// The answer starts with a JSON header of this length; the outputs' bytes follow in order.
const jsonLength = Number(response.headers.get('inference-header-content-length') ?? body.length);
const { outputs } = JSON.parse(body.subarray(0, jsonLength).toString());
const [output] = outputs;
const bytes = body.subarray(jsonLength, jsonLength + output.parameters.binary_data_size);
const probabilities = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
console.log(JSON.stringify({ name: output.name, shape: output.shape, data: Array.from(probabilities) }));
