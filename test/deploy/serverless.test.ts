// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub placeholders, not JavaScript templates
import { mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../shared/config';
import type { FsModelStore } from '../../shared/store/fs-store';
import { freePort } from '../support/emulators';
import { removeTempDirs, sampleRepository, tempDir } from '../support/fixtures';
import { ROOT, runToEnd } from '../support/processes';
import { BATCH_FUNCTIONS, type BatchFunction, runPackagedBatch } from './packaged-batch';

// Every sls command uses serverless-esbuild's .esbuild/ work folder in the checkout, so all of them
// live in this one file and run one after the other. Add new sls runs here, not in another file.
jest.setTimeout(180_000);
afterAll(removeTempDirs);

/** No AWS account: dummy credentials are never used by package or invoke local. */
const SLS_ENV = {
  SLS_TELEMETRY_DISABLED: '1',
  AWS_ACCESS_KEY_ID: 'dummy-for-offline-use',
  AWS_SECRET_ACCESS_KEY: 'dummy-for-offline-use',
  ONNXRUNTIME_NODE_INSTALL: 'skip',
};

/** `METHOD /path` of each API Gateway method, the path rebuilt from the resource tree. */
function routesOf(resources: Record<string, CfnResource>): string[] {
  const pathOf = (ref: unknown): string => {
    const id = (ref as { Ref?: string } | undefined)?.Ref;
    const resource = id === undefined ? undefined : resources[id];
    if (resource === undefined) return '';
    return `${pathOf(resource.Properties.ParentId)}/${String(resource.Properties.PathPart)}`;
  };
  return Object.values(resources)
    .filter((resource) => resource.Type === 'AWS::ApiGateway::Method')
    .map(
      (method) => `${String(method.Properties.HttpMethod)} ${pathOf(method.Properties.ResourceId) || '/'}`,
    );
}

describe('serverless (osls) without a cloud account', () => {
  it('sls invoke local returns a prediction from a local repository', async () => {
    const repository = await sampleRepository();
    const { code, stdout, stderr } = await runToEnd(
      'npx',
      ['sls', 'invoke', 'local', '-f', 'infer', '--path', 'test/events/http-api-v2-infer.json'],
      { ...SLS_ENV, MODEL_REPOSITORY: repository.store.url },
    );
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const result = JSON.parse(stdout.slice(stdout.indexOf('\n{') + 1));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toMatchObject({
      model_name: 'iris',
      outputs: [
        { name: 'probabilities', shape: [1, 3] },
        { name: 'label', data: [0] },
      ],
    });
  });

  it('sls invoke local ends, naming the variable, when the handler cannot start', async () => {
    const repository = await sampleRepository();
    // Before skipRebuild, esbuild's service process outlived the failed invoke and sls hung.
    const { code, stdout, stderr } = await runToEnd(
      'npx',
      [
        ...['sls', 'invoke', 'local', '-f', 'infer', '--path', 'test/events/http-api-v2-infer.json'],
        // -e: serverless.yml's own environment would override a plain variable of this process.
        ...['-e', 'MAX_BODY_BYTES=lots'],
      ],
      { ...SLS_ENV, MODEL_REPOSITORY: repository.store.url },
    );
    expect(code).not.toBe(0);
    expect(stdout + stderr).toContain('MAX_BODY_BYTES: expected an integer, got "lots"');
  });

  it('sls package --stage dev builds an inference zip under 30 MB with only linux-x64 onnxruntime', async () => {
    const out = tempDir('modelfleet-sls-');
    const { code, stdout, stderr } = await runToEnd(
      'npx',
      [
        'sls',
        'package',
        '--stage',
        'dev',
        '--package',
        out,
        // CORS on here (off in prod below): both settings reach the template in one run.
        '--param=cors=allow',
        '--param=corsOrigin=https://app.example.com',
      ],
      SLS_ENV,
    );
    expect({ code, output: code === 0 ? '' : stdout + stderr }).toEqual({ code: 0, output: '' });
    const zip = path.join(out, 'infer.zip');
    expect(statSync(zip).size).toBeLessThan(30 * 1024 * 1024);
    const listing = await runToEnd('unzip', ['-l', zip], {});
    expect(listing.stdout).toContain(
      'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
    );
    expect(listing.stdout).toContain('functions/aws/index.js');
    expect(listing.stdout).not.toMatch(/napi-v6\/(darwin|win32|linux\/arm64)/);
    // dev: all at once (the hook still runs), no provisioned concurrency, no bucket, no S3 access.
    const dev = JSON.parse(readFileSync(path.join(out, 'cloudformation-template-update-stack.json'), 'utf8'));
    const types = Object.values(dev.Resources as Record<string, { Type: string }>).map((r) => r.Type);
    expect(
      JSON.stringify(dev.Resources.InferLambdaFunctionDeploymentGroup.Properties.DeploymentConfigName),
    ).toContain('AllAtOnce');
    expect(
      dev.Resources.InferLambdaFunctionAliaslive.UpdatePolicy.CodeDeployLambdaAliasUpdate,
    ).toHaveProperty('BeforeAllowTrafficHook');
    expect(types).not.toContain('AWS::ApplicationAutoScaling::ScalableTarget');
    expect(dev.Resources.ModelsBucket).toBeUndefined();
    expect(JSON.stringify(dev.Resources.InferExecutionRole)).not.toContain('s3:');
    expect(
      dev.Resources.InferLambdaFunctionAliaslive.Properties.ProvisionedConcurrencyConfig,
    ).toBeUndefined();
    // The CORS setting reaches the core under the name it reads, and the core accepts it.
    const variables = dev.Resources.InferLambdaFunction.Properties.Environment.Variables;
    expect(variables).toMatchObject({ CORS_ORIGINS: 'https://app.example.com' });
    expect(variables).not.toHaveProperty('CORS_ALLOW_ORIGIN');
    expect(
      parseConfig({ MODELFLEET_STAGE: 'dev', CORS_ORIGINS: variables.CORS_ORIGINS }).corsOrigins,
    ).toEqual(['https://app.example.com']);
    expect(routesOf(dev.Resources)).toEqual(
      expect.arrayContaining([
        'ANY /v2/{proxy+}',
        'GET /v2',
        'POST /invocations',
        'ANY /v1/{proxy+}',
        'OPTIONS /invocations',
        'OPTIONS /v1/{proxy+}',
      ]),
    );
  });

  describe('sls package --stage prod', () => {
    let out: string;
    let resources: Record<string, CfnResource>;
    const metrics = JSON.parse(
      readFileSync(path.join(__dirname, '..', '..', 'infra', 'aws', 'metrics.json'), 'utf8'),
    ) as { namespace: string; metrics: Record<string, { name: string }> };
    const ofType = (type: string) =>
      Object.entries(resources).filter(([, resource]) => resource.Type === type);
    const one = (type: string): [string, CfnResource] => {
      const found = ofType(type);
      expect(found.map(([id]) => id)).toHaveLength(1);
      return found[0] as [string, CfnResource];
    };
    const statementsOf = (roleId: string) =>
      (
        (resources[roleId]?.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]
      ).flatMap((policy) => policy.PolicyDocument.Statement);

    beforeAll(async () => {
      out = tempDir('modelfleet-sls-prod-');
      const { code, stdout, stderr } = await runToEnd(
        'npx',
        ['sls', 'package', '--stage', 'prod', '--package', out],
        SLS_ENV,
      );
      expect({ code, output: code === 0 ? '' : stdout + stderr }).toEqual({ code: 0, output: '' });
      expect(stdout + stderr).toMatch(/infer\.zip: [\d.]+ MB zipped, [\d.]+ MB unpacked/);
      const template = JSON.parse(
        readFileSync(path.join(out, 'cloudformation-template-update-stack.json'), 'utf8'),
      );
      resources = template.Resources;
    });

    it('shifts traffic through a `live` alias with a canary CodeDeploy deployment group', () => {
      const [aliasId, alias] = one('AWS::Lambda::Alias');
      expect(alias.Properties).toMatchObject({ Name: 'live', FunctionName: { Ref: 'InferLambdaFunction' } });
      const [groupId, group] = one('AWS::CodeDeploy::DeploymentGroup');
      expect(alias.UpdatePolicy?.CodeDeployLambdaAliasUpdate).toMatchObject({
        DeploymentGroupName: { Ref: groupId },
        BeforeAllowTrafficHook: { Ref: 'PreTrafficHookLambdaFunction' },
      });
      expect(JSON.stringify(group.Properties.DeploymentConfigName)).toContain('Canary10Percent5Minutes');
      expect(group.Properties.DeploymentStyle).toEqual({
        DeploymentType: 'BLUE_GREEN',
        DeploymentOption: 'WITH_TRAFFIC_CONTROL',
      });
      // Both API routes and the Function URL reach the function through the alias only.
      for (const [, method] of ofType('AWS::ApiGateway::Method')) {
        if (method.Properties.HttpMethod === 'OPTIONS') continue;
        expect(JSON.stringify(method.Properties.Integration)).toContain(`{"Ref":"${aliasId}"}`);
      }
      const [, url] = one('AWS::Lambda::Url');
      expect(url.Properties).toMatchObject({ AuthType: 'AWS_IAM', Qualifier: 'live' });
    });

    it('rolls back automatically on rollback alarms over EMF metrics and Lambda errors/throttles', () => {
      const [, group] = one('AWS::CodeDeploy::DeploymentGroup');
      expect(group.Properties.AutoRollbackConfiguration).toEqual({
        Enabled: true,
        Events: expect.arrayContaining(['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM']),
      });
      const alarmConfig = group.Properties.AlarmConfiguration as {
        Enabled: boolean;
        Alarms: { Name: { Ref: string } }[];
      };
      expect(alarmConfig.Enabled).toBe(true);
      const wired = alarmConfig.Alarms.map((alarm) => alarm.Name.Ref).sort();
      // Every alarm but the model canary's (which runs the rollout guard: a bad model is not a
      // reason to roll back the code) and the drift alarm (drift is about the data) stops a code
      // deployment.
      expect(wired).toEqual(
        ofType('AWS::CloudWatch::Alarm')
          .map(([id]) => id)
          .filter((id) => id !== 'CanaryErrorRateAlarm' && id !== 'ModelDriftAlarm')
          .sort(),
      );
      expect(wired).toHaveLength(4);

      const errorRate = resources['InferErrorRateAlarm']?.Properties as Record<string, unknown>;
      const queries = errorRate.Metrics as {
        Id: string;
        Expression?: string;
        MetricStat?: { Metric: Record<string, unknown> };
      }[];
      expect(queries.find((query) => query.Expression !== undefined)?.Expression).toBe(
        'IF(requests > 0, 100 * errors / requests, 0)',
      );
      expect(queries.filter((query) => query.MetricStat).map((query) => query.MetricStat?.Metric)).toEqual([
        {
          Namespace: metrics.namespace,
          MetricName: metrics.metrics['requests']?.name,
          Dimensions: [{ Name: 'stage', Value: 'prod' }],
        },
        {
          Namespace: metrics.namespace,
          MetricName: metrics.metrics['errors']?.name,
          Dimensions: [{ Name: 'stage', Value: 'prod' }],
        },
      ]);
      expect(errorRate).toMatchObject({ Threshold: 5, TreatMissingData: 'notBreaching' });

      expect(resources['InferLatencyP99Alarm']?.Properties).toMatchObject({
        Namespace: metrics.namespace,
        MetricName: metrics.metrics['latency']?.name,
        ExtendedStatistic: 'p99',
        Threshold: 1000,
      });
      const version = ofType('AWS::Lambda::Version').find(
        ([, resource]) => (resource.Properties.FunctionName as { Ref: string }).Ref === 'InferLambdaFunction',
      )?.[0];
      expect(resources['InferLambdaErrorsAlarm']?.Properties).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: expect.arrayContaining([
          { Name: 'Resource', Value: 'modelfleet-prod-infer:live' },
          // The version being rolled out, not the whole alias.
          { Name: 'ExecutedVersion', Value: { 'Fn::GetAtt': [version, 'Version'] } },
        ]),
      });
      expect(resources['InferThrottlesAlarm']?.Properties).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'Throttles',
        Dimensions: expect.arrayContaining([{ Name: 'Resource', Value: 'modelfleet-prod-infer:live' }]),
      });
    });

    it('runs a pre-traffic hook that targets the new version with exactly the IAM it needs', () => {
      const hook = resources['PreTrafficHookLambdaFunction'];
      const version = ofType('AWS::Lambda::Version').find(
        ([, resource]) => (resource.Properties.FunctionName as { Ref: string }).Ref === 'InferLambdaFunction',
      )?.[0];
      expect(hook?.Properties.Environment).toMatchObject({
        Variables: { TARGET_VERSION_ARN: { Ref: version } },
      });
      expect(hook?.Properties.Role).toEqual({ 'Fn::GetAtt': ['PreTrafficHookExecutionRole', 'Arn'] });
      expect(resources['InferLambdaFunctionAliaslive']?.DependsOn).toContain('PreTrafficHookLambdaFunction');
      const statements = statementsOf('PreTrafficHookExecutionRole');
      expect(statements.map((statement) => statement.Action).sort()).toEqual(
        [
          ['codedeploy:PutLifecycleEventHookExecutionStatus'],
          ['lambda:InvokeFunction'],
          ['logs:CreateLogStream', 'logs:PutLogEvents'],
          ['s3:GetObject'],
          ['s3:ListBucket'],
        ].sort(),
      );
      const invoke = statements.find((statement) => statement.Action.includes('lambda:InvokeFunction'));
      expect(invoke?.Resource).toEqual({ 'Fn::Sub': '${InferLambdaFunction.Arn}:*' });
      const report = statements.find((statement) => statement.Action[0]?.startsWith('codedeploy:'));
      expect(JSON.stringify(report?.Resource)).toContain('deploymentgroup:${App}/${Group}');
      expect(JSON.stringify(report?.Resource)).toContain(
        '"Group":"modelfleet-prod-InferLambdaFunctionDeploymentGroup"',
      );
    });

    it('scales provisioned concurrency on the live alias with target tracking', () => {
      const alias = resources['InferLambdaFunctionAliaslive'];
      expect(alias?.Properties.ProvisionedConcurrencyConfig).toEqual({ ProvisionedConcurrentExecutions: 2 });
      // No `provisioned` alias from serverless' own provisionedConcurrency setting.
      expect(ofType('AWS::Lambda::Alias')).toHaveLength(1);
      const [targetId, target] = one('AWS::ApplicationAutoScaling::ScalableTarget');
      expect(target.DependsOn).toContain('InferLambdaFunctionAliaslive');
      expect(target.Properties).toEqual({
        ServiceNamespace: 'lambda',
        ScalableDimension: 'lambda:function:ProvisionedConcurrency',
        ResourceId: 'function:modelfleet-prod-infer:live',
        MinCapacity: 2,
        MaxCapacity: 50,
      });
      const [, policy] = one('AWS::ApplicationAutoScaling::ScalingPolicy');
      expect(policy.Properties).toMatchObject({
        PolicyType: 'TargetTrackingScaling',
        ScalingTargetId: { Ref: targetId },
        TargetTrackingScalingPolicyConfiguration: {
          TargetValue: 0.7,
          PredefinedMetricSpecification: { PredefinedMetricType: 'LambdaProvisionedConcurrencyUtilization' },
        },
      });
      expect(resources['InferLambdaFunction']?.Properties).toMatchObject({
        ReservedConcurrentExecutions: 100,
        MemorySize: 2048,
        Timeout: 29,
      });
      expect(resources['PreTrafficHookLambdaFunction']?.Properties).toMatchObject({
        MemorySize: 256,
        Timeout: 120,
      });
    });

    it('requires an API key under a usage plan with rate, burst and quota', () => {
      const [, plan] = one('AWS::ApiGateway::UsagePlan');
      expect(plan.Properties).toMatchObject({
        Throttle: { RateLimit: 100, BurstLimit: 200 },
        Quota: { Limit: 5000000, Period: 'DAY' },
      });
      const [keyId] = one('AWS::ApiGateway::ApiKey');
      const [, planKey] = one('AWS::ApiGateway::UsagePlanKey');
      expect(planKey.Properties).toMatchObject({ KeyId: { Ref: keyId }, KeyType: 'API_KEY' });
      const methods = ofType('AWS::ApiGateway::Method').filter(
        ([, m]) => m.Properties.HttpMethod !== 'OPTIONS',
      );
      expect(methods.length).toBeGreaterThanOrEqual(2);
      for (const [, method] of methods) expect(method.Properties.ApiKeyRequired).toBe(true);
      // All three protocols are routed on AWS, each under the same key rule (checked just above).
      expect(routesOf(resources)).toEqual(
        expect.arrayContaining(['ANY /v2/{proxy+}', 'GET /v2', 'POST /invocations', 'ANY /v1/{proxy+}']),
      );
      expect(routesOf(resources).filter((route) => route.startsWith('OPTIONS'))).toEqual([]);
      expect(resources['InferLambdaFunction']?.Properties.Environment).toMatchObject({
        Variables: { CORS_ORIGINS: '' },
      });
      expect(ofType('AWS::ApiGatewayV2::Api')).toHaveLength(0);
      expect(resources['ApiGatewayRestApi']?.Properties).toMatchObject({
        BinaryMediaTypes: ['application/octet-stream'],
        EndpointConfiguration: { Types: ['REGIONAL'] },
      });
      expect(resources['InferLambdaFunction']?.Properties.Environment).toMatchObject({
        // No source-mapped traces in prod: they cost ≈ 40 ms of cold start.
        Variables: { MAX_BODY_BYTES: '6291456', NODE_OPTIONS: '' },
      });
    });

    it('grants least privilege: model reads under the prefix, no wildcard actions, no managed policies', () => {
      const infer = statementsOf('InferExecutionRole');
      expect(infer).toEqual([
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: {
            'Fn::Sub':
              'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/modelfleet-prod-infer:*',
          },
        },
        {
          Effect: 'Allow',
          Action: ['s3:GetObject'],
          Resource: {
            'Fn::Sub': [
              'arn:${AWS::Partition}:s3:::${Bucket}/${Prefix}/*',
              { Bucket: { Ref: 'ModelsBucket' }, Prefix: 'models' },
            ],
          },
        },
        {
          Effect: 'Allow',
          Action: ['s3:ListBucket'],
          Resource: {
            'Fn::Sub': [
              'arn:${AWS::Partition}:s3:::${Bucket}',
              { Bucket: { Ref: 'ModelsBucket' }, Prefix: 'models' },
            ],
          },
          Condition: { StringLike: { 's3:prefix': ['models/*'] } },
        },
      ]);
      const roles = ofType('AWS::IAM::Role');
      expect(roles.map(([id]) => id).sort()).toEqual(
        [
          'BatchEventsRole',
          'BatchExecutionRole',
          'BatchStateMachineRole',
          'GuardExecutionRole',
          'InferExecutionRole',
          'ModelfleetCodeDeployRole',
          'PreTrafficHookExecutionRole',
          'StreamExecutionRole',
        ].sort(),
      );
      for (const [id, role] of roles) {
        expect({ id, managed: role.Properties.ManagedPolicyArns }).toEqual({ id, managed: undefined });
        for (const statement of statementsOf(id)) {
          expect(statement.Effect).toBe('Allow');
          for (const action of statement.Action) expect(action).not.toContain('*');
          // cloudwatch:GetMetricData has no resource-level permissions; nothing else may use '*'.
          if (statement.Action.join() !== 'cloudwatch:GetMetricData')
            expect(statement.Resource).not.toBe('*');
        }
      }
      // Deny statements may use s3:* (refusing plain HTTP); nothing anywhere allows a wildcard action.
      const allows =
        JSON.stringify(resources).match(/"Effect":"Allow"[^}]*"Action":(\[[^\]]*\]|"[^"]*")/g) ?? [];
      expect(allows.length).toBeGreaterThan(5);
      for (const allow of allows) expect(allow).not.toMatch(/"[a-z0-9]*:?\*"/);
      const codeDeploy = statementsOf('ModelfleetCodeDeployRole').flatMap((statement) => statement.Action);
      expect(codeDeploy.sort()).toEqual(
        [
          'cloudwatch:DescribeAlarms',
          'lambda:GetAlias',
          'lambda:GetProvisionedConcurrencyConfig',
          'lambda:InvokeFunction',
          'lambda:UpdateAlias',
        ].sort(),
      );
      expect(resources['InferLambdaFunctionDeploymentGroup']?.Properties.ServiceRoleArn).toEqual({
        'Fn::GetAtt': ['ModelfleetCodeDeployRole', 'Arn'],
      });
    });

    it('batch: S3 Object Created rules split by size, a Distributed Map over the plan object, least-privilege roles', () => {
      const definition = resources['BatchStateMachine']?.Properties['Definition'] as {
        StartAt: string;
        States: Record<string, Record<string, unknown>>;
      };
      expect(definition.StartAt).toBe('Plan');
      expect(definition.States['Plan']).toMatchObject({
        Resource: 'arn:aws:states:::lambda:invoke',
        Next: 'Chunks',
      });
      expect(definition.States['Chunks']).toMatchObject({
        Type: 'Map',
        ItemReader: {
          Resource: 'arn:aws:states:::s3:getObject',
          ReaderConfig: { InputType: 'JSON' },
          Parameters: { 'Bucket.$': '$.planBucket', 'Key.$': '$.planKey' },
        },
        ItemSelector: { 'out.$': '$.out', 'index.$': '$$.Map.Item.Value.index' },
        ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED' }, StartAt: 'Chunk' },
        ResultSelector: { 'chunks.$': 'States.ArrayLength($)' },
        ResultPath: '$.map',
        Next: 'Finish',
      });
      expect(resources['BatchStateMachine']?.Properties['DefinitionSubstitutions']).toEqual({
        PlanArn: { 'Fn::GetAtt': ['BatchPlanLambdaFunction', 'Arn'] },
        ChunkArn: { 'Fn::GetAtt': ['BatchChunkLambdaFunction', 'Arn'] },
        FinishArn: { 'Fn::GetAtt': ['BatchFinishLambdaFunction', 'Arn'] },
      });
      // The chunk worker is functions/aws/batch/chunk.ts, the code test/batch/batch-worker.test.ts runs.
      expect(resources['BatchChunkLambdaFunction']?.Properties['Handler']).toBe(
        'functions/aws/batch/chunk.chunk',
      );
      expect(
        (
          resources['BatchChunkLambdaFunction']?.Properties['Environment'] as
            | { Variables: unknown }
            | undefined
        )?.Variables,
      ).toMatchObject({
        BATCH_MODEL: 'iris',
        BATCH_OUTPUT: { 'Fn::Sub': 's3://${BatchBucket}/predictions' },
      });
      const sizes = ['BatchSmallObjectRule', 'BatchLargeObjectRule'].map(
        (id) =>
          (resources[id]?.Properties['EventPattern'] as { detail: { object: { size: unknown } } } | undefined)
            ?.detail.object.size,
      );
      expect(sizes).toEqual([[{ numeric: ['<', 67108864] }], [{ numeric: ['>=', 67108864] }]]);
      expect(resources['BatchLargeObjectRule']?.Properties['Targets']).toEqual([
        {
          Id: 'state-machine',
          Arn: { Ref: 'BatchStateMachine' },
          RoleArn: { 'Fn::GetAtt': ['BatchEventsRole', 'Arn'] },
        },
      ]);
      expect(resources['BatchBucket']?.Properties['NotificationConfiguration']).toEqual({
        EventBridgeConfiguration: { EventBridgeEnabled: true },
      });
      const machine = statementsOf('BatchStateMachineRole');
      expect(machine.map((statement) => statement.Action.join()).sort()).toEqual(
        [
          'lambda:InvokeFunction',
          's3:GetObject',
          'states:DescribeExecution,states:StopExecution',
          'states:StartExecution',
        ].sort(),
      );
      expect(machine.find((statement) => statement.Action.join() === 's3:GetObject')?.Resource).toEqual({
        'Fn::Sub': '${BatchBucket.Arn}/predictions/*/_plan.json',
      });
      const worker = statementsOf('BatchExecutionRole').map((statement) => [
        statement.Action.join(),
        JSON.stringify(statement.Resource),
      ]);
      expect(worker).toEqual(
        expect.arrayContaining([
          ['s3:GetObject', JSON.stringify({ 'Fn::Sub': '${BatchBucket.Arn}/incoming/*' })],
          ['s3:GetObject,s3:PutObject', JSON.stringify({ 'Fn::Sub': '${BatchBucket.Arn}/predictions/*' })],
        ]),
      );
      expect(
        worker.some(([action, resource]) => action?.includes('PutObject') && resource?.includes('incoming')),
      ).toBe(false);
    });

    it('schedules the rollout guard every minute with least privilege and a canary alarm that invokes it', () => {
      // The batch rules (S3 Object Created) are checked with the batch resources below.
      const scheduled = ofType('AWS::Events::Rule').filter(([id]) => !id.startsWith('Batch'));
      expect(scheduled).toHaveLength(1);
      const [, rule] = scheduled[0] as [string, CfnResource];
      expect(rule.Properties).toMatchObject({
        ScheduleExpression: 'rate(1 minute)',
        State: 'ENABLED',
        Targets: [{ Arn: { 'Fn::GetAtt': ['GuardLambdaFunction', 'Arn'] } }],
      });
      const guard = resources['GuardLambdaFunction'];
      expect(guard?.Properties['Role']).toEqual({ 'Fn::GetAtt': ['GuardExecutionRole', 'Arn'] });
      expect(
        (guard?.Properties['Environment'] as { Variables?: unknown } | undefined)?.Variables,
      ).toMatchObject({
        MODELFLEET_METRICS: 'cloudwatch',
        MODELFLEET_STAGE: 'prod',
        MODEL_REPOSITORY: {
          'Fn::Sub': ['s3://${Bucket}/${Prefix}', { Bucket: { Ref: 'ModelsBucket' }, Prefix: 'models' }],
        },
      });
      const statements = statementsOf('GuardExecutionRole');
      expect(statements.map((s) => s.Action.join())).toEqual([
        'logs:CreateLogStream,logs:PutLogEvents',
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
        'cloudwatch:GetMetricData',
      ]);
      // Writes only the deployment configs; the model versions stay read-only to it.
      expect(statements[3]?.Resource).toEqual({
        'Fn::Sub': [
          'arn:${AWS::Partition}:s3:::${Bucket}/${Prefix}/*/deployments/*',
          { Bucket: { Ref: 'ModelsBucket' }, Prefix: 'models' },
        ],
      });
      const alarm = resources['CanaryErrorRateAlarm'];
      expect(alarm?.Properties).toMatchObject({
        ActionsEnabled: true,
        Threshold: 0.05,
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ 'Fn::GetAtt': ['GuardLambdaFunction', 'Arn'] }],
        Metrics: [
          {
            Id: 'canaryErrorRate',
            Period: 60,
            ReturnData: true,
            Expression: `SELECT AVG(${metrics.metrics['errors']?.name}) FROM SCHEMA("${metrics.namespace}", model, variant, version, stage) WHERE stage = 'prod' AND variant = 'canary'`,
          },
        ],
      });
      expect(resources['GuardAlarmInvokePermission']?.Properties).toEqual({
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': ['GuardLambdaFunction', 'Arn'] },
        Principal: 'lambda.alarms.cloudwatch.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': ['CanaryErrorRateAlarm', 'Arn'] },
        SourceAccount: { Ref: 'AWS::AccountId' },
      });
    });

    it('runs the stream function from an SQS queue with partial batch responses, a DLQ and least privilege', async () => {
      const [mappingId, mapping] = one('AWS::Lambda::EventSourceMapping');
      expect(mappingId).toBe('StreamEventSourceMappingSQSStreamRecordsQueue');
      expect(mapping.Properties).toMatchObject({
        EventSourceArn: { 'Fn::GetAtt': ['StreamRecordsQueue', 'Arn'] },
        FunctionName: { 'Fn::GetAtt': ['StreamLambdaFunction', 'Arn'] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: 10,
      });
      const stream = resources['StreamLambdaFunction']?.Properties as Record<string, unknown>;
      expect(stream['Role']).toEqual({ 'Fn::GetAtt': ['StreamExecutionRole', 'Arn'] });
      expect((stream['Environment'] as { Variables: Record<string, unknown> }).Variables).toMatchObject({
        MODELFLEET_STAGE: 'prod',
        MODEL_REPOSITORY: {
          'Fn::Sub': ['s3://${Bucket}/${Prefix}', { Bucket: { Ref: 'ModelsBucket' }, Prefix: 'models' }],
        },
        STREAM_SINK: { 'Fn::Join': ['', ['sqs:', { Ref: 'StreamResultsQueue' }]] },
        STREAM_DEAD_LETTER: { 'Fn::Join': ['', ['sqs:', { Ref: 'StreamDeadLetterQueue' }]] },
      });
      // Records that keep failing leave the source queue for the dead-letter queue.
      expect(resources['StreamRecordsQueue']?.Properties).toMatchObject({
        VisibilityTimeout: 360,
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': ['StreamDeadLetterQueue', 'Arn'] },
          maxReceiveCount: 5,
        },
      });
      const statements = statementsOf('StreamExecutionRole');
      expect(statements.slice(1, 3).map((statement) => statement.Action)).toEqual([
        ['s3:GetObject'],
        ['s3:ListBucket'],
      ]);
      expect(statements.slice(3)).toEqual([
        {
          Effect: 'Allow',
          Action: [
            'sqs:ReceiveMessage',
            'sqs:DeleteMessage',
            'sqs:GetQueueAttributes',
            'sqs:ChangeMessageVisibility',
          ],
          Resource: { 'Fn::GetAtt': ['StreamRecordsQueue', 'Arn'] },
        },
        {
          Effect: 'Allow',
          Action: ['sqs:SendMessage'],
          Resource: [
            { 'Fn::GetAtt': ['StreamResultsQueue', 'Arn'] },
            { 'Fn::GetAtt': ['StreamDeadLetterQueue', 'Arn'] },
          ],
        },
      ]);
      const list = (await runToEnd('unzip', ['-l', path.join(out, 'stream.zip')], {})).stdout;
      expect(list).toContain('functions/aws/stream/index.js');
      expect(list).toContain('napi-v6/linux/x64/onnxruntime_binding.node');
    });

    it('creates a versioned, encrypted, private models bucket that only speaks HTTPS', () => {
      const bucket = resources['ModelsBucket'];
      expect(bucket?.DeletionPolicy).toBe('Retain');
      expect(bucket?.Properties).toMatchObject({
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      });
      expect(JSON.stringify(resources['ModelsBucketPolicy']?.Properties)).toContain(
        '"aws:SecureTransport":"false"',
      );
      // Every bucket modelfleet adds (models, batch) is encrypted, private and without ACLs; the
      // framework's own deployment bucket is the framework's business.
      const buckets = Object.entries(resources).filter(
        ([name, r]) => r.Type === 'AWS::S3::Bucket' && name !== 'ServerlessDeploymentBucket',
      );
      expect(buckets.map(([name]) => name).sort()).toEqual(['BatchBucket', 'ModelsBucket']);
      for (const [, each] of buckets) {
        expect(each.Properties).toMatchObject({
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
            ],
          },
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
          OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        });
      }
      expect(resources['InferLambdaFunction']?.Properties.Environment).toMatchObject({
        Variables: {
          MODEL_REPOSITORY: {
            'Fn::Sub': ['s3://${Bucket}/${Prefix}', { Bucket: { Ref: 'ModelsBucket' }, Prefix: 'models' }],
          },
        },
      });
    });

    it('sets a retention on every log group', () => {
      const groups = ofType('AWS::Logs::LogGroup');
      expect(groups.map(([id]) => id).sort()).toEqual([
        'BatchChunkLogGroup',
        'BatchFinishLogGroup',
        'BatchObjectCreatedLogGroup',
        'BatchPlanLogGroup',
        'GuardLogGroup',
        'InferLogGroup',
        'PreTrafficHookLogGroup',
        'StreamLogGroup',
      ]);
      for (const [, group] of groups) expect(group.Properties.RetentionInDays).toBe(90);
    });

    it('builds a dashboard of traffic, errors, p50/p99, cold starts and cache hit rate per variant/version', () => {
      const [, dashboard] = one('AWS::CloudWatch::Dashboard');
      const body = JSON.parse((dashboard.Properties.DashboardBody as { 'Fn::Sub': string })['Fn::Sub']);
      const text = JSON.stringify(body);
      const perVersion = `{${metrics.namespace},model,variant,version,stage}`;
      for (const [metric, stat] of [
        ['requests', 'Sum'],
        ['errors', 'Sum'],
        ['latency', 'p50'],
        ['latency', 'p99'],
        ['coldStart', 'Sum'],
      ]) {
        expect(text).toContain(
          JSON.stringify(
            `SEARCH('${perVersion} MetricName="${metrics.metrics[metric as string]?.name}" stage="prod"', '${stat}', 60)`,
          ).slice(1, -1),
        );
      }
      expect(text).toContain('100 * hit / (hit + miss)');
      expect(text).toContain(`"${metrics.metrics['cacheHit']?.name}"`);
      expect(text).toContain('alarm:modelfleet-prod-infer-error-rate');
    });

    it('adds accuracy and drift widgets and a drift alarm on the stage-wide max PSI', () => {
      const [, dashboard] = one('AWS::CloudWatch::Dashboard');
      const text = (dashboard.Properties.DashboardBody as { 'Fn::Sub': string })['Fn::Sub'];
      const perVersion = `{${metrics.namespace},model,variant,version,stage}`;
      for (const [name, stat] of [
        ['Accuracy', 'Average'],
        ['MAE', 'Average'],
        ['DriftPSIMax', 'Maximum'],
        ['CaptureDropped', 'Sum'],
      ]) {
        expect(text).toContain(
          JSON.stringify(`SEARCH('${perVersion} MetricName="${name}" stage="prod"', '${stat}', 300)`).slice(
            1,
            -1,
          ),
        );
      }
      expect(text).toContain('MetricName=PSI_');
      const drift = resources['ModelDriftAlarm']?.Properties as Record<string, unknown>;
      expect(drift).toMatchObject({
        MetricName: 'DriftPSIMax',
        Namespace: metrics.namespace,
        Dimensions: [{ Name: 'stage', Value: 'prod' }],
        Statistic: 'Maximum',
        Threshold: 0.2,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    });

    it('keeps the zips within Lambda limits, with linux-x64 onnxruntime only in the inference zip', async () => {
      const { checkPackages } = require('../../scripts/check-package.cjs') as {
        checkPackages: (files: string[]) => { file: string; zipBytes: number; unpackedBytes: number }[];
      };
      const [infer, hook] = checkPackages([
        path.join(out, 'infer.zip'),
        path.join(out, 'preTrafficHook.zip'),
      ]);
      expect(infer?.zipBytes).toBeLessThan(30 * 1024 * 1024);
      expect(infer?.unpackedBytes).toBeLessThan(100 * 1024 * 1024);
      expect(hook?.zipBytes).toBeLessThan(5 * 1024 * 1024);
      const inferList = (await runToEnd('unzip', ['-l', path.join(out, 'infer.zip')], {})).stdout;
      expect(inferList).toContain('napi-v6/linux/x64/onnxruntime_binding.node');
      expect(inferList).not.toMatch(/napi-v6\/(darwin|win32|linux\/arm64)/);
      expect(inferList).not.toContain('model-repository/');
      const hookList = (await runToEnd('unzip', ['-l', path.join(out, 'preTrafficHook.zip')], {})).stdout;
      expect(hookList).toContain('functions/aws/pre-traffic-hook/index.js');
      expect(hookList).not.toContain('onnxruntime');
    });

    it('packages the batch functions by role: onnxruntime only where rows are scored, each zip runs its step', async () => {
      // The Lambda runtime's AWS SDK v3 beside the unpacked zips (the batch functions write through
      // it); nothing else resolves outside a zip, so a bundle that needed onnxruntime without
      // shipping it would fail to load here.
      const root = tempDir('modelfleet-batch-zips-');
      mkdirSync(path.join(root, 'node_modules'));
      symlinkSync(path.join(ROOT, 'node_modules', '@aws-sdk'), path.join(root, 'node_modules', '@aws-sdk'));
      const handlers = {} as Record<BatchFunction, { file: string; name: string }>;
      for (const [fn, scores] of Object.entries(BATCH_FUNCTIONS)) {
        const zip = path.join(out, `${fn}.zip`);
        const handler = String(
          resources[`${fn[0]?.toUpperCase()}${fn.slice(1)}LambdaFunction`]?.Properties['Handler'],
        );
        const file = `${handler.slice(0, handler.lastIndexOf('.'))}.js`;
        const listing = (await runToEnd('unzip', ['-l', zip], {})).stdout;
        expect({ fn, handlerFile: listing.includes(` ${file}\n`) }).toEqual({ fn, handlerFile: true });
        if (scores) {
          expect(listing).toContain(
            'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
          );
          expect(listing).not.toMatch(/napi-v6\/(darwin|win32|linux\/arm64)/);
        } else {
          expect({ fn, onnxruntime: listing.includes('onnxruntime') }).toEqual({ fn, onnxruntime: false });
          // Measured: plan 0.3 MB, finish 0.1 MB zipped (19.1 MB each while they shipped onnxruntime).
          expect({ fn, small: statSync(zip).size < 1024 * 1024 }).toEqual({ fn, small: true });
        }
        expect((await runToEnd('unzip', ['-q', zip, '-d', path.join(root, fn)], {})).code).toBe(0);
        const bundle = readFileSync(path.join(root, fn, file), 'utf8');
        if (!scores)
          expect({ fn, onnxruntime: bundle.includes('onnxruntime') }).toEqual({ fn, onnxruntime: false });
        handlers[fn as BatchFunction] = {
          file: path.join(root, fn, file),
          name: handler.slice(handler.lastIndexOf('.') + 1),
        };
      }
      const result = await runPackagedBatch(handlers, root);
      expect(result.exports).toEqual({
        batchPlan: 'function',
        batchFinish: 'function',
        batchChunk: 'function',
        batchObjectCreated: 'function',
      });
      expect(result.onnxruntimeBeforeChunk).toBe(false);
      expect(result.planned.chunks).toBeGreaterThan(2);
      expect(result.chunkRows.reduce((sum, rows) => sum + rows, 0)).toBe(2000);
      expect(result.finished).toEqual({
        out: result.planned.out,
        rows: 2000,
        errors: 0,
        chunks: result.planned.chunks,
      });
      expect(result.small).toMatchObject({ rows: 50, errors: 0 });
    });

    it('ships no storage SDK in the AWS bundle: S3 is read without it, and a stage that needs one says so', async () => {
      const dir = tempDir('modelfleet-unzipped-');
      expect((await runToEnd('unzip', ['-q', path.join(out, 'infer.zip'), '-d', dir], {})).code).toBe(0);
      const bundle = readFileSync(path.join(dir, 'functions', 'aws', 'index.js'), 'utf8');
      expect(bundle).toContain('S3ModelStore');
      expect(bundle).toContain('S3ObjectReader');
      // The SDKs stay external requires instead of being bundled: the S3 one (≈ 1.4 MB, ≈ 40 ms
      // of cold start to compile), the Azure and GCS ones (≈ 2.7 MB of zip).
      expect(bundle).toContain('require("@aws-sdk/client-s3")');
      expect(bundle).not.toContain('node_modules/@smithy/');
      // The EMF line is written directly (shared/telemetry/emf.ts): Powertools is a dev dependency.
      expect(bundle).not.toContain('@aws-lambda-powertools');
      expect(bundle).toContain('require("@azure/storage-blob")');
      expect(bundle).toContain('require("@google-cloud/storage")');
      expect(bundle).not.toContain('storage.googleapis.com');
      // Cold start of the packaged handler itself, as Lambda would load it. The store is a closed
      // port on this machine: the cold-start prefetch must fail quietly, not crash or hang.
      const closedPort = `http://127.0.0.1:${await freePort()}`;
      const load = (repository: string, credentials: boolean) =>
        runToEnd(
          process.execPath,
          // onnxruntime (external to the bundle, so visible in require.cache) must load after the
          // entry has started the store reads, not during its synchronous load.
          [
            '-e',
            "require('./functions/aws/index.js'); if (Object.keys(require.cache).some((f) => f.includes('onnxruntime'))) { console.error('onnxruntime loaded before the reads started'); process.exit(3); }",
          ],
          {
            MODEL_REPOSITORY: repository,
            MODELFLEET_STAGE: 'prod',
            NODE_PATH: '',
            S3_ENDPOINT: closedPort,
            AWS_ACCESS_KEY_ID: credentials ? 'AKIDEXAMPLE' : '',
            AWS_SECRET_ACCESS_KEY: credentials ? 'secret' : '',
            AWS_PROFILE: '',
          },
          60_000,
          dir,
        );
      const s3 = await load('s3://models-bucket/models', true);
      expect({ code: s3.code, stderr: s3.stderr }).toMatchObject({ code: 0 });
      expect(s3.stderr).toContain('preload: the model repository could not be listed');
      const noCredentials = await load('s3://models-bucket/models', false);
      expect(noCredentials.code).not.toBe(0);
      expect(noCredentials.stderr).toContain(
        'MODEL_REPOSITORY: s3:// needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment',
      );
      const azure = await load('az://account/container/models', true);
      expect(azure.code).not.toBe(0);
      expect(azure.stderr).toContain(
        'MODEL_REPOSITORY: az:// needs a storage SDK that this package does not include',
      );
    });

    it('leaves zod out of every bundle and ships it, so a refused document still gets its verdict', async () => {
      for (const zip of ['infer', 'stream', 'guard', 'preTrafficHook', 'batchPlan', 'batchChunk']) {
        const listing = (await runToEnd('unzip', ['-l', path.join(out, `${zip}.zip`)], {})).stdout;
        expect({ zip, shipsZod: listing.includes(' node_modules/zod/v4/classic/external.cjs\n') }).toEqual({
          zip,
          shipsZod: true,
        });
      }
      const dir = tempDir('modelfleet-unzipped-');
      expect((await runToEnd('unzip', ['-q', path.join(out, 'infer.zip'), '-d', dir], {})).code).toBe(0);
      const bundle = readFileSync(path.join(dir, 'functions', 'aws', 'index.js'), 'utf8');
      expect(bundle).toContain('require("zod")');
      expect(bundle).not.toContain('node_modules/zod/');
      // A manifest the hand-written checks refuse: the schemas load zod from the zip (NODE_PATH is
      // empty and nothing above the unzipped folder holds a zod) and name the field.
      const repository = await sampleRepository();
      const key = 'iris/1/manifest.json';
      const current = await repository.store.get(key);
      if (current.status !== 'ok') throw new Error('no manifest');
      await repository.store.put(
        key,
        Buffer.from(JSON.stringify({ ...JSON.parse(current.body.toString()), createdAt: 42 })),
      );
      const loaded = await runToEnd(
        process.execPath,
        ['-e', "require('./functions/aws/index.js')"],
        {
          MODEL_REPOSITORY: (repository.store as FsModelStore).root,
          MODELFLEET_STAGE: 'dev',
          NODE_PATH: '',
        },
        60_000,
        dir,
      );
      expect({ code: loaded.code, stderr: loaded.stderr }).toMatchObject({ code: 0 });
      const line = (loaded.stdout + loaded.stderr)
        .split('\n')
        .find((text) => text.includes('preload: a deployed version could not be loaded'));
      expect(JSON.parse(line ?? '{}')).toMatchObject({
        model: 'iris',
        cause: expect.stringMatching(/createdAt/),
      });
    });
  });

  it('sls package --stage prod with Kinesis and MSK sources maps them with partial batch responses and scoped IAM', async () => {
    const out = tempDir('modelfleet-sls-stream-');
    const kinesis = 'arn:aws:kinesis:us-east-1:123456789012:stream/records';
    const cluster = 'arn:aws:kafka:us-east-1:123456789012:cluster/demo/abc-1';
    const { code, stdout, stderr } = await runToEnd(
      'npx',
      [
        'sls',
        'package',
        '--stage',
        'prod',
        '--package',
        out,
        `--param=streamKinesisArn=${kinesis}`,
        `--param=streamMskClusterArn=${cluster}`,
        '--param=streamKafkaTopic=records',
      ],
      SLS_ENV,
    );
    expect({ code, output: code === 0 ? '' : stdout + stderr }).toEqual({ code: 0, output: '' });
    const resources = JSON.parse(
      readFileSync(path.join(out, 'cloudformation-template-update-stack.json'), 'utf8'),
    ).Resources as Record<string, CfnResource>;
    const onFailure = { OnFailure: { Destination: { 'Fn::GetAtt': ['StreamDeadLetterQueue', 'Arn'] } } };
    expect(resources['StreamKinesisEventSourceMapping']?.Properties).toMatchObject({
      EventSourceArn: kinesis,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      DestinationConfig: onFailure,
    });
    expect(resources['StreamKafkaEventSourceMapping']?.Properties).toMatchObject({
      EventSourceArn: cluster,
      Topics: ['records'],
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: onFailure,
    });
    const statements = (
      (resources['StreamExecutionRole']?.Properties.Policies ?? []) as {
        PolicyDocument: { Statement: Statement[] };
      }[]
    ).flatMap((policy) => policy.PolicyDocument.Statement);
    const byResource = Object.fromEntries(statements.map((s) => [JSON.stringify(s.Resource), s.Action]));
    expect(byResource[JSON.stringify(kinesis)]).toEqual(
      expect.arrayContaining(['kinesis:GetRecords', 'kinesis:GetShardIterator']),
    );
    expect(byResource[JSON.stringify(cluster)]).toEqual(expect.arrayContaining(['kafka-cluster:Connect']));
    expect(byResource[JSON.stringify(`${cluster.replace(':cluster/', ':topic/')}/*`)]).toEqual([
      'kafka-cluster:DescribeTopic',
      'kafka-cluster:ReadData',
    ]);
    // Only the VPC network interfaces of the MSK mapping have no resource-level permissions.
    const wildcard = statements.filter((s) => s.Resource === '*').flatMap((s) => s.Action);
    expect(wildcard.every((action) => action.startsWith('ec2:'))).toBe(true);
  });

  it('fails packaging with a clear message when a zip unpacks to more than the limit', async () => {
    const { code, stdout, stderr } = await runToEnd(
      'npx',
      ['sls', 'package', '--stage', 'dev', '--param=maxUnpackedBytes=10485760', '--package', tempDir()],
      SLS_ENV,
    );
    expect(code).not.toBe(0);
    expect(stdout + stderr).toMatch(
      /Lambda package too large:\s+infer\.zip unpacks to [\d.]+ MB; the limit is 10\.0 MB/,
    );
  });

  it('refuses to package provisioned concurrency above the reserved concurrency cap', async () => {
    const { code, stdout, stderr } = await runToEnd(
      'npx',
      ['sls', 'package', '--stage', 'prod', '--param=provisionedConcurrencyMax=500', '--package', tempDir()],
      SLS_ENV,
    );
    expect(code).not.toBe(0);
    expect(stdout + stderr).toContain('scaling.max (500) exceeds infer.reservedConcurrency (100)');
  });
});

interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string[];
  DeletionPolicy?: string;
  UpdatePolicy?: { CodeDeployLambdaAliasUpdate?: Record<string, unknown> };
}

interface Statement {
  Effect: string;
  Action: string[];
  Resource: unknown;
  Condition?: unknown;
}
