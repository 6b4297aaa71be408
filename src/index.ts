export { type Clock, systemClock } from "./core/clock.js";
export { SignatureAlgorithm, WebhookEventType, WebhookStatus } from "./core/enums.js";
export {
  ConfigurationError,
  ConflictError,
  DeliveryError,
  HooklineError,
  type HooklineErrorCode,
  NotFoundError,
  WebhookVerificationError,
} from "./core/errors.js";
export { matchesEventType } from "./core/event-filter.js";
export type { AnyEvents, EventMap, WebhookEnvelope } from "./core/event-map.js";
export { canonicalJson } from "./core/json.js";
export {
  DeliveryResult,
  type DeliveryResultDict,
  type DeliveryResultOptions,
  type EventTypeName,
  WebhookConfig,
  type WebhookConfigOptions,
  WebhookEvent,
  type WebhookEventDict,
  type WebhookEventOptions,
} from "./core/models.js";
export { DEFAULTS } from "./core/options.js";
export { type ApiKey, ApiKeys } from "./delivery/api-keys.js";
export {
  type AttemptOutcome,
  attemptDelivery,
  buildDeliveryHeaders,
  type DeliveryRequest,
} from "./delivery/deliver.js";
export { createWebhookDispatcher, WebhookDispatcher, type WebhookDispatcherOptions } from "./delivery/dispatcher.js";
export {
  type EventType,
  type EventTypeInput,
  EventTypes,
  type PayloadIssue,
  PayloadValidationError,
} from "./delivery/event-types.js";
export { compileFilter, type FilterEvaluator } from "./delivery/filter.js";
export { createHookline, Hookline } from "./delivery/hookline.js";
export type {
  DeliveryEvent,
  Endpoint,
  EndpointInput,
  EndpointUpdate,
  HooklineEvents,
  HooklineOptions,
  SendInput,
  SendResult,
} from "./delivery/hookline-types.js";
export {
  applyRetryAfter,
  exponentialRetry,
  linearRetry,
  parseRetryAfterMs,
  type RetryPolicy,
  scheduledRetry,
} from "./delivery/retry-policy.js";
export { createWebhookRegistry, WebhookRegistry } from "./registry/registry.js";
export { generateSecret, generateSigningKeyPair, parseSigningSecret, type SigningKey } from "./signing/secrets.js";
export { WebhookSignature } from "./signing/seed-hmac.js";
export { type HeaderSource, StandardWebhook, type StandardWebhookOptions } from "./signing/standard-webhooks.js";
export { MemoryStore, memoryStore } from "./store/memory/memory-store.js";
export type {
  AppRecord,
  AttemptFilter,
  AttemptRecord,
  AttemptTrigger,
  BodyFormat,
  DeliveryFilter,
  DeliveryRecord,
  DeliveryStatus,
  DocumentRecord,
  EndpointRecord,
  EndpointSecret,
  MessageFilter,
  MessageRecord,
  Page,
  PageOptions,
  Store,
  WorkerRecord,
} from "./store/store.js";
export { HTTPWebhookTransport, type WebhookTransportHandler } from "./transport/callback-transport.js";
export { EgressPolicy, type EgressPolicyOptions } from "./transport/egress-guard.js";
export { HttpTransport, type HttpTransportOptions } from "./transport/http-transport.js";
export { type TransportResponse, WebhookTransport } from "./transport/transport.js";
