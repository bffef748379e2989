// Adds what serverless.yml alone cannot express for a production stage, at package time and with
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub placeholders, not JavaScript templates
// no AWS call (so `sls package` works offline). See infra/aws/README.md for the why of each part.
//
//   before:package:initialize        preflight: the onnxruntime binaries for the chosen architecture exist
//   before:package:finalize          per-function IAM roles, models bucket, alarms (handed to the canary
//                                    plugin as deploymentSettings.alarms), dashboard
//   after the canary plugin          provisioned concurrency on its `live` alias + autoscaling, hook wiring,
//                                    Function URL on the alias, CodeDeploy role actions
//   after:package:finalize           package-size guardrail (50 MB zipped / 250 MB unpacked)
const fs = require('node:fs');
const path = require('node:path');
const metricsSpec = require('./metrics.json');
const { checkPackages } = require('../../scripts/check-package.cjs');
const { addStream } = require('./stream-resources');

const ALIAS = 'live';
// CodeDeploy's predefined Lambda deployment configurations (CodeDeployDefault.Lambda<type>).
const DEPLOYMENT_TYPES = [
  'AllAtOnce',
  'Canary10Percent5Minutes',
  'Canary10Percent10Minutes',
  'Canary10Percent15Minutes',
  'Canary10Percent30Minutes',
  'Linear10PercentEvery1Minute',
  'Linear10PercentEvery2Minutes',
  'Linear10PercentEvery3Minutes',
  'Linear10PercentEvery10Minutes',
];

class ModelfleetAwsPlugin {
  constructor(serverless, options, utils) {
    this.serverless = serverless;
    this.log = utils?.log ?? { notice: (message) => serverless.cli.log(message) };
    this.options = options;
    this.provider = serverless.getProvider('aws');
    this.hooks = {
      'before:package:initialize': () => this.preflight(),
      'before:package:finalize': () => this.addResources(),
      // Runs after every `after:...mergeCustomProviderResources` hook, i.e. after the canary plugin.
      'before:aws:package:finalize:saveServiceState': () => this.wireAliases(),
      'after:package:finalize': () => this.checkSizes(),
    };
  }

  get settings() {
    const settings = this.serverless.service.custom?.modelfleet;
    if (settings === undefined) throw this.error('custom.modelfleet is missing from serverless.yml');
    return settings;
  }

  get template() {
    return this.serverless.service.provider.compiledCloudFormationTemplate;
  }

  get stage() {
    return this.provider.getStage();
  }

  get stackName() {
    return this.provider.naming.getStackName();
  }

  error(message) {
    return new this.serverless.classes.Error(`modelfleet: ${message}`);
  }

  preflight() {
    const arch = this.settings.architecture;
    const folder = { x86_64: 'x64', arm64: 'arm64' }[arch];
    if (folder === undefined) throw this.error(`architecture must be x86_64 or arm64, got "${arch}"`);
    const binaries = path.join(
      this.serverless.config.servicePath,
      'node_modules/onnxruntime-node/bin/napi-v6/linux',
      folder,
    );
    if (!fs.existsSync(path.join(binaries, 'onnxruntime_binding.node'))) {
      throw this.error(
        `architecture ${arch} needs ${binaries}/onnxruntime_binding.node, which is not installed; ` +
          'reinstall onnxruntime-node with its linux binaries or package for the other architecture',
      );
    }
    const scaling = this.numbers('scaling');
    for (const name of this.settings.inferenceFunctions) {
      const fn = this.fn(name);
      if (scaling.max > 0 && !(scaling.min >= 1 && scaling.min <= scaling.max)) {
        throw this.error(`scaling: need 1 <= min (${scaling.min}) <= max (${scaling.max})`);
      }
      // Provisioned concurrency is carved out of the function's reserved concurrency.
      if (scaling.max > 0 && fn.reservedConcurrency != null && scaling.max > Number(fn.reservedConcurrency)) {
        throw this.error(
          `scaling.max (${scaling.max}) exceeds ${name}.reservedConcurrency (${fn.reservedConcurrency})`,
        );
      }
      if (!DEPLOYMENT_TYPES.includes(fn.deploymentSettings?.type)) {
        throw this.error(
          `${name}.deploymentSettings.type (deploymentType) must be one of ${DEPLOYMENT_TYPES.join(', ')}; ` +
            `got "${fn.deploymentSettings?.type}"`,
        );
      }
      if (fn.deploymentSettings?.alias !== ALIAS) {
        throw this.error(`${name}.deploymentSettings.alias must be "${ALIAS}"`);
      }
    }
  }

