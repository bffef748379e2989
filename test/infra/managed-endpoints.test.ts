/**
 * The managed-endpoint recipes, checked offline (no AWS, Google Cloud or Azure account is
 * reachable): their structure, the property names they use, and that the environment each gives
 * the container is one the server parses into the contract the recipe's routes expect.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { parseConfig } from '../../shared/config';
import { parseContainerSettings } from '../../shared/config/container';
import { ROOT } from '../support/processes';

const read = (...parts: string[]) => readFileSync(path.join(ROOT, ...parts), 'utf8');

// biome-ignore lint/suspicious/noExplicitAny: parsed templates, checked field by field.
type Doc = any;

describe('infra/sagemaker/endpoint.yaml (CloudFormation)', () => {
  const template: Doc = parse(read('infra', 'sagemaker', 'endpoint.yaml'));
  const resources = Object.entries(template.Resources as Record<string, Doc>);
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);

  it('declares the model(s), one endpoint config, the endpoint and per-variant autoscaling', () => {
    expect(template.AWSTemplateFormatVersion).toBe('2010-09-09');
    expect(resources.map(([, r]) => r.Type).sort()).toEqual([
      'AWS::ApplicationAutoScaling::ScalableTarget',
      'AWS::ApplicationAutoScaling::ScalableTarget',
      'AWS::ApplicationAutoScaling::ScalingPolicy',
      'AWS::ApplicationAutoScaling::ScalingPolicy',
      'AWS::SageMaker::Endpoint',
      'AWS::SageMaker::EndpointConfig',
      'AWS::SageMaker::Model',
      'AWS::SageMaker::Model',
    ]);
    // Every Ref names a parameter or a resource.
    const names = new Set([...Object.keys(template.Parameters), ...resources.map(([name]) => name)]);
    const refs = [...JSON.stringify(template).matchAll(/"Ref":"(\w+)"/g)].map((m) => m[1]);
    expect(refs.filter((ref) => !names.has(ref as string))).toEqual([]);
  });

  it('gives each model the image, its archive and an environment the server parses as SageMaker', () => {
    for (const [, model] of ofType('AWS::SageMaker::Model')) {
      const container = model.Properties.PrimaryContainer;
      expect(Object.keys(container).sort()).toEqual(['Environment', 'Image', 'Mode', 'ModelDataUrl']);
      expect(container.Mode).toBe('SingleModel');
      expect(model.Properties.ExecutionRoleArn).toEqual({ Ref: 'ExecutionRoleArn' });
      const settings = parseContainerSettings(container.Environment);
      expect(settings).toMatchObject({ platform: 'sagemaker', port: 8080, modelLocation: '/opt/ml/model' });
      const config = parseConfig({ ...container.Environment, MODEL_REPOSITORY: settings?.modelLocation });
      expect(config.platformCallerScopes).toEqual(['predict']);
      expect(config.stage).toBe('prod');
    }
  });

  it('weights the production variants, captures data and allows the preload at start-up', () => {
    const [[, config]] = ofType('AWS::SageMaker::EndpointConfig') as [[string, Doc]];
    const variants = config.Properties.ProductionVariants as Doc[];
    expect(variants.map((v) => v.VariantName)).toEqual(['primary', 'candidate']);
    const weights = variants.map((v) => template.Parameters[v.InitialVariantWeight.Ref].Default);
    expect(weights.reduce((a: number, b: number) => a + b, 0)).toBe(100);
    for (const variant of variants) {
      expect(Object.keys(variant).sort()).toEqual([
        'ContainerStartupHealthCheckTimeoutInSeconds',
        'InitialInstanceCount',
        'InitialVariantWeight',
        'InstanceType',
        'ModelDataDownloadTimeoutInSeconds',
        'ModelName',
        'VariantName',
      ]);
      expect(variant.ContainerStartupHealthCheckTimeoutInSeconds).toBeGreaterThanOrEqual(300);
      expect(template.Resources[variant.ModelName['Fn::GetAtt'][0]].Type).toBe('AWS::SageMaker::Model');
    }
    expect(config.Properties.DataCaptureConfig).toEqual({
      EnableCapture: true,
      InitialSamplingPercentage: { Ref: 'CaptureSamplingPercentage' },
      DestinationS3Uri: { Ref: 'CaptureDestinationS3Uri' },
      CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
      CaptureContentTypeHeader: { CsvContentTypes: ['text/csv'], JsonContentTypes: ['application/json'] },
    });
  });

  it('scales each variant by invocations per instance, on a target naming that variant', () => {
    const [[, config]] = ofType('AWS::SageMaker::EndpointConfig') as [[string, Doc]];
    const variantNames = config.Properties.ProductionVariants.map((v: Doc) => v.VariantName);
    const targets = ofType('AWS::ApplicationAutoScaling::ScalableTarget');
    expect(
      targets.map(
        ([, t]) =>
          /^endpoint\/\$\{Endpoint\.EndpointName\}\/variant\/(\w+)$/.exec(
            t.Properties.ResourceId['Fn::Sub'],
          )?.[1],
      ),
    ).toEqual(variantNames);
    for (const [, target] of targets) {
      expect(target.Properties).toMatchObject({
        ServiceNamespace: 'sagemaker',
        ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      });
    }
    const policies = ofType('AWS::ApplicationAutoScaling::ScalingPolicy');
    expect(policies.map(([, p]) => p.Properties.ScalingTargetId.Ref).sort()).toEqual(
      targets.map(([n]) => n).sort(),
    );
    for (const [, policy] of policies) {
      expect(policy.Properties.PolicyType).toBe('TargetTrackingScaling');
      expect(
        policy.Properties.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification,
      ).toEqual({
        PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance',
      });
    }
  });
});

describe('infra/vertex/deploy.sh', () => {
  const file = path.join(ROOT, 'infra', 'vertex', 'deploy.sh');
  const text = read('infra', 'vertex', 'deploy.sh');

  it('parses, stops on errors, and uploads then deploys with the flags gcloud documents', () => {
    expect(spawnSync('bash', ['-n', file]).status).toBe(0);
    expect(text).toMatch(/^set -euo pipefail$/m);
    const flagsOf = (command: string) => {
      const start = text.indexOf(command);
      const block = text.slice(start, text.indexOf('\n\n', start));
      return [...block.matchAll(/--([a-z-]+)/g)].map((m) => m[1]);
    };
    expect(flagsOf('gcloud ai models upload')).toEqual([
      'region',
      'display-name',
      'container-image-uri',
      'artifact-uri',
      'container-ports',
      'container-env-vars',
    ]);
    expect(flagsOf('gcloud ai endpoints deploy-model')).toEqual([
      'region',
      'model',
      'display-name',
      'machine-type',
      'min-replica-count',
      'max-replica-count',
      'autoscaling-metric-specs',
      'traffic-split',
      'service-account',
    ]);
  });

  it('gives the container an environment the server parses as the Vertex contract', () => {
    const envVars = /--container-env-vars "([^"]+)"/.exec(text)?.[1] ?? '';
    const env = Object.fromEntries(envVars.split(',').map((pair) => pair.split('=') as [string, string]));
    // What Vertex adds at run time.
    const platform = {
      AIP_HTTP_PORT: '8080',
      AIP_HEALTH_ROUTE: '/v1/endpoints/1/deployedModels/2',
      AIP_PREDICT_ROUTE: '/v1/endpoints/1/deployedModels/2:predict',
      AIP_STORAGE_URI: 'gs://vertex-copy/model',
    };
    expect(parseContainerSettings({ ...env, ...platform })).toMatchObject({
      platform: 'vertex',
      port: 8080,
      modelLocation: 'gs://vertex-copy/model',
      predictRoute: platform.AIP_PREDICT_ROUTE,
    });
    expect(text).toContain('--container-ports 8080');
    expect(parseConfig(env).platformCallerScopes).toEqual(['predict']);
  });
});

describe('infra/azureml (endpoint and deployment YAML)', () => {
  const endpoint: Doc = parse(read('infra', 'azureml', 'endpoint.yml'));
  const deployment: Doc = parse(read('infra', 'azureml', 'deployment.yml'));

  it('uses the managed online schemas, and the deployment names its endpoint', () => {
    expect(endpoint.$schema).toBe(
      'https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json',
    );
    expect(['key', 'aml_token']).toContain(endpoint.auth_mode);
    expect(deployment.$schema).toBe(
      'https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json',
    );
    expect(deployment.endpoint_name).toBe(endpoint.name);
    expect(deployment.model).toMatch(/^azureml:[\w-]+:\d+$/);
  });

  it('tells the container the same routes and port that inference_config has Azure ML call', () => {
    const env = deployment.environment_variables;
    const settings = parseContainerSettings(env);
    expect(settings).toMatchObject({ platform: 'azureml', modelLocation: deployment.model_mount_path });
    const routes = deployment.environment.inference_config;
    expect(routes).toEqual({
      liveness_route: { port: Number(env.PORT), path: settings?.liveRoute },
      readiness_route: { port: Number(env.PORT), path: settings?.readyRoute },
      scoring_route: { port: Number(env.PORT), path: settings?.predictRoute },
    });
    expect(parseConfig(env).platformCallerScopes).toEqual(['predict']);
  });

  it('gives the readiness probe time for the preload', () => {
    const probe = deployment.readiness_probe;
    expect(probe.period * probe.failure_threshold).toBeGreaterThanOrEqual(120);
    expect(deployment.liveness_probe.initial_delay).toBeGreaterThanOrEqual(
      probe.period * probe.failure_threshold,
    );
  });
});

describe('docs/containers.md: Cloud Run', () => {
  const text = read('docs', 'containers.md');
  const command = /```bash\n(gcloud run deploy[\s\S]*?)```/.exec(text)?.[1] ?? '';

  it('documents gcloud run deploy with the image, port, concurrency and minimum instances', () => {
    for (const flag of [
      '--image',
      '--port 8080',
      '--concurrency',
      '--min-instances',
      '--set-env-vars',
      '--set-secrets API_KEYS=',
    ]) {
      expect(command).toContain(flag);
    }
  });

  it('sets only variables the server reads, and they parse', () => {
    const envVars = /--set-env-vars (\S+)/.exec(command)?.[1] ?? '';
    const env = Object.fromEntries(envVars.split(',').map((pair) => pair.split('=') as [string, string]));
    expect(Object.keys(env).sort()).toEqual(['HOST', 'MODELFLEET_STAGE', 'MODEL_REPOSITORY', 'SHADOW_MODE']);
    expect(parseConfig(env)).toMatchObject({
      stage: 'prod',
      shadowMode: 'background',
      repository: env['MODEL_REPOSITORY'],
    });
    expect(parseContainerSettings({ ...env, K_SERVICE: 'modelfleet', PORT: '8080' })).toBeUndefined();
  });
});
