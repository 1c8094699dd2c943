import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { backoffMs } from '../util/backoff.js';
import type { DueDelivery, WebhookEventType, WebhookOutbox } from './webhook-outbox.js';
import { webhookSignature } from './webhook-signature.js';
import { CoalescedRunner } from '../util/coalesced-runner.js';
import type { ClaimTakeover } from '../cluster/claim-takeover.js';

export interface WebhookServiceOptions {
  readonly urls: readonly string[];
  /** Empty: unsigned. */
  readonly secret: string;
  readonly timeoutMs: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  readonly maxAttempts: number;
  /** A delivery not done this long after its event is dead. */
  readonly maxAgeMs: number;
  /** POSTs in flight at once. */
  readonly concurrency: number;
  /** How often due deliveries are looked for. */
  readonly pollMs: number;
  /** Events waiting at most; beyond, new events are dropped (logged) so a flood cannot fill the disk. */
  readonly maxPending: number;
  /** The node that emits (in every body). */
  readonly node: string;
  readonly version: string;
  /** On a shared outbox: deliveries a node that is not alive left `delivering` are sent by this one. null: the embedded outbox (one node). */
  readonly takeover: ClaimTakeover | null;
}

/** Delivered and dead rows are kept this long (visible in /rest-api/webhooks/deliveries), then pruned. */
const KEEP_DONE_MS = 7 * 24 * 3600_000;

/** The body of one event (pure): what is POSTed and signed. */
export function eventBody(id: string, type: WebhookEventType, timeMs: number, node: string, data: Record<string, unknown>): string {
  return JSON.stringify({ id, type, time: new Date(timeMs).toISOString(), timeMillis: timeMs, node, data });
}

/**
 * Webhooks: each event is stored in the outbox (one delivery per URL)
 * before anything is sent, then POSTed as JSON with its id in the body and
 * in X-Wcs-Event-Id, signed in X-Wcs-Signature. A 2xx answer delivers it;
 * anything else (no answer, timeout, 3xx, 4xx, 5xx) is retried with
 * doubling waits until record_webhook_max_attempts or record_webhook_max_age,
 * then the delivery is dead. At least once: a crash between the POST and
 * its bookkeeping sends it again; receivers de-duplicate by the event id.
 */