  /** A numeric settings block; `--param="x=5"` arrives as a string, a typo as NaN. */
  numbers(block) {
    const out = {};
    for (const [key, value] of Object.entries(this.settings[block] ?? {})) {
      const number = Number(value);
      if (value === '' || !Number.isFinite(number)) {
        throw this.error(`custom.modelfleet.${block}.${key} must be a number, got ${JSON.stringify(value)}`);
      }
      out[key] = number;
    }
    return out;
  }

  fn(name) {
    const fn = this.serverless.service.getFunction(name);
    if (fn === undefined) throw this.error(`no function "${name}"`);
    return fn;
  }

  logicalId(name) {
    return this.provider.naming.getLambdaLogicalId(name);
  }

  normalized(name) {
    return this.provider.naming.getNormalizedFunctionName(name);
  }

  /** The function's published version resource (serverless names it by code hash). */
  versionLogicalId(name) {
    const fnId = this.logicalId(name);
    const found = Object.entries(this.template.Resources).find(
      ([, resource]) =>
        resource.Type === 'AWS::Lambda::Version' && resource.Properties.FunctionName?.Ref === fnId,
    );
    if (found === undefined) throw this.error(`${name} has no AWS::Lambda::Version (versionFunctions off?)`);
    return found[0];
  }

  hookOf(name) {
    const hook = this.fn(name).deploymentSettings?.preTrafficHook;
    if (hook === undefined) throw this.error(`${name}.deploymentSettings.preTrafficHook is required`);
    return hook;
  }

  codeDeployAppLogicalId() {
    // Mirrors serverless-plugin-canary-deployments' naming.
    return `${this.provider.naming.normalizeNameToAlphaNumericOnly(this.stackName)}DeploymentApplication`;
  }

  deploymentGroupName(name) {
    return `${this.stackName}-${this.logicalId(name)}DeploymentGroup`.slice(0, 100);
  }

  // --- models bucket ----------------------------------------------------------------------------

  /** What the functions may read: undefined for a repository bundled in the package (dev). */
  modelLocation() {
    const { models } = this.settings;
    if (models.store === 'file') return undefined;
    if (models.store !== 's3') throw this.error(`models.store must be file or s3, got "${models.store}"`);
    const prefix = String(models.prefix).replace(/^\/+|\/+$/g, '');
    if (prefix === '' || prefix.includes('*')) throw this.error('models.prefix must be a non-empty path');
    const bucket =
      models.bucket === '' || models.bucket === undefined ? { Ref: 'ModelsBucket' } : models.bucket;
    return { bucket, prefix, created: typeof bucket !== 'string' };
  }

  /** What every bucket of the stack has: encrypted, no public access, no ACLs. */
  privateBucketProperties() {
    return {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    };
  }

