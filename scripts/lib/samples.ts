import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packageModel } from '../../shared/control/packaging';
import { promote } from '../../shared/repository/deployment';
import type { ModelRepository } from '../../shared/repository/repository';
import { projectRoot } from './paths';

export const SAMPLES_DIR = path.join(projectRoot(), 'samples');

/** Where a new repository's samples are deployed: the local server's stage and the packaging demo's. */
export const SAMPLE_STAGES = ['local', 'dev'] as const;

interface SampleMeta {
  name: string;
  description?: string;
  features?: string[];
}

/**
 * Publishes each bundled sample that the repository does not hold yet and deploys it on each of
 * `stages`, so a fresh `npm start` (and `sls invoke local`, whose default stage is dev) serves
 * something. Returns the names it published.
 */
export async function publishMissingSamples(
  repository: ModelRepository,
  stages: readonly string[],
  dir = SAMPLES_DIR,
): Promise<string[]> {
  const published: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const sampleDir = path.join(dir, entry.name);
    const meta = JSON.parse(readFileSync(path.join(sampleDir, 'meta.json'), 'utf8')) as SampleMeta;
    if ((await repository.listVersions(meta.name)).length > 0) continue;
    const pkg = await packageModel({
      name: meta.name,
      artifact: readFileSync(path.join(sampleDir, 'model.onnx')),
      ...(meta.description === undefined ? {} : { description: meta.description }),
      ...(meta.features === undefined ? {} : { features: meta.features }),
      sample: JSON.parse(readFileSync(path.join(sampleDir, 'sample.json'), 'utf8')),
      source: { sample: `samples/${entry.name}` },
    });
    const version = await repository.publish(pkg);
    for (const stage of new Set(stages)) {
      await repository.updateDeployment(meta.name, stage, (current) =>
        promote(current, { model: meta.name, stage, version }, new Date(), 'samples'),
      );
    }
    published.push(meta.name);
  }
  return published;
}
