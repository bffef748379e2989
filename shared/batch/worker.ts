/**
 * The cloud side of a batch job, one call per platform event, over the same steps as the CLI:
 * `plan` (a Step Functions state, or a workflow step), `chunk` (one Distributed Map iteration,
 * the CLI's chunk worker), `finish`, and `whole` (the object-created trigger for small inputs: the
 * whole job in one invocation). The adapters in functions/<cloud>/batch.ts only translate events.
 */
import { BadRequestError } from '../errors';
import type { Manifest } from '../repository/manifest';
import { ModelRepository } from '../repository/repository';
import { type ModelStore, openStore, type StoreSettings } from '../store';
import { processChunk } from './chunk';
import {
  type BatchJob,
  type BatchSummary,
  type ChunkMarker,
  formatOfName,
  JOB_KEY,
  PLAN_KEY,
  parseJob,
} from './job';
import { storeSource } from './lines';
import {
  batchTarget,
  chunksOf,
  completedChunks,
  describeInput,
  finishJob,
  loadBatchModel,
  runBatch,
  startJob,
} from './run';

export interface BatchWorkerSettings {
  repository: string;
  store: StoreSettings;
  /** Where outputs go: `<outputRoot>/<input name without extension>/`. */
  outputRoot: string;
  model: string;
  stage: string;
  /** Score with this version instead of the stage's primary. */
  version?: number;
  chunkBytes: number;
  /** Inputs smaller than this are scored whole by one invocation (`whole`), larger ones fanned out. */
  smallObjectBytes: number;
  batchRows?: number;
  maxTensorElements: number;
  verifyManifest?: (manifest: Manifest) => void;
}

export interface PlannedJob {
  /** Output location (store URL) of the job; the map items carry it. */
  out: string;
  /** The plan's own location, for a map that reads its items from the store. */
  plan: string;
  chunks: number;
  resumed: boolean;
}

export class BatchWorker {
  private readonly repository: ModelRepository;
  private loaded: Promise<Awaited<ReturnType<typeof loadBatchModel>>> | undefined;
  private loadedKey: string | undefined;

  constructor(private readonly settings: BatchWorkerSettings) {
    this.repository = new ModelRepository(openStore(settings.repository, settings.store));
  }

  get smallObjectBytes(): number {
    return this.settings.smallObjectBytes;
  }

  /** Output location of an input object (`<folder URL>`, `<key>`): one folder per input name. */
  outputOf(key: string): string {
    const name =
      key
        .split('/')
        .pop()
        ?.replace(/\.[^.]*$/, '') ?? key;
    return `${this.settings.outputRoot.replace(/\/+$/, '')}/${name}`;
  }

  async plan(folder: string, key: string): Promise<PlannedJob> {
    const out = this.outputOf(key);
    const output = this.open(out);
    const { job, resumed } = await startJob(output, await this.request(folder, key));
    return { out, plan: `${out}/${PLAN_KEY}`, chunks: job.chunks, resumed };
  }

  async chunk(out: string, index: number): Promise<ChunkMarker> {
    const output = this.open(out);
    const job = await readJob(output);
    const chunk = chunksOf(job)[index];
    if (chunk === undefined)
      throw new BadRequestError(`${out}: the job has ${job.chunks} chunks, not ${index + 1}`);
    return processChunk(chunk, {
      job,
      source: storeSource(this.open(job.input.location), job.input.key),
      output,
      model: await this.model(job),
      limits: { maxTensorElements: this.settings.maxTensorElements },
      ...(this.settings.batchRows === undefined ? {} : { batchRows: this.settings.batchRows }),
    });
  }

  /**
   * For fan-outs without a join step (a queue per chunk): the chunk, then the finish when every
   * chunk's marker is there. Two last chunks may both finish; finishing is idempotent.
   */
  async chunkThenFinish(out: string, index: number): Promise<BatchSummary | undefined> {
    await this.chunk(out, index);
    const output = this.open(out);
    const job = await readJob(output);
    const done = await completedChunks(output);
    return done.size >= job.chunks ? finishJob(output, job, new Date()) : undefined;
  }

  async finish(out: string): Promise<BatchSummary> {
    const output = this.open(out);
    return finishJob(output, await readJob(output), new Date());
  }

  /** The whole job in this invocation (small inputs); resumes what an earlier attempt did. */
  async whole(folder: string, key: string): Promise<BatchSummary> {
    const output = this.open(this.outputOf(key));
    const source = storeSource(this.open(folder), key);
    const result = await runBatch({
      ...(await this.request(folder, key)),
      source,
      output,
      load: (job) => this.model(job),
      limits: { maxTensorElements: this.settings.maxTensorElements },
      ...(this.settings.batchRows === undefined ? {} : { batchRows: this.settings.batchRows }),
    });
    return result.summary;
  }

  private async request(folder: string, key: string) {
    const format = formatOfName(key);
    if (format === undefined) throw new BadRequestError(`${key}: expected a .csv, .jsonl or .parquet object`);
    const source = storeSource(this.open(folder), key);
    const { model, stage, version } = this.settings;
    return {
      input: await describeInput(source, folder, key, format),
      model,
      stage,
      chunkBytes: this.settings.chunkBytes,
      target: () => batchTarget(this.repository, model, stage, version),
      now: new Date(),
    };
  }

  /** One loaded version per warm instance: the map's iterations of a job share it. */
  private model(job: BatchJob) {
    const key = `${job.model}@${job.version}`;
    if (this.loaded === undefined || this.loadedKey !== key) {
      this.loadedKey = key;
      this.loaded = loadBatchModel(this.repository, job.model, job.version, this.settings.verifyManifest);
      this.loaded.catch(() => {
        if (this.loadedKey === key) this.loaded = undefined;
      });
    }
    return this.loaded;
  }

  private open(location: string): ModelStore {
    return openStore(location, this.settings.store, 'batch location');
  }
}

async function readJob(output: ModelStore): Promise<BatchJob> {
  const read = await output.get(JOB_KEY);
  if (read.status !== 'ok')
    throw new BadRequestError(`${output.url}: no batch job here (${JOB_KEY} is missing)`);
  return parseJob(read.body.toString('utf8'), `${output.url}/${JOB_KEY}`);
}
