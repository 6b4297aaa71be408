import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { NotFoundError, WebhookVerificationError } from "../../core/errors.js";
import type { Hookline } from "../../delivery/hookline.js";
import type { InboundSource } from "../../delivery/sources.js";
import { receiveInbound } from "../../receive/inbound.js";
import { WEBHOOK_PROVIDERS } from "../../receive/verify.js";
import type { AppRecord } from "../../store/store.js";
import { ownedBy } from "../auth.js";
import type { ServerMetrics } from "../metrics.js";
import { noContent, type RouteSpec, route } from "../routing.js";
import { listResponse, pageQuery } from "../schemas.js";
import { iso, listOut, pageOptions } from "../serialize.js";

const TAG = "Inbound source";
const BASE = "/api/v1/app/:app_id/source";

const sourceIn = z.object({
  provider: z.enum(WEBHOOK_PROVIDERS as [string, ...string[]]),
  secret: z.string().min(1).max(1024),
  name: z.string().min(1).max(256).optional(),
});
const sourceSecretIn = z.object({ secret: z.string().min(1).max(1024) });
const sourceOut = z.object({
  id: z.string(),
  name: z.string(),
  provider: z.string(),
  /** Where the provider sends its webhooks. */
  url: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const sourceList = listResponse(sourceOut);
const inboundOut = z.object({ id: z.string(), eventType: z.string(), eventId: z.string() });

/** The URL a provider posts to: on this server, as the request reached it. */
const inboundUrl = (request: FastifyRequest, id: string) => `${request.protocol}://${request.host}/in/${id}`;

function sourceToJson(request: FastifyRequest, source: InboundSource): z.input<typeof sourceOut> {
  return {
    id: source.id,
    name: source.name,
    provider: source.provider,
    url: inboundUrl(request, source.id),
    createdAt: iso(source.createdAt),
    updatedAt: iso(source.updatedAt),
  };
}

/**
 * hookline extension: inbound sources (as Convoy's sources and Svix Ingest
 * do). An app's source gives a URL, `POST /in/{source_id}`, where a provider
 * sends its webhooks: one that verifies becomes a message of the app and
 * fans out to its endpoints; one that does not gets 401 and stores nothing.
 */
export function sourceRoutes(options: { metrics: ServerMetrics; bodyLimitBytes: number }): RouteSpec[] {
  return [
    route({
      method: "GET",
      url: BASE,
      operationId: "v1.source.list",
      summary: "hookline extension: list the app's inbound sources, newest first",
      tag: TAG,
      auth: "app",
      query: pageQuery,
      responses: { 200: { description: "A page of sources", schema: sourceList } },
      handler: async ({ hl, app, query, request }) =>
        listOut(await hl.sources.list(app.id, pageOptions(query)), (s) => sourceToJson(request, s), query),
    }),
    route({
      method: "POST",
      url: BASE,
      operationId: "v1.source.create",
      summary:
        "hookline extension: create an inbound source for a provider (standard, hookline, stripe, github, gitlab, shopify, slack) with its signing secret",
      tag: TAG,
      auth: "app",
      body: sourceIn,
      responses: { 201: { description: "The source and the URL to give the provider", schema: sourceOut } },
      handler: async ({ hl, app, body, request, reply }) => {
        const source = await hl.sources.create({
          appId: app.id,
          provider: body.provider as InboundSource["provider"],
          secret: body.secret,
          ...(body.name !== undefined && { name: body.name }),
        });
        reply.code(201);
        return sourceToJson(request, source);
      },
    }),
    route({
      method: "GET",
      url: `${BASE}/:source_id`,
      operationId: "v1.source.get",
      summary: "hookline extension: get an inbound source",
      tag: TAG,
      auth: "app",
      responses: { 200: { description: "The source", schema: sourceOut } },
      handler: async ({ hl, app, params, request }) =>
        sourceToJson(request, await sourceOf(hl, app, params.source_id as string)),
    }),
    route({
      method: "POST",
      url: `${BASE}/:source_id/secret/rotate`,
      operationId: "v1.source.rotate-secret",
      summary: "hookline extension: replace an inbound source's signing secret (the old one stops verifying at once)",
      tag: TAG,
      auth: "app",
      body: sourceSecretIn,
      responses: { 204: { description: "Replaced" } },
      handler: async ({ hl, app, params, body, reply }) => {
        const source = await sourceOf(hl, app, params.source_id as string);
        await hl.sources.rotateSecret(source.id, body.secret);
        return noContent(reply);
      },
    }),
    route({
      method: "DELETE",
      url: `${BASE}/:source_id`,
      operationId: "v1.source.delete",
      summary: "hookline extension: delete an inbound source; its URL answers 404 from then on",
      tag: TAG,
      auth: "app",
      responses: { 204: { description: "Deleted" } },
      handler: async ({ hl, app, params, reply }) => {
        const source = await sourceOf(hl, app, params.source_id as string);
        await hl.sources.delete(source.id);
        return noContent(reply);
      },
    }),
    route({
      method: "POST",
      url: "/in/:source_id",
      operationId: "v1.source.receive",
      summary:
        "hookline extension: where a provider sends its webhooks. No API key: the request's signature is checked with the source's secret. " +
        "202 for a new message, 200 when the provider sent the same delivery before, 401 when it does not verify (nothing is stored).",
      tag: TAG,
      auth: "none",
      rawBodyLimit: options.bodyLimitBytes,
      responses: {
        200: { description: "A redelivery: the message it became the first time", schema: inboundOut },
        202: { description: "Verified and sent as a message of the source's app", schema: inboundOut },
      },
      handler: async ({ hl, params, request, reply }) => {
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        try {
          const { source, eventType, sent } = await receiveInbound(hl, params.source_id as string, {
            body,
            headers: request.headers,
          });
          options.metrics.observeInbound(sent.created ? "accepted" : "duplicate", source.provider);
          reply.code(sent.created ? 202 : 200);
          return { id: sent.messageId, eventType, eventId: sent.eventId };
        } catch (error) {
          const result =
            error instanceof WebhookVerificationError
              ? "rejected"
              : error instanceof NotFoundError
                ? "unknown_source"
                : "failed";
          options.metrics.observeInbound(result);
          throw error;
        }
      },
    }),
  ];
}

/** The app's source, or the 404 of a missing one when it belongs to another app. */
async function sourceOf(hl: Hookline, app: AppRecord, id: string): Promise<InboundSource> {
  return ownedBy(app, await hl.sources.get(id), () => new NotFoundError(`source ${JSON.stringify(id)} not found`));
}
