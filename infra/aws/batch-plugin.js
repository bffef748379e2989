// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub placeholders, not JavaScript templates
/**
 * Batch scoring on AWS (docs/batch.md), added to the template at package time beside
 * modelfleet-plugin.js, whose helpers (model location, log and model-read statements) it reuses:
 *
 *   BatchBucket incoming/<name>.csv|jsonl ── EventBridge "Object Created" ──┬─ size < smallObjectBytes ─► batchObjectCreated (whole job)
 *                                                                          └─ otherwise ─► BatchStateMachine:
 *     Plan (batchPlan) → Chunks: Distributed Map, ItemReader = the plan object (a JSON array of byte
 *     ranges), each item → batchChunk (the CLI's chunk worker) → Finish (batchFinish)
 *   predictions go to BatchBucket predictions/<name>/ (part files, markers, errors.jsonl, _SUCCESS.json).
 *
 * Least privilege: each role names only the objects it touches (functions: incoming/* read,
 * predictions/* read-write, the model repository read; the state machine: the three functions, the
 * plan objects, its own child executions; EventBridge: StartExecution on this machine).
 */
const ModelfleetAwsPlugin = require('./modelfleet-plugin');

const FUNCTIONS = {
  plan: 'batchPlan',
  chunk: 'batchChunk',
  finish: 'batchFinish',
  whole: 'batchObjectCreated',
};
const INPUT_PREFIX = 'incoming';
const OUTPUT_PREFIX = 'predictions';

class ModelfleetBatchPlugin {
  constructor(serverless, options, utils) {
    this.serverless = serverless;
    // The main plugin's helpers, on the same service (its hooks are not registered twice).
    this.helpers = Object.create(ModelfleetAwsPlugin.prototype);
    Object.assign(this.helpers, {
      serverless,
      options,
      provider: serverless.getProvider('aws'),
      log: utils?.log,
    });
    this.hooks = { 'before:package:finalize': () => this.addResources() };
  }

  get settings() {
    return this.serverless.service.custom?.modelfleetBatch ?? {};
  }

