/**
 * The kinds of event the seed module named. Any other string is also a valid
 * event type (`invoice.paid`); these four are the seed's vocabulary.
 *
 * @example
 * new WebhookEvent({ eventType: WebhookEventType.CREATED, payload: { id: 1 } });
 */
export const WebhookEventType = {
  CREATED: "created",
  UPDATED: "updated",
  DELETED: "deleted",
  CUSTOM: "custom",
} as const;
export type WebhookEventType = (typeof WebhookEventType)[keyof typeof WebhookEventType];

/** Outcome of a delivery as the seed reported it in a {@link DeliveryResult}. */
export const WebhookStatus = {
  PENDING: "pending",
  DELIVERED: "delivered",
  FAILED: "failed",
  RETRYING: "retrying",
} as const;
export type WebhookStatus = (typeof WebhookStatus)[keyof typeof WebhookStatus];

/** HMAC digest used for the seed's `X-Webhook-Signature` header. */
export const SignatureAlgorithm = {
  HMAC_SHA256: "hmac_sha256",
  HMAC_SHA512: "hmac_sha512",
} as const;
export type SignatureAlgorithm = (typeof SignatureAlgorithm)[keyof typeof SignatureAlgorithm];

const SIGNATURE_ALGORITHMS = new Set<string>(Object.values(SignatureAlgorithm));

export function isSignatureAlgorithm(value: unknown): value is SignatureAlgorithm {
  return typeof value === "string" && SIGNATURE_ALGORITHMS.has(value);
}