  addModelsBucket(resources) {
    resources.ModelsBucket = {
      Type: 'AWS::S3::Bucket',
      // Model versions are the system of record: never deleted with the stack.
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: { VersioningConfiguration: { Status: 'Enabled' }, ...this.privateBucketProperties() },
    };
    resources.ModelsBucketPolicy = {
      Type: 'AWS::S3::BucketPolicy',
      Properties: {
        Bucket: { Ref: 'ModelsBucket' },
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'HttpsOnly',
              Effect: 'Deny',
              Principal: '*',
              Action: 's3:*',
              Resource: [{ 'Fn::GetAtt': ['ModelsBucket', 'Arn'] }, { 'Fn::Sub': '${ModelsBucket.Arn}/*' }],
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
        },
      },
    };
  }

  modelReadStatements(location) {
    if (location === undefined) return [];
    const vars = { Bucket: location.bucket, Prefix: location.prefix };
    return [
      {
        Effect: 'Allow',
        Action: ['s3:GetObject'],
        Resource: { 'Fn::Sub': ['arn:${AWS::Partition}:s3:::${Bucket}/${Prefix}/*', vars] },
      },
      {
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: { 'Fn::Sub': ['arn:${AWS::Partition}:s3:::${Bucket}', vars] },
        Condition: { StringLike: { 's3:prefix': [`${location.prefix}/*`] } },
      },
    ];
  }

  // --- roles ------------------------------------------------------------------------------------

  role(statements) {
    return {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: ['lambda.amazonaws.com'] }, Action: ['sts:AssumeRole'] },
          ],
        },
        Policies: [
          { PolicyName: 'least-privilege', PolicyDocument: { Version: '2012-10-17', Statement: statements } },
        ],
      },
    };
  }

  logStatement(name) {
    // The stack creates the log group (with its retention), so the role never needs CreateLogGroup.
    return {
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: {
        'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${this.fn(name).name}:*`,
      },
    };
  }

  /** The role name a function must declare (`role:`) so that its permissions are the ones built here. */
  roleLogicalId(name) {
    return `${this.normalized(name)}ExecutionRole`;
  }

  assertRole(name) {
    const expected = this.roleLogicalId(name);
    if (this.fn(name).role !== expected) {
      throw this.error(
        `${name} must declare \`role: ${expected}\` (built by infra/aws/modelfleet-plugin.js)`,
      );
    }
  }

  // --- alarms -----------------------------------------------------------------------------------

  alarmIds(name) {
    const n = this.normalized(name);
    return {
      errorRate: `${n}ErrorRateAlarm`,
      latency: `${n}LatencyP99Alarm`,
      lambdaErrors: `${n}LambdaErrorsAlarm`,
      throttles: `${n}ThrottlesAlarm`,
    };
  }

  alarmName(name, what) {
    return `${this.stackName}-${name}-${what}`;
  }

  serviceDimensions() {
    return metricsSpec.dimensions.service.map((dimension) => {
      if (dimension !== 'stage') throw this.error(`metrics.json: unknown service dimension "${dimension}"`);
      return { Name: 'stage', Value: this.stage };
    });
  }

  alarms(name) {
    const alarms = this.numbers('alarms');
    const ids = this.alarmIds(name);
    const fnId = this.logicalId(name);
    const functionName = this.fn(name).name;
    const period = alarms.periodSeconds;
    const emf = (metric, stat) => ({
      Metric: {
        Namespace: metricsSpec.namespace,
        MetricName: metricsSpec.metrics[metric].name,
        Dimensions: this.serviceDimensions(),
      },
      Period: period,
      Stat: stat,
    });
    const common = {
      EvaluationPeriods: alarms.evaluationPeriods,
      DatapointsToAlarm: alarms.evaluationPeriods,
      // No traffic during a rollout is not a reason to roll it back.
      TreatMissingData: 'notBreaching',
      ComparisonOperator: 'GreaterThanThreshold',
    };
    const aliasResource = `${functionName}:${ALIAS}`;
    return {
      [ids.errorRate]: {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          ...common,
          AlarmName: this.alarmName(name, 'error-rate'),
          AlarmDescription: `Errors over requests (%) on stage ${this.stage} above ${alarms.errorRatePercent}: rolls back a rollout`,
          Threshold: alarms.errorRatePercent,
          Metrics: [
            { Id: 'requests', MetricStat: emf('requests', 'Sum'), ReturnData: false },
            { Id: 'errors', MetricStat: emf('errors', 'Sum'), ReturnData: false },
            {
              Id: 'errorRate',
              Expression: 'IF(requests > 0, 100 * errors / requests, 0)',
              Label: 'error rate (%)',
              ReturnData: true,
            },
          ],
        },
      },
      [ids.latency]: {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          ...common,
          AlarmName: this.alarmName(name, 'latency-p99'),
          AlarmDescription: `p99 request latency on stage ${this.stage} above ${alarms.latencyP99Ms} ms: rolls back a rollout`,
          Namespace: metricsSpec.namespace,
          MetricName: metricsSpec.metrics.latency.name,
          Dimensions: this.serviceDimensions(),
          ExtendedStatistic: 'p99',
          Period: period,
          Threshold: alarms.latencyP99Ms,
          Unit: metricsSpec.metrics.latency.unit,
        },
      },
      [ids.lambdaErrors]: {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          ...common,
          // One bad datapoint of the new code version is enough: these are crashes and timeouts.
          EvaluationPeriods: 1,
          DatapointsToAlarm: 1,
          AlarmName: this.alarmName(name, 'lambda-errors'),
          AlarmDescription: 'Lambda errors (crashes, timeouts) of the version being rolled out',
          Namespace: 'AWS/Lambda',
          MetricName: 'Errors',
          Dimensions: [
            { Name: 'FunctionName', Value: { Ref: fnId } },
            { Name: 'Resource', Value: aliasResource },
            { Name: 'ExecutedVersion', Value: { 'Fn::GetAtt': [this.versionLogicalId(name), 'Version'] } },
          ],
          Statistic: 'Sum',
          Period: period,
          Threshold: alarms.lambdaErrors,
        },
      },
      [ids.throttles]: {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          ...common,
          AlarmName: this.alarmName(name, 'throttles'),
          AlarmDescription: `Throttled invocations of ${aliasResource}`,
          Namespace: 'AWS/Lambda',
          MetricName: 'Throttles',
          Dimensions: [
            { Name: 'FunctionName', Value: { Ref: fnId } },
            { Name: 'Resource', Value: aliasResource },
          ],
          Statistic: 'Sum',
          Period: period,
          Threshold: alarms.throttles,
        },
      },
    };
  }

  /**
   * Input drift on the stage: the largest per-feature PSI any variant reported in the period. Not a
   * rollback alarm (drift is about the data, not the code being rolled out): it notifies.
   */
  driftAlarm() {
    const drift = { psiThreshold: 0.2, periodSeconds: 900, ...this.numbers('drift') };
    return {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${this.stackName}-model-drift`,
        AlarmDescription: `A model's input drifted on stage ${this.stage}: some feature's PSI reached ${drift.psiThreshold} (modelfleet monitor <model> names it)`,
        Namespace: metricsSpec.namespace,
        MetricName: metricsSpec.monitoring.driftPsiMax.name,
        Dimensions: this.serviceDimensions(),
        Statistic: 'Maximum',
        Period: drift.periodSeconds,
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        Threshold: drift.psiThreshold,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      },
    };
  }

  // --- dashboard --------------------------------------------------------------------------------

  dashboard() {
    const { namespace, dimensions, metrics } = metricsSpec;
    const region = this.provider.getRegion();
    const stage = this.stage;
    const perVersion = `{${[namespace, ...dimensions.perVersion].join(',')}}`;
    const search = (metric, stat, id) => ({
      expression: `SEARCH('${perVersion} MetricName="${metrics[metric].name}" stage="${stage}"', '${stat}', 60)`,
      id,
    });
    // Monitoring figures arrive with feedback and once per drift interval: a longer period.
    const { monitoring } = metricsSpec;
    const monitored = (metric, stat, id) => ({
      expression: `SEARCH('${perVersion} MetricName="${monitoring[metric].name}" stage="${stage}"', '${stat}', 300)`,
      id,
    });
    const service = (metric, id) => [
      namespace,
      metrics[metric].name,
      'stage',
      stage,
      { id, stat: 'Sum', visible: false },
    ];
    let y = 0;
    const widget = (title, properties, width = 12) => {
      const placed = {
        type: 'metric',
        width,
        height: 6,
        x: 0,
        y,
        properties: { region, title, ...properties },
      };
      y += 6;
      return placed;
    };
    const fnMetrics = this.settings.inferenceFunctions.flatMap((name) => {
      const resource = `${this.fn(name).name}:${ALIAS}`;
      const dims = ['FunctionName', this.fn(name).name, 'Resource', resource];
      return [
        ['AWS/Lambda', 'Invocations', ...dims, { stat: 'Sum' }],
        ['AWS/Lambda', 'Errors', ...dims, { stat: 'Sum' }],
        ['AWS/Lambda', 'Throttles', ...dims, { stat: 'Sum' }],
        ['AWS/Lambda', 'ProvisionedConcurrencyUtilization', ...dims, { stat: 'Maximum' }],
      ];
    });
    const widgets = [
      widget('Requests per variant / version', {
        metrics: [[search('requests', 'Sum', 'r')]],
        view: 'timeSeries',
      }),
      widget('Errors per variant / version', {
        metrics: [[search('errors', 'Sum', 'e')]],
        view: 'timeSeries',
      }),
      widget('Latency p50 per variant / version (ms)', { metrics: [[search('latency', 'p50', 'p50')]] }),
      widget('Latency p99 per variant / version (ms)', { metrics: [[search('latency', 'p99', 'p99')]] }),
      widget('Cold starts per variant / version', { metrics: [[search('coldStart', 'Sum', 'c')]] }),
      widget('Model cache hit rate (%)', {
        metrics: [
          service('cacheHit', 'hit'),
          service('cacheMiss', 'miss'),
          [{ expression: 'IF(hit + miss > 0, 100 * hit / (hit + miss), 0)', label: 'hit rate', id: 'rate' }],
        ],
        yAxis: { left: { min: 0, max: 100 } },
      }),
      widget('Accuracy per variant / version (feedback joined with capture)', {
        metrics: [[monitored('accuracy', 'Average', 'acc')]],
        yAxis: { left: { min: 0, max: 1 } },
      }),
      widget('MAE per variant / version (regressors)', { metrics: [[monitored('mae', 'Average', 'mae')]] }),
      widget('Drift: max PSI per variant / version', {
        metrics: [
          [monitored('driftPsiMax', 'Maximum', 'psi')],
          [monitored('predictionPsi', 'Maximum', 'ppsi')],
        ],
        annotations: {
          horizontal: [
            { label: 'drift alarm', value: { psiThreshold: 0.2, ...this.numbers('drift') }.psiThreshold },
          ],
        },
      }),
      widget('Drift: PSI per feature', {
        metrics: [
          [
            {
              expression: `SEARCH('${perVersion} stage="${stage}" MetricName=${monitoring.featurePsiPrefix}', 'Maximum', 300)`,
              id: 'features',
            },
          ],
        ],
      }),
      widget('Capture records dropped', { metrics: [[monitored('captureDropped', 'Sum', 'drop')]] }),
      widget('Lambda alias (live)', { metrics: fnMetrics }),
      {
        type: 'alarm',
        width: 12,
        height: 4,
        x: 0,
        y,
        properties: {
          title: 'Rollback alarms',
          alarms: this.settings.inferenceFunctions.flatMap((name) =>
            ['error-rate', 'latency-p99', 'lambda-errors', 'throttles'].map(
              (what) => `arn:aws:cloudwatch:${region}::alarm:${this.alarmName(name, what)}`,
            ),
          ),
        },
      },
    ];
    return {
      Type: 'AWS::CloudWatch::Dashboard',
      Properties: {
        DashboardName: this.stackName,
        // The account id is only known to CloudFormation; alarm ARNs need it.
        DashboardBody: {
          'Fn::Sub': JSON.stringify({ widgets }).replaceAll(
            `arn:aws:cloudwatch:${region}::alarm:`,
            `arn:\${AWS::Partition}:cloudwatch:${region}:\${AWS::AccountId}:alarm:`,
          ),
        },
      },
    };
  }

  // --- hooks ------------------------------------------------------------------------------------

  addResources() {
    const resources = this.template.Resources;
    const location = this.modelLocation();
    if (location?.created) this.addModelsBucket(resources);
    const hooks = new Set();
    for (const name of this.settings.inferenceFunctions) {
      const fn = this.fn(name);
      const hook = this.hookOf(name);
      if (hooks.has(hook))
        throw this.error(`each inference function needs its own pre-traffic hook ("${hook}")`);
      hooks.add(hook);
      this.assertRole(name);
      this.assertRole(hook);
      const fnId = this.logicalId(name);
      resources[this.roleLogicalId(name)] = this.role([
        this.logStatement(name),
        ...this.modelReadStatements(location),
      ]);
      resources[this.roleLogicalId(hook)] = this.role([
        this.logStatement(hook),
        ...this.modelReadStatements(location),
        {
          // Any published version of this one function: the version under test changes every deploy.
          Effect: 'Allow',
          Action: ['lambda:InvokeFunction'],
          Resource: { 'Fn::Sub': `\${${fnId}.Arn}:*` },
        },
        {
          Effect: 'Allow',
          Action: ['codedeploy:PutLifecycleEventHookExecutionStatus'],
          Resource: {
            'Fn::Sub': [
              'arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:${App}/${Group}',
              { App: { Ref: this.codeDeployAppLogicalId() }, Group: this.deploymentGroupName(name) },
            ],
          },
        },
      ]);
      const alarms = this.alarms(name);
      Object.assign(resources, alarms);
      // The canary plugin reads these when it builds the deployment group's AlarmConfiguration.
      fn.deploymentSettings.alarms = Object.keys(alarms);
      if (location !== undefined) {
        const repository = {
          'Fn::Sub': ['s3://${Bucket}/${Prefix}', { Bucket: location.bucket, Prefix: location.prefix }],
        };
        for (const id of [fnId, this.logicalId(hook)]) {
          resources[id].Properties.Environment.Variables.MODEL_REPOSITORY = repository;
        }
      }
    }
    if (location !== undefined) {
      this.template.Outputs = {
        ...this.template.Outputs,
        ModelRepository: {
          Description: 'MODEL_REPOSITORY of this stage: publish models here with the modelfleet CLI',
          Value: {
            'Fn::Sub': ['s3://${Bucket}/${Prefix}', { Bucket: location.bucket, Prefix: location.prefix }],
          },
        },
      };
    }
    resources.ServiceDashboard = this.dashboard();
    resources.ModelDriftAlarm = this.driftAlarm();
    resources.ModelfleetCodeDeployRole = this.codeDeployRole();
    this.addGuard(resources, location);
    addStream(this, resources, location);
  }

  // --- rollout guard ----------------------------------------------------------------------------

  /**
   * The managed-rollout guard (functions/aws/guard.ts): reads CloudWatch, writes only the
   * deployment configs under the prefix, and is invoked at once by an alarm on the canary
   * variant's error rate, a Metrics Insights query over every model's `canary` series, which only
   * has data while a canary runs (so it needs no creating and removing per rollout).
   */
  addGuard(resources, location) {
    const guard = this.settings.guard;
    if (guard === undefined) return;
    const name = guard.function;
    this.assertRole(name);
    const rate = Number(guard.alarmErrorRate);
    if (!(rate > 0 && rate < 1)) {
      throw this.error(
        `guard.alarmErrorRate must be a fraction between 0 and 1, got ${JSON.stringify(guard.alarmErrorRate)}`,
      );
    }
    const fnId = this.logicalId(name);
    const writes =
      location === undefined
        ? []
        : [
            {
              Effect: 'Allow',
              Action: ['s3:PutObject'],
              Resource: {
                'Fn::Sub': [
                  'arn:${AWS::Partition}:s3:::${Bucket}/${Prefix}/*/deployments/*',
                  { Bucket: location.bucket, Prefix: location.prefix },
                ],
              },
            },
          ];
    resources[this.roleLogicalId(name)] = this.role([
      this.logStatement(name),
      ...this.modelReadStatements(location),
      ...writes,
      // GetMetricData has no resource-level permissions: '*' is the only resource it accepts.
      { Effect: 'Allow', Action: ['cloudwatch:GetMetricData'], Resource: '*' },
    ]);
    if (location !== undefined) {
      resources[fnId].Properties.Environment.Variables.MODEL_REPOSITORY = {
        'Fn::Sub': ['s3://${Bucket}/${Prefix}', { Bucket: location.bucket, Prefix: location.prefix }],
      };
    }
    const stage = this.stage.replace(/'/g, "''");
    resources.CanaryErrorRateAlarm = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${this.stackName}-canary-error-rate`,
        AlarmDescription: `A canary on stage ${this.stage} fails more than ${rate * 100}% of its requests: runs the rollout guard now`,
        ActionsEnabled: String(guard.enabled) === 'true',
        Metrics: [
          {
            Id: 'canaryErrorRate',
            Expression: `SELECT AVG(${metricsSpec.metrics.errors.name}) FROM SCHEMA("${metricsSpec.namespace}", ${metricsSpec.dimensions.perVersion.join(', ')}) WHERE stage = '${stage}' AND variant = 'canary'`,
            Period: 60,
            ReturnData: true,
          },
        ],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: rate,
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ 'Fn::GetAtt': [fnId, 'Arn'] }],
      },
    };
    resources.GuardAlarmInvokePermission = {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
        Principal: 'lambda.alarms.cloudwatch.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': ['CanaryErrorRateAlarm', 'Arn'] },
        SourceAccount: { Ref: 'AWS::AccountId' },
      },
    };
  }

  /** What CodeDeploy does for a Lambda blue/green deployment, on these functions and alarms only. */
  codeDeployRole() {
    const names = this.settings.inferenceFunctions;
    const fnArns = names.flatMap((name) => {
      const id = this.logicalId(name);
      return [{ 'Fn::GetAtt': [id, 'Arn'] }, { 'Fn::Sub': `\${${id}.Arn}:*` }];
    });
    return {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: ['codedeploy.amazonaws.com'] },
              Action: ['sts:AssumeRole'],
            },
          ],
        },
        Policies: [
          {
            PolicyName: 'lambda-traffic-shifting',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Action: ['lambda:GetAlias', 'lambda:UpdateAlias', 'lambda:GetProvisionedConcurrencyConfig'],
                  Resource: fnArns,
                },
                {
                  Effect: 'Allow',
                  Action: ['lambda:InvokeFunction'],
                  Resource: names.map((name) => ({
                    'Fn::GetAtt': [this.logicalId(this.hookOf(name)), 'Arn'],
                  })),
                },
                {
                  Effect: 'Allow',
                  Action: ['cloudwatch:DescribeAlarms'],
                  Resource: {
                    'Fn::Sub': `arn:\${AWS::Partition}:cloudwatch:\${AWS::Region}:\${AWS::AccountId}:alarm:${this.stackName}-*`,
                  },
                },
              ],
            },
          },
        ],
      },
    };
  }

  wireAliases() {
    const resources = this.template.Resources;
    const scaling = this.numbers('scaling');
    for (const name of this.settings.inferenceFunctions) {
      const fnId = this.logicalId(name);
      const aliasId = `${fnId}Alias${ALIAS}`;
      const alias = resources[aliasId];
      if (alias === undefined) {
        throw this.error(
          `${aliasId} is missing: is serverless-plugin-canary-deployments listed before this plugin?`,
        );
      }
      const hookId = this.logicalId(this.hookOf(name));
      // The hook must know which version it tests: CodeDeploy only gives it the deployment id.
      resources[hookId].Properties.Environment.Variables.TARGET_VERSION_ARN = {
        Ref: this.versionLogicalId(name),
      };
      // Updated hook (new target) and alarms (new ExecutedVersion) must be in place before the
      // alias update starts the CodeDeploy deployment that uses them.
      alias.DependsOn = [
        ...new Set([...(alias.DependsOn ?? []), hookId, ...Object.values(this.alarmIds(name))]),
      ];
      const urlId = this.provider.naming.getLambdaFunctionUrlLogicalId(name);
      if (resources[urlId] !== undefined) {
        // Otherwise the URL serves $LATEST: no traffic shifting, no rollback, no provisioned concurrency.
        resources[urlId].Properties.Qualifier = ALIAS;
        resources[urlId].DependsOn = [...new Set([...(resources[urlId].DependsOn ?? []), aliasId])];
      }
      if (scaling.max > 0) this.addScaling(name, aliasId);
    }
  }

  addScaling(name, aliasId) {
    const resources = this.template.Resources;
    const scaling = this.numbers('scaling');
    const n = this.normalized(name);
    // On the canary plugin's alias, not through `provisionedConcurrency` (whose own `provisioned`
    // alias would take the events away from `live`). The template value stays `min` forever, so a
    // deploy never fights the autoscaler (CloudFormation only acts on template changes).
    resources[aliasId].Properties.ProvisionedConcurrencyConfig = {
      ProvisionedConcurrentExecutions: scaling.min,
    };
    const targetId = `${n}ProvisionedConcurrencyTarget`;
    resources[targetId] = {
      Type: 'AWS::ApplicationAutoScaling::ScalableTarget',
      // Registering a target for an alias that does not exist yet fails the stack.
      DependsOn: [aliasId],
      Properties: {
        ServiceNamespace: 'lambda',
        ScalableDimension: 'lambda:function:ProvisionedConcurrency',
        ResourceId: `function:${this.fn(name).name}:${ALIAS}`,
        MinCapacity: scaling.min,
        MaxCapacity: scaling.max,
      },
    };
    resources[`${n}ProvisionedConcurrencyScaling`] = {
      Type: 'AWS::ApplicationAutoScaling::ScalingPolicy',
      Properties: {
        PolicyName: `${this.stackName}-${name}-pc-utilization`,
        PolicyType: 'TargetTrackingScaling',
        ScalingTargetId: { Ref: targetId },
        TargetTrackingScalingPolicyConfiguration: {
          TargetValue: scaling.targetUtilization,
          PredefinedMetricSpecification: { PredefinedMetricType: 'LambdaProvisionedConcurrencyUtilization' },
          ScaleInCooldown: scaling.scaleInCooldownSeconds,
          ScaleOutCooldown: scaling.scaleOutCooldownSeconds,
        },
      },
    };
  }

  checkSizes() {
    // Artifacts are recorded as ".serverless/<fn>.zip" even when `--package <dir>` put them elsewhere.
    const folder = this.options.package ?? path.join(this.serverless.config.servicePath, '.serverless');
    const zips = [
      ...new Set(
        this.serverless.service
          .getAllFunctions()
          .map((name) => this.fn(name).package?.artifact)
          .filter((artifact) => typeof artifact === 'string')
          .map((artifact) =>
            path.resolve(this.serverless.config.servicePath, folder, path.basename(artifact)),
          ),
      ),
    ];
    const missing = zips.filter((file) => !fs.existsSync(file));
    if (zips.length === 0 || missing.length > 0) {
      throw this.error(`cannot check package sizes: missing ${missing.join(', ') || 'artifacts'}`);
    }
    try {
      for (const report of checkPackages(zips, this.settings.packageLimits)) {
        this.log.notice(
          `${path.basename(report.file)}: ${(report.zipBytes / 1048576).toFixed(1)} MB zipped, ` +
            `${(report.unpackedBytes / 1048576).toFixed(1)} MB unpacked`,
        );
      }
    } catch (err) {
      throw this.error(err.message);
    }
  }
}

module.exports = ModelfleetAwsPlugin;
