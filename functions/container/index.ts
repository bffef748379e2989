import type { App } from '../../shared/app';
import type { Config } from '../../shared/config';
import type { ContainerSettings } from '../../shared/config/container';
import { openModelMount } from '../../shared/repository/model-mount';
import { FsModelStore, type ModelStore, openStore } from '../../shared/store';
import { azuremlContract } from './azureml';
import { type ContainerContract, withContract } from './contract';
import { sagemakerContract } from './sagemaker';
import { vertexContract } from './vertex';

/**
 * The store a managed endpoint's container serves: the platform's mount (a package or a small
 * repository, shared/repository/model-mount.ts) through the driver its URL names.
 */
export async function openContainerStore(settings: ContainerSettings, config: Config): Promise<ModelStore> {
  const store = openStore(settings.modelLocation, config.store, settings.modelVariable);
  if (store instanceof FsModelStore) store.requireFolder(settings.modelVariable);
  return openModelMount(store, settings.fallbackModelName);
}

/** The core app behind the platform's routes; the models are those the mount holds. */
export async function containerApp(core: App, settings: ContainerSettings): Promise<App> {
  const context = { settings, models: await core.repository.listModels() };
  const contracts: Record<ContainerSettings['platform'], () => ContainerContract> = {
    sagemaker: () => sagemakerContract(context),
    vertex: () => vertexContract(context),
    azureml: () => azuremlContract(context, core.config),
  };
  return withContract(core, contracts[settings.platform]());
}
