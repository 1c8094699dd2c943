import type pg from 'pg';
import { CatalogUnavailableError, isConnectionFailure } from '../catalog/catalog-errors.js';

/** What a node says of itself at each heartbeat. */
export interface NodeBeat {
  readonly nodeId: string;
  readonly publicUrl: string;
  readonly startedMs: number;
  readonly version: string;
  /** Its live streams (the WCS stream JSON of /rest-api/stream/find_all). */
  readonly streams: readonly Record<string, unknown>[];
}

/** A node as the heartbeat table knows it. */
export interface NodeRow extends NodeBeat {
  /** Database clock (epoch ms) of its last heartbeat: nodes' own clocks never decide liveness. */
  readonly lastSeenMs: number;
  /** Database clock now, when the row was read. */
  readonly nowMs: number;
  /** When it said it was stopping (a clean shutdown); null while running, or when it died without saying. */
  readonly stoppedMs: number | null;
}

/** The heartbeat table. */
export interface ClusterStore {
  beat(beat: NodeBeat): Promise<void>;
  /** A clean shutdown: the node is listed as not alive at once, with no streams. */
  leave(nodeId: string): Promise<void>;
  nodes(): Promise<NodeRow[]>;
  node(nodeId: string): Promise<NodeRow | null>;
}

interface NodeDbRow {
  node_id: string;
  public_url: string;
  started_ms: number;
  last_seen_ms: number;
  version: string;
  streams: Record<string, unknown>[];
  now_ms: number;
  stopped_ms: number | null;
}

/** The database clock, epoch ms: liveness is judged by it alone. */
export const NOW_MS = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint";

/**
 * SQL condition: the node named by `nodeColumn` is alive (a heartbeat at most
 * `timeoutParam` ms old by the database clock, not stopped). A node with no
 * row is not alive. As isAlive() in liveness.ts, in a query.
 */
export function nodeAliveSql(nodeColumn: string, timeoutParam: string): string {
  return `EXISTS (SELECT 1 FROM nodes n WHERE n.node_id = ${nodeColumn} AND n.stopped_ms IS NULL AND ${NOW_MS} - n.last_seen_ms <= ${timeoutParam})`;
}

function toNode(r: NodeDbRow): NodeRow {
  return {
    nodeId: r.node_id,
    publicUrl: r.public_url,
    startedMs: Number(r.started_ms),
    lastSeenMs: Number(r.last_seen_ms),
    version: r.version,
    streams: Array.isArray(r.streams) ? r.streams : [],
    nowMs: Number(r.now_ms),
    stoppedMs: r.stopped_ms === null ? null : Number(r.stopped_ms),
  };
}

/** The `nodes` table of the PostgreSQL catalog (created by its migrations). */
export class PgClusterStore implements ClusterStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly ready: () => Promise<void>,
  ) {}

  async #query<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    await this.ready();
    try {
      return await this.pool.query<R>(sql, values);
    } catch (err) {
      if (isConnectionFailure(err)) {
        const code = (err as { code?: unknown }).code;
        throw new CatalogUnavailableError(`The cluster's heartbeat table (catalog_url) cannot be reached: ${typeof code === 'string' ? code : 'connection failed'}`);
      }
      throw err;
    }
  }

  async beat(b: NodeBeat): Promise<void> {
    await this.#query(
      `INSERT INTO nodes (node_id, public_url, started_ms, last_seen_ms, version, streams) VALUES ($1, $2, $3, ${NOW_MS}, $4, $5::jsonb)
       ON CONFLICT (node_id) DO UPDATE SET public_url = excluded.public_url, started_ms = excluded.started_ms,
         last_seen_ms = excluded.last_seen_ms, version = excluded.version, streams = excluded.streams, stopped_ms = NULL`,
      [b.nodeId, b.publicUrl, Math.round(b.startedMs), b.version, JSON.stringify(b.streams)],
    );
  }

  async leave(nodeId: string): Promise<void> {
    await this.#query(`UPDATE nodes SET stopped_ms = ${NOW_MS}, streams = '[]'::jsonb WHERE node_id = $1`, [nodeId]);
  }

  async nodes(): Promise<NodeRow[]> {
    const r = await this.#query<NodeDbRow>(`SELECT node_id, public_url, started_ms, last_seen_ms, version, streams, stopped_ms, ${NOW_MS} AS now_ms FROM nodes ORDER BY node_id`);
    return r.rows.map(toNode);
  }

  async node(nodeId: string): Promise<NodeRow | null> {
    const r = await this.#query<NodeDbRow>(
      `SELECT node_id, public_url, started_ms, last_seen_ms, version, streams, stopped_ms, ${NOW_MS} AS now_ms FROM nodes WHERE node_id = $1`,
      [nodeId],
    );
    return r.rows[0] ? toNode(r.rows[0]) : null;
  }
}
