// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub placeholders, not JavaScript templates
// The stream function's part of the stack (docs/streaming.md), called by modelfleet-plugin.js at
// before:package:finalize: its least-privilege role, and the Kinesis and Kafka event source
// mappings, which serverless.yml cannot make conditional (a stage may have neither) and whose
// Kafka partial batch responses it cannot express. The SQS source, results and dead-letter queues
// are plain serverless.yml (functions.stream, resources).

/**
 * settings (custom.modelfleet.stream): function, recordsQueue, resultsQueue, deadLetterQueue
 * (logical ids), kinesisStreamArn, mskClusterArn, kafkaTopic, kafkaBootstrapServers, kafkaSecretArn.
 */
function addStream(plugin, resources, location) {
  const stream = plugin.settings.stream;
  if (stream === undefined) return;
  const name = stream.function;
  plugin.assertRole(name);
  const fnId = plugin.logicalId(name);
  const arn = (id) => ({ 'Fn::GetAtt': [id, 'Arn'] });
  const statements = [
    plugin.logStatement(name),
    ...plugin.modelReadStatements(location),
    {
      Effect: 'Allow',
      Action: [
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:ChangeMessageVisibility',
      ],
      Resource: arn(stream.recordsQueue),
    },
    // Results and dead letters: send only, to these two queues.
    {
      Effect: 'Allow',
      Action: ['sqs:SendMessage'],
      Resource: [arn(stream.resultsQueue), arn(stream.deadLetterQueue)],
    },
  ];
  if (stream.kinesisStreamArn) {
    statements.push(...kinesisSource(resources, fnId, stream));
  }
  if (stream.mskClusterArn || stream.kafkaBootstrapServers) {
    statements.push(...kafkaSource(plugin, resources, fnId, stream));
  }
  resources[plugin.roleLogicalId(name)] = plugin.role(statements);
  if (location !== undefined) {
    resources[fnId].Properties.Environment.Variables.MODEL_REPOSITORY = {
      'Fn::Sub': ['s3://${Bucket}/${Prefix}', { Bucket: location.bucket, Prefix: location.prefix }],
    };
  }
}

/** A Kinesis mapping: partial batch responses, bisect on error, then the dead-letter queue. */
function kinesisSource(resources, fnId, stream) {
  resources.StreamKinesisEventSourceMapping = {
    Type: 'AWS::Lambda::EventSourceMapping',
    Properties: {
      FunctionName: { Ref: fnId },
      EventSourceArn: stream.kinesisStreamArn,
      StartingPosition: 'LATEST',
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [stream.deadLetterQueue, 'Arn'] } } },
    },
  };
  return [
    {
      Effect: 'Allow',
      Action: [
        'kinesis:GetRecords',
        'kinesis:GetShardIterator',
        'kinesis:DescribeStream',
        'kinesis:DescribeStreamSummary',
        'kinesis:ListShards',
        'kinesis:SubscribeToShard',
      ],
      Resource: stream.kinesisStreamArn,
    },
  ];
}

/** An MSK (IAM auth) or self-managed (SASL/SCRAM secret) mapping, with partial batch responses. */
function kafkaSource(plugin, resources, fnId, stream) {
  if (!stream.kafkaTopic) throw plugin.error('stream: a Kafka source needs kafkaTopic');
  const msk = Boolean(stream.mskClusterArn);
  const properties = {
    FunctionName: { Ref: fnId },
    Topics: [stream.kafkaTopic],
    StartingPosition: 'LATEST',
    BatchSize: 100,
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    // Retry controls and partial batch responses of Kafka mappings need provisioned pollers.
    ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 10 },
    DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [stream.deadLetterQueue, 'Arn'] } } },
  };
  if (msk) properties.EventSourceArn = stream.mskClusterArn;
  else {
    if (!stream.kafkaSecretArn) throw plugin.error('stream: self-managed Kafka needs kafkaSecretArn');
    properties.SelfManagedEventSource = {
      Endpoints: { KafkaBootstrapServers: String(stream.kafkaBootstrapServers).split(',') },
    };
    properties.SourceAccessConfigurations = [{ Type: 'SASL_SCRAM_512_AUTH', URI: stream.kafkaSecretArn }];
  }
  resources.StreamKafkaEventSourceMapping = {
    Type: 'AWS::Lambda::EventSourceMapping',
    Properties: properties,
  };
  if (!msk) {
    return [{ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: stream.kafkaSecretArn }];
  }
  const cluster = stream.mskClusterArn;
  // arn:aws:kafka:region:account:cluster/name/uuid → topic/ and group/ ARNs of the same cluster.
  const sibling = (kind) => `${String(cluster).replace(':cluster/', `:${kind}/`)}/*`;
  return [
    {
      Effect: 'Allow',
      Action: [
        'kafka:DescribeCluster',
        'kafka:DescribeClusterV2',
        'kafka:GetBootstrapBrokers',
        'kafka-cluster:Connect',
      ],
      Resource: cluster,
    },
    {
      Effect: 'Allow',
      Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
      Resource: sibling('topic'),
    },
    {
      Effect: 'Allow',
      Action: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
      Resource: sibling('group'),
    },
    // The mapping reaches the brokers through network interfaces in the cluster's VPC.
    {
      Effect: 'Allow',
      Action: [
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DeleteNetworkInterface',
        'ec2:DescribeVpcs',
        'ec2:DescribeSubnets',
        'ec2:DescribeSecurityGroups',
      ],
      Resource: '*',
    },
  ];
}

module.exports = { addStream };
