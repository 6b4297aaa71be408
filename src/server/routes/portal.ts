import { z } from "zod";
import { requireAdmin } from "../auth.js";
import { type RouteSpec, route } from "../routing.js";

const DEFAULT_EXPIRY_SECONDS = 7 * 24 * 3600;

const portalAccessIn = z.object({
  /** Seconds the link works for (Svix's field); default 7 days. */
  expiry: z
    .number()
    .int()
    .min(1)
    .max(365 * 24 * 3600)
    .nullish(),
  readOnly: z.boolean().nullish(),
  /** Accepted for compatibility with Svix's clients; not used. */
  featureFlags: z.array(z.string().max(256)).max(64).nullish(),
  sessionId: z.string().max(256).nullish(),
  application: z.unknown().optional(),
});

const portalAccessOut = z.object({ url: z.string(), token: z.string() });

/**
 * Svix's app-portal-access: an expiring key scoped to one app (read-only on
 * request), and an absolute link that opens the customer portal for that app
 * with the key in the URL fragment, which browsers never send to the server.
 */
export function portalRoutes(): RouteSpec[] {
  return [
    route({
      method: "POST",
      url: "/api/v1/auth/app-portal-access/:app_id",
      operationId: "v1.authentication.app-portal-access",
      summary: "A link to the customer portal of one app, with an expiring app-scoped key",
      tag: "Authentication",
      auth: "app",
      body: portalAccessIn,
      responses: { 200: { description: "The portal link and its key", schema: portalAccessOut } },
      handler: async ({ hl, app, key, body, request }) => {
        requireAdmin(key);
        const expirySeconds = body?.expiry ?? DEFAULT_EXPIRY_SECONDS;
        const readOnly = body?.readOnly === true;
        const { token } = await hl.apiKeys.create({
          appId: app.id,
          name: "app portal",
          expiresInMs: expirySeconds * 1000,
          readOnly,
        });
        const fragment = new URLSearchParams({ key: token, app: app.id, ...(readOnly && { readOnly: "true" }) });
        return { url: `${request.protocol}://${request.host}/ui/portal#${fragment}`, token };
      },
    }),
  ];
}
