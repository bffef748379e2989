import { parseContainerSettings } from '../../shared/config/container';

describe("parseContainerSettings (SERVING_CONTRACT and the platforms' variables)", () => {
  it('is off unless a platform is named or its variables are set', () => {
    expect(parseContainerSettings({})).toBeUndefined();
    expect(parseContainerSettings({ SERVING_CONTRACT: 'none', AIP_HTTP_PORT: '8080' })).toBeUndefined();
  });

  it("takes SageMaker's fixed mount and port 8080 unless SAGEMAKER_BIND_TO_PORT or SM_MODEL_DIR say otherwise", () => {
    expect(parseContainerSettings({ SERVING_CONTRACT: 'sagemaker' })).toMatchObject({
      platform: 'sagemaker',
      port: 8080,
      modelLocation: '/opt/ml/model',
      liveRoute: '/ping',
      predictRoute: '/invocations',
    });
    expect(
      parseContainerSettings({ SAGEMAKER_BIND_TO_PORT: '9000', SM_MODEL_DIR: '/mnt/model' }),
    ).toMatchObject({
      platform: 'sagemaker',
      port: 9000,
      modelLocation: '/mnt/model',
      modelVariable: 'SM_MODEL_DIR',
    });
  });

  it('detects Vertex AI from AIP_HTTP_PORT and takes its routes and storage URI', () => {
    const settings = parseContainerSettings({
      AIP_HTTP_PORT: '7080',
      AIP_HEALTH_ROUTE: '/v1/endpoints/1/deployedModels/2',
      AIP_PREDICT_ROUTE: '/v1/endpoints/1/deployedModels/2:predict',
      AIP_STORAGE_URI: 'gs://bucket/model',
    });
    expect(settings).toMatchObject({
      platform: 'vertex',
      port: 7080,
      modelLocation: 'gs://bucket/model',
      readyRoute: '/v1/endpoints/1/deployedModels/2',
      predictRoute: '/v1/endpoints/1/deployedModels/2:predict',
    });
  });

  it('detects Azure ML from AZUREML_MODEL_DIR, with the routes the recipe configures', () => {
    expect(
      parseContainerSettings({ AZUREML_MODEL_DIR: '/var/azureml-app/azureml-models/iris/1' }),
    ).toMatchObject({
      platform: 'azureml',
      modelLocation: '/var/azureml-app/azureml-models/iris/1',
      liveRoute: '/live',
      readyRoute: '/ready',
      predictRoute: '/score',
    });
    expect(
      parseContainerSettings({ AZUREML_MODEL_DIR: '/m', SCORING_ROUTE: '/v1/score', SERVED_MODEL: 'iris' }),
    ).toMatchObject({ predictRoute: '/v1/score', servedModel: 'iris' });
  });

  it('leaves the port to PORT on Azure ML (the deployment names it in inference_config)', () => {
    expect(parseContainerSettings({ AZUREML_MODEL_DIR: '/m' })?.port).toBeUndefined();
  });

  it('lets MODEL_REPOSITORY name the models instead of the mount', () => {
    expect(
      parseContainerSettings({ SERVING_CONTRACT: 'sagemaker', MODEL_REPOSITORY: 's3://bucket/repo' }),
    ).toMatchObject({ modelLocation: 's3://bucket/repo', modelVariable: 'MODEL_REPOSITORY' });
  });

  it('fails fast naming the variable', () => {
    const cases: [Record<string, string>, string][] = [
      [
        { SERVING_CONTRACT: 'kserve' },
        'SERVING_CONTRACT: must be one of auto, none, sagemaker, vertex, azureml, got "kserve"',
      ],
      [
        { SERVING_CONTRACT: 'sagemaker', SAGEMAKER_BIND_TO_PORT: 'http' },
        'SAGEMAKER_BIND_TO_PORT: expected an integer, got "http"',
      ],
      [{ AIP_HTTP_PORT: '8080', AIP_HEALTH_ROUTE: '/h', AIP_PREDICT_ROUTE: '/p' }, 'AIP_STORAGE_URI: '],
      [{ AIP_HTTP_PORT: '8080', AIP_STORAGE_URI: 'gs://b/m', AIP_PREDICT_ROUTE: '/p' }, 'AIP_HEALTH_ROUTE: '],
      [
        { AZUREML_MODEL_DIR: '/m', SCORING_ROUTE: 'score' },
        'SCORING_ROUTE: expected a path starting with /, got "score"',
      ],
    ];
    for (const [env, message] of cases) {
      expect(() => parseContainerSettings(env)).toThrow(message);
    }
  });
});
