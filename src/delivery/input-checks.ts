import { isIP } from "node:net";
import { isSignatureAlgorithm } from "../core/enums.js";
import { ConfigurationError } from "../core/errors.js";
import { requireInteger, requireText } from "../core/models.js";
import type { EndpointPatch } from "../store/store.js";
import type { EgressPolicy } from "../transport/egress-guard.js";
import { isReservedHeader } from "./deliver.js";
import { compileFilter } from "./filter.js";
import type { EndpointUpdate } from "./hookline-types.js";

// The checks of what callers give the engine (names, lists, maps, endpoint fields), each failing
// with a ConfigurationError that names the field.

/** The longest id, uid, name or list item a caller may give. */
const MAX_NAME_LENGTH = 256;

/** Checks every field of an endpoint input; returns the store patch. */
export function validatePatch(egress: EgressPolicy, input: EndpointUpdate): EndpointPatch {
  const patch: EndpointPatch = {};
  if (input.url !== undefined) patch.url = validateUrl(egress, input.url);
  if (input.eventTypes !== undefined) patch.eventTypes = optionalNames("eventTypes", input.eventTypes) ?? [];
  if (input.channels !== undefined) patch.channels = optionalNames("channels", input.channels ?? undefined);
  if (input.description !== undefined) {
    requireText("description", input.description, 4096);
    patch.description = input.description;
  }
  if (input.uid !== undefined) {
    if (input.uid !== null) requireName("uid", input.uid);
    patch.uid = input.uid;
  }
  if (input.headers !== undefined) {
    const headers = stringMap("headers", input.headers);
    for (const [name, value] of Object.entries(headers)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(value)) {
        throw new ConfigurationError(
          "HOOKLINE_CONFIGURATION_INVALID",
          `headers: ${JSON.stringify(name)} is not a valid header`,
        );
      }
      if (isReservedHeader(name)) {
        throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", `headers: ${name} is set by hookline itself`);
      }
    }
    patch.headers = headers;
  }
  if (input.metadata !== undefined) patch.metadata = stringMap("metadata", input.metadata);
  if (input.rateLimitPerSecond !== undefined) {
    if (input.rateLimitPerSecond !== null) requireInteger("rateLimitPerSecond", input.rateLimitPerSecond, 1);
    patch.rateLimitPerSecond = input.rateLimitPerSecond;
  }
  if (input.signatureAlgorithm !== undefined) {
    if (!isSignatureAlgorithm(input.signatureAlgorithm)) {
      throw new ConfigurationError(
        "HOOKLINE_CONFIGURATION_INVALID",
        "signatureAlgorithm must be hmac_sha256 or hmac_sha512",
      );
    }
    patch.signatureAlgorithm = input.signatureAlgorithm;
  }
  if (input.timeoutMs !== undefined) {
    requireInteger("timeoutMs", input.timeoutMs, 1);
    patch.timeoutMs = input.timeoutMs;
  }
  if (input.disabled !== undefined) {
    if (typeof input.disabled !== "boolean") {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "disabled must be a boolean");
    }
    patch.disabled = input.disabled;
  }
  if (input.ordering !== undefined) {
    if (input.ordering !== null && input.ordering !== "fifo") {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", 'ordering must be "fifo" or null');
    }
    patch.ordering = input.ordering;
  }
  if (input.filter !== undefined) {
    if (input.filter !== null) compileFilter(input.filter);
    patch.filter = input.filter;
  }
  return patch;
}

/** An endpoint URL: http(s), parseable, and not a literal address the egress guard refuses. */
export function validateUrl(egress: EgressPolicy, url: unknown): string {
  if (typeof url !== "string" || url.length === 0 || url.length > 2048) {
    throw new ConfigurationError(
      "HOOKLINE_CONFIGURATION_INVALID",
      "url must be a non-empty string of ≤ 2048 characters",
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", `url ${JSON.stringify(url)} is not a valid URL`, {
      cause: error,
    });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", `url must be http or https, got ${parsed.protocol}`);
  }
  // A literal address the guard refuses can never be delivered: say so now, not at every attempt.
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host) !== 0) {
    const range = egress.refusedRange(host);
    if (range !== null) {
      throw new ConfigurationError(
        "HOOKLINE_CONFIGURATION_INVALID",
        `url points at ${host} (${range}), which the egress guard refuses; set allowPrivateNetworks or allowedCidrs to deliver there`,
      );
    }
  }
  return url;
}

/** A new endpoint has no `ordering` key unless it is ordered, nor a `filter` key unless it has a filter. */
export function withoutNullExtensions(patch: EndpointPatch): Omit<EndpointPatch, "ordering"> & { ordering?: "fifo" } {
  const { ordering, filter, ...rest } = patch;
  return { ...rest, ...(ordering && { ordering }), ...(filter && { filter }) };
}

export function requireName(name: string, value: unknown): asserts value is string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw new ConfigurationError(
      "HOOKLINE_CONFIGURATION_INVALID",
      `${name} must be a non-empty string of ≤ ${MAX_NAME_LENGTH} characters`,
    );
  }
}

export function optionalNames(name: string, value: unknown): string[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.length > 100) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", `${name} must be an array of ≤ 100 strings`);
  }
  for (const item of value) requireName(`${name}[]`, item);
  return [...value];
}

export function stringMap(name: string, value: unknown): Record<string, string> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", `${name} must be an object of strings`);
  }
  const entries = Object.entries(value);
  if (entries.length > 100 || entries.some(([, v]) => typeof v !== "string" || v.length > 4096)) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", `${name} must be an object of ≤ 100 string values`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

export function toMs(name: string, value: unknown): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== "number" || !Number.isFinite(ms)) {
    throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", `${name} must be a Date or milliseconds`);
  }
  return ms;
}

export function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
