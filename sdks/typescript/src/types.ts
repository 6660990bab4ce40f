/**
 * The API's bodies in the SDK's camelCase, derived from `generated/openapi.ts` (generated
 * from the OpenAPI document by scripts/gen-sdk-types.sh).
 */

import type { Camel } from './case.js';
import type { components } from './generated/openapi.js';

type S = components['schemas'];

export type Agent = Camel<S['Agent']>;
export type AgentInput = Camel<S['AgentInput']>;
export type Answer = Camel<S['Answer']>;
export type AnswerMetadata = Camel<S['AnswerMetadata']>;
export type Source = Camel<S['Source']>;
export type Analytics = Camel<S['Analytics']>;
export type ApiKey = Camel<S['ApiKey']>;
export type ApiKeyCreated = Camel<S['ApiKeyCreated']>;
export type KeyInput = Camel<S['KeyInput']>;
export type KeyUpdate = Camel<S['KeyUpdate']>;
export type Article = Camel<S['Article']>;
export type ArticleInput = Camel<S['ArticleInput']>;
export type ArticleVersion = Camel<S['ArticleVersion']>;
export type DataSource = Camel<S['DataSource']>;
export type DataSourceInput = Camel<S['DataSourceInput']>;
export type Delivery = Camel<S['Delivery']>;
export type Document = Camel<S['Document']>;
export type ErrorBody = Camel<S['ErrorBody']>;
export type FeedbackInput = Camel<S['FeedbackInput']>;
export type Interaction = Camel<S['Interaction']>;
export type Job = Camel<S['Job']>;
export type Me = Camel<S['Me']>;
export type QueryInput = Camel<S['QueryInput']>;
export type SemanticSearchInput = Camel<S['SemanticSearchInput']>;
export type SemanticSearchOutput = Camel<S['SemanticSearchOutput']>;
export type SyncStatus = Camel<S['SyncStatus']>;
export type UploadResponse = Camel<S['UploadResponse']>;
export type User = Camel<S['User']>;
export type UserInput = Camel<S['UserInput']>;
export type Webhook = Camel<S['Webhook']>;
export type WebhookInput = Camel<S['WebhookInput']>;
export type WebhookWithSecret = Camel<S['WebhookWithSecret']>;

/** Filters of `interactions.list`. */
export interface InteractionFilters {
  limit?: number;
  offset?: number;
  agentId?: string;
  startDate?: string;
  endDate?: string;
  feedback?: 'positive' | 'negative' | 'null';
}

/** Parameters of `analytics.get`. */
export interface AnalyticsParams {
  startDate: string;
  endDate: string;
  agentId?: string;
  granularity?: 'hour' | 'day' | 'week' | 'month';
}
