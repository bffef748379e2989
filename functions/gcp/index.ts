/**
 * Google Cloud Functions entry point: `--target modelfleet`, signature type http. One function
 * serves the whole HTTP surface; settings come from the environment, parsed once per instance.
 */
import { http } from '@google-cloud/functions-framework';
import { createApp } from '../../shared/app';
import { parseConfig } from '../../shared/config';
import { withPreload } from '../../shared/preload';
import { cloudLoggingSink, createGcpFunction } from './handler';
import { installRawBodyMode } from './raw-body';

const config = parseConfig(process.env);
installRawBodyMode(config.exposeInternals);
http('modelfleet', createGcpFunction(withPreload(createApp({ config, metrics: cloudLoggingSink }))));