  addResources() {
    const h = this.helpers;
    const resources = h.template.Resources;
    const location = h.modelLocation();
    const ids = Object.fromEntries(
      Object.entries(FUNCTIONS).map(([step, name]) => [step, h.logicalId(name)]),
    );
    const output = { 'Fn::Sub': `s3://\${BatchBucket}/${OUTPUT_PREFIX}` };
    for (const id of Object.values(ids)) {
      const variables = resources[id].Properties.Environment.Variables;
      variables.BATCH_OUTPUT = output;
      if (location !== undefined) {
        variables.MODEL_REPOSITORY = {
          'Fn::Sub': ['s3://${Bucket}/${Prefix}', { Bucket: location.bucket, Prefix: location.prefix }],
        };
      }
    }
    resources.BatchBucket = this.bucket();
    resources.BatchExecutionRole = h.role([
      ...Object.values(FUNCTIONS).map((name) => h.logStatement(name)),
      ...h.modelReadStatements(location),
      {
        Effect: 'Allow',
        Action: ['s3:GetObject'],
        Resource: { 'Fn::Sub': `\${BatchBucket.Arn}/${INPUT_PREFIX}/*` },
      },
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject'],
        Resource: { 'Fn::Sub': `\${BatchBucket.Arn}/${OUTPUT_PREFIX}/*` },
      },
      {
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: { 'Fn::GetAtt': ['BatchBucket', 'Arn'] },
        Condition: { StringLike: { 's3:prefix': [`${OUTPUT_PREFIX}/*`] } },
      },
    ]);
    Object.assign(resources, this.stateMachine(ids), this.rules(ids));
    h.template.Outputs = {
      ...h.template.Outputs,
      BatchInput: {
        Description: 'Put .csv, .jsonl or .parquet objects here to score them',
        Value: { 'Fn::Sub': `s3://\${BatchBucket}/${INPUT_PREFIX}/` },
      },
      BatchStateMachineArn: { Value: { Ref: 'BatchStateMachine' } },
    };
  }

  bucket() {
    return {
      Type: 'AWS::S3::Bucket',
      Properties: {
        NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
        ...this.helpers.privateBucketProperties(),
      },
    };
  }

  /** The Amazon States Language definition: Plan → Distributed Map over the plan → Finish. */
  definition() {
    const retry = [
      {
        ErrorEquals: [
          'Lambda.ServiceException',
          'Lambda.TooManyRequestsException',
          'States.Timeout',
          'Lambda.Unknown',
        ],
        IntervalSeconds: 2,
        MaxAttempts: 4,
        BackoffRate: 2,
      },
    ];
    const invoke = (arn, payload, next) => ({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: arn, Payload: payload },
      OutputPath: '$.Payload',
      Retry: retry,
      ...(next === undefined ? { End: true } : { Next: next }),
    });
    return {
      Comment: 'modelfleet batch: score one input object in byte-range chunks (docs/batch.md)',
      StartAt: 'Plan',
      States: {
        Plan: invoke('${PlanArn}', { 'detail.$': '$.detail' }, 'Chunks'),
        Chunks: {
          Type: 'Map',
          ItemReader: {
            Resource: 'arn:aws:states:::s3:getObject',
            ReaderConfig: { InputType: 'JSON' },
            Parameters: { 'Bucket.$': '$.planBucket', 'Key.$': '$.planKey' },
          },
          ItemSelector: { 'out.$': '$.out', 'index.$': '$$.Map.Item.Value.index' },
          MaxConcurrency: Number(this.settings.maxConcurrency ?? 50),
          ToleratedFailurePercentage: 0,
          ItemProcessor: {
            ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
            StartAt: 'Chunk',
            States: {
              Chunk: {
                ...invoke('${ChunkArn}', { 'out.$': '$.out', 'index.$': '$.index' }),
                OutputPath: '$.Payload.index',
              },
            },
          },
          // Only a count travels on (the payload limit is 256 KB); the chunks' results are in S3.
          // (A null ResultPath would be dropped from the template by the framework.)
          ResultSelector: { 'chunks.$': 'States.ArrayLength($)' },
          ResultPath: '$.map',
          Next: 'Finish',
        },
        Finish: invoke('${FinishArn}', { 'out.$': '$.out' }),
      },
    };
  }

  stateMachine(ids) {
    const name = `${this.helpers.stackName}-batch`;
    const machineArn = {
      'Fn::Sub': `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:stateMachine:${name}`,
    };
    const executions = {
      'Fn::Sub': `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:execution:${name}/*`,
    };
    const definition = this.definition();
    return {
      BatchStateMachineRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: { Service: ['states.amazonaws.com'] },
                Action: ['sts:AssumeRole'],
              },
            ],
          },
          Policies: [
            {
              PolicyName: 'least-privilege',
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [
                  {
                    Effect: 'Allow',
                    Action: ['lambda:InvokeFunction'],
                    Resource: [ids.plan, ids.chunk, ids.finish].map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })),
                  },
                  {
                    Effect: 'Allow',
                    Action: ['s3:GetObject'],
                    Resource: { 'Fn::Sub': `\${BatchBucket.Arn}/${OUTPUT_PREFIX}/*/_plan.json` },
                  },
                  // A Distributed Map runs its iterations as child executions of this machine.
                  { Effect: 'Allow', Action: ['states:StartExecution'], Resource: machineArn },
                  {
                    Effect: 'Allow',
                    Action: ['states:DescribeExecution', 'states:StopExecution'],
                    Resource: executions,
                  },
                ],
              },
            },
          ],
        },
      },
      BatchStateMachine: {
        Type: 'AWS::StepFunctions::StateMachine',
        Properties: {
          StateMachineName: name,
          StateMachineType: 'STANDARD',
          RoleArn: { 'Fn::GetAtt': ['BatchStateMachineRole', 'Arn'] },
          Definition: definition,
          DefinitionSubstitutions: {
            PlanArn: { 'Fn::GetAtt': [ids.plan, 'Arn'] },
            ChunkArn: { 'Fn::GetAtt': [ids.chunk, 'Arn'] },
            FinishArn: { 'Fn::GetAtt': [ids.finish, 'Arn'] },
          },
        },
      },
    };
  }

  /** S3 "Object Created" under incoming/: small objects to the function, the rest to the machine. */
  rules(ids) {
    const small = Number(this.settings.smallObjectBytes ?? 64 * 1024 * 1024);
    const pattern = (size) => ({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: {
        bucket: { name: [{ Ref: 'BatchBucket' }] },
        object: { key: [{ prefix: `${INPUT_PREFIX}/` }], size: [{ numeric: size }] },
      },
    });
    return {
      BatchSmallObjectRule: {
        Type: 'AWS::Events::Rule',
        Properties: {
          Description: `Batch inputs under ${small} bytes: scored whole by ${FUNCTIONS.whole}`,
          EventPattern: pattern(['<', small]),
          Targets: [{ Id: 'whole', Arn: { 'Fn::GetAtt': [ids.whole, 'Arn'] } }],
        },
      },
      BatchSmallObjectPermission: {
        Type: 'AWS::Lambda::Permission',
        Properties: {
          Action: 'lambda:InvokeFunction',
          FunctionName: { 'Fn::GetAtt': [ids.whole, 'Arn'] },
          Principal: 'events.amazonaws.com',
          SourceArn: { 'Fn::GetAtt': ['BatchSmallObjectRule', 'Arn'] },
        },
      },
      BatchLargeObjectRule: {
        Type: 'AWS::Events::Rule',
        Properties: {
          Description: `Batch inputs of ${small} bytes or more: the Distributed Map state machine`,
          EventPattern: pattern(['>=', small]),
          Targets: [
            {
              Id: 'state-machine',
              Arn: { Ref: 'BatchStateMachine' },
              RoleArn: { 'Fn::GetAtt': ['BatchEventsRole', 'Arn'] },
            },
          ],
        },
      },
      BatchEventsRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: { Service: ['events.amazonaws.com'] },
                Action: ['sts:AssumeRole'],
              },
            ],
          },
          Policies: [
            {
              PolicyName: 'start-batch',
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [
                  {
                    Effect: 'Allow',
                    Action: ['states:StartExecution'],
                    Resource: { Ref: 'BatchStateMachine' },
                  },
                ],
              },
            },
          ],
        },
      },
    };
  }
}

module.exports = ModelfleetBatchPlugin;
