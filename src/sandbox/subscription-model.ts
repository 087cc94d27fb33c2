import { parseSearchRequest, type SearchRequest } from '@medplum/core';
import type { Element, Extension, Subscription } from '@medplum/fhirtypes';
import { BackportUrl, DEFAULT_NOTIFY_TIMEOUT_MS, SUPPORTED_TOPICS } from './constants.js';
import { parseTopicFilter, type TopicFilter } from './topic-filters.js';

/** Subscription with the primitive-extension siblings the Backport IG uses (absent from fhirtypes). */
type BackportSubscription = Subscription & {
  _criteria?: Element;
  channel?: Subscription['channel'] & { _payload?: Element };
};

/** Backport IG payload content codes. */
export type PayloadContent = 'empty' | 'id-only' | 'full-resource';

interface ChannelConfig {
  id: string;
  /** The Subscription as stored when this config was parsed (extensions, raw headers). */
  resource: Subscription;
  status: NonNullable<Subscription['status']>;
  endpoint: string;
  /** `channel.header` entries split on the first `:`. */
  headers: Record<string, string>;
  /** `channel.payload` MIME type, if any. */
  payload?: string;
  timeoutMs: number;
}

/** R4 classic criteria Subscription (`criteria` is a search string). */
export interface ClassicConfig extends ChannelConfig {
  kind: 'classic';
  criteria: SearchRequest;
}

/** R4 Backport IG topic Subscription (`criteria` is a topic canonical). */
export interface TopicConfig extends ChannelConfig {
  kind: 'topic';
  topic: string;
  filters: TopicFilter[];
  content: PayloadContent;
  /** Heartbeat period in seconds, when requested. */
  heartbeatSec?: number;
}

/** A parsed Subscription the notifier can act on. */
export type SubscriptionConfig = ClassicConfig | TopicConfig;

/** Parses a Subscription; returns an error message when the sandbox cannot serve it. */
export function parseSubscription(sub: Subscription): SubscriptionConfig | { error: string } {
  if (!sub.id || !sub.status) return { error: 'Subscription needs an id and a status' };
  if (sub.channel?.type !== 'rest-hook') return { error: `Unsupported channel type: ${sub.channel?.type}` };
  if (!sub.channel.endpoint) return { error: 'rest-hook channel needs an endpoint' };
  const base: ChannelConfig = {
    id: sub.id,
    resource: sub,
    status: sub.status,
    endpoint: sub.channel.endpoint,
    headers: parseHeaders(sub.channel.header),
    payload: sub.channel.payload,
    timeoutMs:
      millisFromSeconds(sub.channel.extension, BackportUrl.timeout, 'valueUnsignedInt') ?? DEFAULT_NOTIFY_TIMEOUT_MS,
  };
  if (isTopicSubscription(sub)) return parseTopic(sub, base);
  try {
    const criteria = parseSearchRequest(sub.criteria ?? '');
    if (!criteria.resourceType) return { error: `Invalid criteria: ${sub.criteria}` };
    return { ...base, kind: 'classic', criteria };
  } catch (err) {
    return { error: `Invalid criteria: ${(err as Error).message}` };
  }
}

/** Backport subscription: backport profile, or criteria naming a topic canonical we support. */
export function isTopicSubscription(sub: Subscription): boolean {
  return (
    (sub.meta?.profile ?? []).includes(BackportUrl.subscriptionProfile) || SUPPORTED_TOPICS.includes(sub.criteria ?? '')
  );
}

function parseTopic(sub: BackportSubscription, base: ChannelConfig): TopicConfig | { error: string } {
  const topic = sub.criteria ?? '';
  if (!SUPPORTED_TOPICS.includes(topic)) return { error: `Unsupported SubscriptionTopic: ${topic}` };
  const filterStrings = (sub._criteria?.extension ?? [])
    .filter((e) => e.url === BackportUrl.filterCriteria && e.valueString)
    .map((e) => e.valueString as string);
  const content = sub.channel?._payload?.extension?.find((e) => e.url === BackportUrl.payloadContent)?.valueCode;
  if (content !== undefined && !['empty', 'id-only', 'full-resource'].includes(content)) {
    return { error: `Unsupported payload content: ${content}` };
  }
  const heartbeat = sub.channel?.extension?.find((e) => e.url === BackportUrl.heartbeatPeriod)?.valueUnsignedInt;
  return {
    ...base,
    kind: 'topic',
    topic,
    filters: filterStrings.map(parseTopicFilter),
    // No payload-content extension: `empty` without channel.payload, otherwise `id-only`.
    content: (content as PayloadContent | undefined) ?? (sub.channel?.payload ? 'id-only' : 'empty'),
    heartbeatSec: heartbeat && heartbeat > 0 ? heartbeat : undefined,
  };
}

/** `Name: value` strings to a header record, split on the first colon (HAPI's rule). */
export function parseHeaders(lines: readonly string[] | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines ?? []) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function millisFromSeconds(
  extensions: Extension[] | undefined,
  url: string,
  key: 'valueUnsignedInt' | 'valuePositiveInt',
): number | undefined {
  const seconds = extensions?.find((e) => e.url === url)?.[key];
  return seconds && seconds > 0 ? seconds * 1000 : undefined;
}
