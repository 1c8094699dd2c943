import type { FastifyInstance, RouteOptions } from 'fastify';

declare module 'fastify' {
  /** Documentation keywords of a route schema; fastify ignores them, the OpenAPI document uses them. */
  interface FastifySchema {
    summary?: string;
    description?: string;
    /** Content types of the 2xx answers (default application/json). */
    produces?: readonly string[];
  }
}

/**
 * The OpenAPI 3.1 description served at /rest-api/docs, built from the
 * routes' own JSON schemas (so it cannot drift from what is validated).
 */

export interface RouteDoc {
  readonly method: string;
  /** fastify URL, e.g. /client/records/:file */
  readonly url: string;
  readonly schema: RouteSchema;
}

interface RouteSchema {
  readonly summary?: string;
  readonly description?: string;
  readonly body?: unknown;
  readonly querystring?: unknown;
  readonly params?: unknown;
  readonly response?: Readonly<Record<string | number, unknown>>;
  readonly produces?: readonly string[];
}

export interface DocOptions {
  readonly version: string;
  readonly restApiToken: boolean;
  readonly recordsAccessToken: boolean;
}

type Json = Record<string, unknown>;

function asObject(v: unknown): Json | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : null;
}

/** fastify `:name` parameters as OpenAPI `{name}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parameters(where: 'path' | 'query', schema: unknown): Json[] {
  const obj = asObject(schema);
  const props = asObject(obj?.properties) ?? {};
  const required = Array.isArray(obj?.required) ? (obj.required as string[]) : [];
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || required.includes(name),
    schema: s,
    ...(asObject(s)?.description ? { description: asObject(s)?.description } : {}),
  }));
}

const STATUS_TEXT: Readonly<Record<string, string>> = {
  '200': 'OK',
  '201': 'Created',
  '204': 'No content',
  '206': 'Partial content (Range)',
  '400': 'Bad request: malformed body, unknown field or bad value',
  '401': 'Token missing or wrong',
  '404': 'Not found',
  '409': 'Conflict: the stream stopped publishing while the call was served, or (/rtsp/startup) that camera URI or stream name is already in use',
  '413': 'Body too large',
  '415': 'Unsupported content type',
  '422': 'Nothing in the request can be used',
  '500': 'Internal error',
  '503': 'Shutting down',
};

/** Builds the document from the routes (pure). */
export function openApiDocument(routes: readonly RouteDoc[], options: DocOptions): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const method = route.method.toLowerCase();
    if (method === 'head' || method === 'options') continue;
    const s = route.schema;
    const protectedBy = route.url.startsWith('/rest-api')
      ? options.restApiToken
        ? 'restApiToken'
        : null
      : route.url.startsWith('/client/records') && options.recordsAccessToken
        ? 'recordsAccessToken'
        : null;
    const responses: Json = {};
    for (const [code, schema] of Object.entries(s.response ?? {})) {
      const types = s.produces ?? ['application/json'];
      responses[code] = {
        description: STATUS_TEXT[code] ?? code,
        content: Object.fromEntries(types.map((t) => [t, { schema }])),
      };
    }
    const operation: Json = {
      ...(s.summary ? { summary: s.summary } : {}),
      ...(s.description ? { description: s.description } : {}),
      parameters: [...parameters('path', s.params), ...parameters('query', s.querystring)],
      responses: Object.keys(responses).length > 0 ? responses : { '200': { description: 'OK' } },
      ...(protectedBy ? { security: [{ [protectedBy]: [] }] } : {}),
    };
    if (s.body !== undefined) {
      const nullable = Array.isArray(asObject(s.body)?.type) && (asObject(s.body)?.type as string[]).includes('null');
      operation.requestBody = { required: !nullable, content: { 'application/json': { schema: s.body } } };
    }
    const p = openApiPath(route.url);
    paths[p] = { ...(paths[p] ?? {}), [method]: operation };
  }
  const securitySchemes: Json = {};
  if (options.restApiToken) securitySchemes.restApiToken = { type: 'http', scheme: 'bearer', description: 'rest_api_token' };
  if (options.recordsAccessToken) {
    securitySchemes.recordsAccessToken = { type: 'http', scheme: 'bearer', description: 'records_access_token (also accepted as ?token=)' };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'wcs-recorder',
      version: options.version,
      description: 'WCS-compatible REST API for stream recording, and record downloads with ?start=&end= parts',
    },
    paths,
    ...(Object.keys(securitySchemes).length > 0 ? { components: { securitySchemes } } : {}),
  };
}

/**
 * Collects every route registered after this call and serves the document
 * at GET /rest-api/docs.
 */
export function registerOpenApi(app: FastifyInstance, options: DocOptions): void {
  const routes: RouteDoc[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.url === '/rest-api/docs' || route.url.endsWith('*')) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) routes.push({ method, url: route.url, schema: (route.schema ?? {}) as RouteSchema });
  });
  let document: Json | null = null;
  app.get(
    '/rest-api/docs',
    { schema: { querystring: { type: 'object', additionalProperties: false, properties: {} } } },
    async () => {
      document ??= openApiDocument(routes, options);
      return document;
    },
  );
}
