import os from 'node:os';
import type { Catalog } from '../catalog/catalog.js';
import { PgCatalog } from '../catalog/pg-catalog.js';
import { SqliteCatalog } from '../catalog/sqlite-catalog.js';
import { LocalClusterLock, type ClusterLock } from './cluster-lock.js';
import { PgClusterLock } from './pg-cluster-lock.js';
import { PgClusterStore, type ClusterStore } from './cluster-store.js';
import { PgWebhookOutbox } from '../events/pg-webhook-outbox.js';
import type { WebhookOutbox } from '../events/webhook-outbox.js';
import { PgUploadStore } from '../storage/pg-upload-store.js';
import type { UploadStore } from '../storage/upload-store.js';

/** The catalog a daemon runs on, with what a shared one adds. */
export interface OpenedCatalog {
  readonly catalog: Catalog;
  /** The heartbeat table; null on the embedded catalog (one node). */
  readonly nodes: ClusterStore | null;
  /** One node at a time for cluster-wide tasks (S3 retention...). */
  readonly lock: ClusterLock;
  /**
   * The upload queue and webhook outbox in the shared database; null on the
   * embedded catalog, whose stores live in its SQLite file (the upload branch's
   * SqliteUploadStore / SqliteWebhookOutbox).
   */
  readonly queues: { readonly uploads: UploadStore; readonly outbox: WebhookOutbox } | null;
}

/** node_id, or the host name made into a valid node id (pure but for os.hostname()). */
export function resolveNodeId(configured: string, hostname: string = os.hostname()): string {
  if (configured !== '') return configured;
  const cleaned = hostname.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[._-]+/, '').slice(0, 64);
  return cleaned === '' ? 'node' : cleaned;
}

/** node_public_url, or http://<ip>:<http.port>. */
export function resolvePublicUrl(configured: string, ip: string, httpPort: number): string {
  if (configured !== '') return configured;
  const host = ip.includes(':') && !ip.startsWith('[') ? `[${ip}]` : ip;
  return `http://${host}:${httpPort}`;
}

/** catalog_url set: PostgreSQL, shared; else the SQLite file at catalog_path. */
export function openCatalog(settings: { catalogUrl: string; catalogPathAbs: string; nodeId: string }): OpenedCatalog {
  if (settings.catalogUrl === '') {
    return { catalog: SqliteCatalog.open(settings.catalogPathAbs, { nodeId: settings.nodeId }), nodes: null, lock: new LocalClusterLock(), queues: null };
  }
  const catalog = new PgCatalog(settings.catalogUrl, { nodeId: settings.nodeId });
  const ready = () => catalog.ready();
  return {
    catalog,
    nodes: new PgClusterStore(catalog.pool, ready),
    lock: new PgClusterLock(catalog.pool, ready),
    queues: { uploads: new PgUploadStore(catalog.pool, ready), outbox: new PgWebhookOutbox(catalog.pool, ready, settings.nodeId) },
  };
}
