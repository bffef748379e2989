/**
 * Google Cloud Pub/Sub (topics.publish, REST) and Azure Event Hubs (REST send batch, SAS token)
 * sinks, with fetch. A publish is all or nothing in both APIs: a refusal throws.
 */
import { createHmac } from 'node:crypto';
import { chunk, type RecordSink, SinkError, send } from './sinks';

export interface PubSubSinkSettings {
  /** `projects/<project>/topics/<topic>`. */
  topic: string;
  /** https://pubsub.googleapis.com, or http://$PUBSUB_EMULATOR_HOST (no token then). */
  endpoint: string;
  /** The function's service-account token (metadata server); undefined for an emulator. */
  accessToken?: () => Promise<string>;
}

/** Pub/Sub topics.publish: ≤ 1,000 messages and 10 MB per request. */
export function pubSubSink(settings: PubSubSinkSettings): RecordSink {
  const url = `${settings.endpoint.replace(/\/$/, '')}/v1/${settings.topic}:publish`;
  return {
    kind: 'pubsub',
    async write(messages) {
      for (const batch of chunk(messages, 1000, 9 * 1024 * 1024)) {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (settings.accessToken !== undefined)
          headers['authorization'] = `Bearer ${await settings.accessToken()}`;
        const body = JSON.stringify({
          messages: batch.map((message) => ({
            data: Buffer.from(message.body, 'utf8').toString('base64'),
            attributes: message.attributes,
          })),
        });
        const answer = JSON.parse(await send(url, { method: 'POST', headers, body }, 'Pub/Sub publish')) as {
          messageIds?: unknown[];
        };
        if (answer.messageIds?.length !== batch.length) {
          throw new SinkError(
            `Pub/Sub publish: ${batch.length} messages sent, ${answer.messageIds?.length ?? 0} ids back`,
          );
        }
      }
      return [];
    },
  };
}

/** The parts of an Event Hubs connection string (a send-only shared access policy). */
export interface EventHubConnection {
  /** https://<namespace>.servicebus.windows.net (or EVENTHUB_ENDPOINT_URL). */
  endpoint: string;
  /** The namespace host the SAS token is for. */
  host: string;
  hub: string;
  keyName: string;
  key: string;
}

/** Event Hubs send batch (`POST /<hub>/messages`, JSON batch content type): ≤ 1 MB per request. */
export function eventHubSink(connection: EventHubConnection, now = () => Date.now()): RecordSink {
  const url = `${connection.endpoint.replace(/\/$/, '')}/${encodeURIComponent(connection.hub)}/messages?api-version=2014-01&timeout=60`;
  return {
    kind: 'eventhub',
    async write(messages) {
      for (const batch of chunk(messages, 500, 900 * 1024)) {
        const body = JSON.stringify(
          batch.map((message) => ({ Body: message.body, UserProperties: message.attributes })),
        );
        const headers = {
          'content-type': 'application/vnd.microsoft.servicebus.json',
          authorization: sharedAccessSignature(connection, now()),
        };
        await send(url, { method: 'POST', headers, body }, 'Event Hubs send');
      }
      return [];
    },
  };
}

/** A SAS token for the hub, valid for an hour (Service Bus/Event Hubs token format). */
export function sharedAccessSignature(connection: EventHubConnection, nowMs: number): string {
  const resource = encodeURIComponent(`https://${connection.host}/${connection.hub}`.toLowerCase());
  const expiry = Math.floor(nowMs / 1000) + 3600;
  const signature = createHmac('sha256', connection.key).update(`${resource}\n${expiry}`).digest('base64');
  return `SharedAccessSignature sr=${resource}&sig=${encodeURIComponent(signature)}&se=${expiry}&skn=${encodeURIComponent(connection.keyName)}`;
}