export class WebhookService {
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  #takeoverTimer: NodeJS.Timeout | null = null;
  #pruneTimer: NodeJS.Timeout | null = null;
  readonly #runner = new CoalescedRunner(
    () => this.#tick(),
    (err) => this.log.error({ err: err.message }, 'Webhook outbox read failed'),
  );
  #closed = false;
  #pending = 0;
  #dropped = 0;
  #dead = 0;
  #adds: Promise<void> = Promise.resolve();
  readonly #abort = new AbortController();

  constructor(
    readonly outbox: WebhookOutbox,
    private readonly options: WebhookServiceOptions,
    private readonly log: Logger,
  ) {}

  get enabled(): boolean {
    return this.options.urls.length > 0;
  }

  /** Events dropped because the outbox was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Deliveries this node gave up on (dead) since start. */
  get dead(): number {
    return this.#dead;
  }

  async start(): Promise<void> {
    if (!this.enabled) return;
    const reset = await this.outbox.resetInterrupted(Date.now());
    if (reset > 0) this.log.warn({ count: reset }, 'Webhook deliveries interrupted by a stop or crash are queued again');
    this.#pending = (await this.outbox.counts()).pending;
    this.#timer = setInterval(() => this.wake(), this.options.pollMs);
    this.#timer.unref();
    const prune = (): void =>
      void this.outbox.prune(Date.now() - KEEP_DONE_MS).catch((err: Error) => this.log.warn({ err: err.message }, 'Webhook outbox prune failed'));
    prune();
    this.#pruneTimer = setInterval(prune, 3600_000);
    this.#pruneTimer.unref();
    const takeover = this.options.takeover;
    if (takeover) {
      await this.#releaseAbandoned(takeover);
      this.#takeoverTimer = setInterval(() => void this.#releaseAbandoned(takeover), takeover.intervalMs);
      this.#takeoverTimer.unref();
    }
    this.wake();
  }

  /** Deliveries claimed by a node that died go back to pending: the next claim (of any node) sends them. */
  async #releaseAbandoned(rule: ClaimTakeover): Promise<void> {
    if (this.#closed) return;
    try {
      const released = await this.outbox.releaseAbandoned(Date.now(), rule);
      if (released.length === 0) return;
      const nodes = [...new Set(released.map((r) => r.node ?? 'unknown'))];
      this.log.warn({ count: released.length, nodes }, `Webhook deliveries abandoned by a node that is not alive (${nodes.join(', ')}) are queued again`);
      this.wake();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'Looking for abandoned webhook deliveries failed; tried again later');
    }
  }

  /** Stores an event for every URL (in order of emission); returns its id, or null when webhooks are off or the outbox is full. */
  emit(type: WebhookEventType, data: Record<string, unknown>): string | null {
    if (!this.enabled || this.#closed) return null;
    if (this.#pending >= this.options.maxPending) {
      this.#dropped++;
      if (this.#dropped === 1 || this.#dropped % 1000 === 0) {
        this.log.error({ type, pending: this.#pending, dropped: this.#dropped }, 'Webhook outbox full (receivers down?); events dropped');
      }
      return null;
    }
    const id = crypto.randomUUID();
    const now = Date.now();
    const body = eventBody(id, type, now, this.options.node, data);
    this.#pending += this.options.urls.length;
    this.#adds = this.#adds
      .then(() => this.outbox.add({ id, type, createdMs: now, body }, this.options.urls))
      .then(
        () => this.wake(),
        (err: Error) => this.log.error({ type, eventId: id, err: err.message }, 'Webhook event could not be stored'),
      );
    return id;
  }

  wake(): void {
    if (this.#closed || !this.enabled) return;
    this.#runner.wake();
  }

  async #tick(): Promise<void> {
    const free = this.options.concurrency - this.#inFlight.size;
    if (free <= 0 || this.#closed) return;
    const due = await this.outbox.claim(Date.now(), free);
    for (const d of due) {
      const job = this.#deliver(d).finally(() => {
        this.#inFlight.delete(job);
        this.wake();
      });
      this.#inFlight.add(job);
    }
    if (due.length === free) this.#runner.again();
  }

  async #deliver(d: DueDelivery): Promise<void> {
    const ctx = { eventId: d.eventId, type: d.type, url: d.url, attempt: d.attempts + 1 };
    let status: number | null = null;
    let error: string;
    try {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': `wcs-recorder/${this.options.version}`,
        'x-wcs-event': d.type,
        'x-wcs-event-id': d.eventId,
        'x-wcs-delivery-attempt': String(d.attempts + 1),
      };
      if (this.options.secret !== '') headers['x-wcs-signature'] = webhookSignature(this.options.secret, d.body);
      const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.options.timeoutMs)]);
      const res = await fetch(d.url, { method: 'POST', headers, body: d.body, redirect: 'manual', signal });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
      if (status >= 200 && status < 300) {
        await this.outbox.markDelivered(d.eventId, d.url, status, Date.now());
        this.#pending = Math.max(0, this.#pending - 1);
        this.log.info({ ...ctx, status }, 'Webhook delivered');
        return;
      }
      error = `HTTP ${status}`;
    } catch (err) {
      if (this.#closed) return; // left delivering: queued again at the next start
      const e = err as Error & { cause?: { code?: string; message?: string } };
      error = e.name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    }
    const now = Date.now();
    const attempts = d.attempts + 1;
    if (attempts >= this.options.maxAttempts || now - d.createdMs >= this.options.maxAgeMs) {
      this.#dead++;
      await this.outbox.markDead(d.eventId, d.url, status, error, now);
      this.#pending = Math.max(0, this.#pending - 1);
      this.log.error({ ...ctx, status, err: error }, 'Webhook delivery dead: attempts or age exhausted');
      return;
    }
    const wait = backoffMs(attempts, this.options.retryMinMs, this.options.retryMaxMs, Math.random());
    await this.outbox.markRetry(d.eventId, d.url, status, error, now + wait, now);
    this.log.warn({ ...ctx, status, err: error, retryInMs: wait }, 'Webhook delivery failed; retried later');
  }

  /** Waits for the events emitted so far to be stored, stops sending (what is in flight is sent again at the next start). */
  async close(): Promise<void> {
    await this.#adds;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#pruneTimer) clearInterval(this.#pruneTimer);
    if (this.#takeoverTimer) clearInterval(this.#takeoverTimer);
    await this.#runner.running;
    // give the POSTs in flight a moment to finish before aborting them
    await Promise.race([Promise.allSettled([...this.#inFlight]), new Promise((r) => setTimeout(r, 2000).unref())]);
    this.#abort.abort();
    await Promise.allSettled([...this.#inFlight]);
    await this.outbox.resetInterrupted(Date.now()).catch(() => 0);
  }
}
