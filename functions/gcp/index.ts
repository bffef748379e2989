/**
 * Google Cloud Functions entry point: `--target modelfleet`, signature type http. One function
 * serves the whole HTTP surface; settings come from the environment, parsed once per instance.
 * The function is registered at once and waits for the cold start (shared/boot.ts), which reads
 * the store while the modules load.
 */
import { http } from '@google-cloud/functions-framework';
import { startServing } from '../../shared/boot';
import { cloudLoggingSink, createGcpFunction } from './handler';
import { installRawBodyMode } from './raw-body';

const { config, ready } = startServing(process.env, (serve) => createGcpFunction(serve(cloudLoggingSink)));
installRawBodyMode(config.exposeInternals);
http('modelfleet', async (request, response) => (await ready)(request, response));
