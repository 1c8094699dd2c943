import { FINDABLE_STATES, type Catalog, type CatalogPause, type CatalogRecord, type FindQuery, type FindSort, type RecordProvider, type RecordState } from '../../catalog/catalog.js';
import type { CatalogService } from '../../catalog/catalog-service.js';
import type { DeleteOutcome, RecordDeleter } from '../../catalog/record-deleter.js';
import type { UploadRow, UploadStore } from '../../storage/upload-store.js';
import { buildTimeline, type Timeline } from '../../catalog/timeline.js';
import { parseTimeRange } from '../time-bound.js';

/** The filters of /records/find (and of /recorder/find_records). */
export interface RecordsFindBody {
  streamName?: string;
  mediaSessionId?: string;
  fileName?: string;
  provider?: RecordProvider;
  from?: number | string;
  to?: number | string;
  state?: RecordState | RecordState[];
  offset?: number;
  limit?: number;
  sort?: FindSort;
}

/** A record as /rest-api/recorder/find_records lists it (its original shape). */
export interface FinishedRecord {
  readonly fileName: string;
  readonly mediaSessionId: string | null;
  readonly streamName: string | null;
  readonly size: number;
  readonly startTimeMillis: number;
  readonly endTimeMillis: number;
  readonly duration: number | null;
  readonly pauses?: readonly CatalogPause[];
}

/** Parts closer than this are one continuous recording on the timeline. */
const MIN_GAP_MS = 1000;
/** find_records keeps its array answer: at most this many records. */
const LEGACY_MAX = 100_000;

/** The record catalog over REST: find, timeline, delete, pin. */
export class RecordsControl {
  constructor(
    private readonly catalog: Catalog,
    private readonly service: CatalogService,
    private readonly deleter: RecordDeleter,
    /** record_dir: only its files are downloadable from /client/records. */
    readonly recordDir: string,
    /** The upload queue (record_upload_url); null when uploads are off. */
    private readonly uploads: UploadStore | null = null,
  ) {}

  /** The upload rows of these records (empty when uploads are off). */
  async uploadsOf(records: readonly CatalogRecord[]): Promise<Map<string, UploadRow>> {
    if (this.uploads === null || records.length === 0) return new Map();
    return this.uploads.getMany(records.map((r) => r.fileName));
  }

  /** This node (node_id): the records it holds are served from its own disk. */
  get nodeId(): string {
    return this.catalog.nodeId;
  }

  /** Throws TimeBoundError for a bad from/to. */
  query(body: RecordsFindBody): FindQuery {
    const range = parseTimeRange(body.from, body.to);
    const states = body.state === undefined ? undefined : Array.isArray(body.state) ? body.state : [body.state];
    return {
      ...(body.streamName !== undefined ? { streamName: body.streamName } : {}),
      ...(body.mediaSessionId !== undefined ? { mediaSessionId: body.mediaSessionId } : {}),
      ...(body.fileName !== undefined ? { fileName: body.fileName } : {}),
      ...(body.provider !== undefined ? { provider: body.provider } : {}),
      ...range,
      states: states !== undefined && states.length > 0 ? states : FINDABLE_STATES,
      offset: body.offset ?? 0,
      limit: body.limit ?? 100,
      sort: body.sort ?? 'start',
    };
  }

  async find(body: RecordsFindBody): Promise<{ total: number; records: CatalogRecord[] }> {
    const query = this.query(body);
    await this.service.refresh();
    return this.catalog.find(query);
  }

  /** Finished records of record_dir, as /recorder/find_records always answered: by end time. */
  async finishedRecords(body: RecordsFindBody): Promise<FinishedRecord[]> {
    const query: FindQuery = {
      ...this.query(body),
      dir: this.recordDir,
      // as a WCS server lists its own records (records/find covers every node of a shared catalog)
      nodeId: this.catalog.nodeId,
      states: ['finished', 'recovered', 'broken'],
      offset: body.offset ?? 0,
      limit: body.limit ?? LEGACY_MAX,
    };
    await this.service.refresh();
    const found = await this.catalog.find(query);
    return found.records
      .map((r) => ({
        fileName: r.fileName,
        mediaSessionId: r.mediaSessionId,
        streamName: r.provider === 'multi' ? null : r.streamName,
        size: r.size,
        startTimeMillis: r.startMs,
        endTimeMillis: r.endMs ?? r.startMs,
        duration: r.durationMs,
        ...(r.pauses ? { pauses: r.pauses } : {}),
      }))
      .sort((a, b) => a.endTimeMillis - b.endTimeMillis || a.fileName.localeCompare(b.fileName));
  }

  async timeline(streamName: string, from: number | string | undefined, to: number | string | undefined): Promise<Timeline> {
    const range = parseTimeRange(from, to);
    await this.service.refresh();
    const spans = await this.catalog.spansOverlapping(streamName, range.fromMs ?? 0, range.toMs ?? 8.64e15);
    return buildTimeline(
      spans,
      range.fromMs ?? null,
      range.toMs ?? null,
      MIN_GAP_MS,
    );
  }

  async delete(fileName: string): Promise<DeleteOutcome> {
    await this.service.refresh();
    return this.deleter.deleteRecord(fileName, 'deleted by REST');
  }

  /** False when the record is not known (or deleted/gone). */
  async pin(fileName: string, pinned: boolean): Promise<CatalogRecord | null> {
    await this.service.refresh();
    const row = await this.catalog.get(fileName);
    if (!row || row.state === 'deleted' || row.state === 'gone') return null;
    await this.catalog.pin(fileName, pinned);
    return this.catalog.get(fileName);
  }
}
