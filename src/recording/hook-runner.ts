import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { Logger } from 'pino';
import { escapeControls } from '../streams/stream-name.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { HookQueue } from './hook-queue.js';

export interface HookResult {
  readonly ran: boolean;
  readonly code: number | null;
  /** Ended by on_record_hook_timeout. */
  readonly timedOut?: boolean;
  /** Never ran: the hook queue was full (on_record_hook_max_queued) or the server shut down first. */
  readonly dropped?: boolean;
}

/**
 * ok: exit 0; failed: non-zero exit or a signal; skipped: missing, not
 * executable, or could not be started; timeout: ended by
 * on_record_hook_timeout; dropped: never ran (queue full, or shutdown).
 */
export type HookOutcome = 'ok' | 'failed' | 'skipped' | 'timeout' | 'dropped';

export interface HookRunnerOptions {
  /** Extra environment of the script (beside WCS_HOME). */
  readonly env?: Record<string, string>;
  /** The queue hooks wait in (shared by the record, multi and delete hooks); default: a queue of its own, 4 at once, 1000 waiting. */
  readonly queue?: HookQueue;
  /** on_record_hook_timeout, ms: then SIGTERM to the hook's process group, SIGKILL `killGraceMs` later. */
  readonly timeoutMs?: number;
  readonly killGraceMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_KILL_GRACE_MS = 5_000;

interface HookRunnerEvents {
  /** A configured script ran (or was skipped), taking `seconds`. */
  done: [outcome: HookOutcome, seconds: number];
}

/** Hook arguments as the script gets them (pure): control characters shown as \uXXXX, so no NUL reaches argv and no name forges a line. */
export function hookArgs(args: readonly string[]): string[] {
  return args.map((a) => escapeControls(a));
}

/**
 * Runs on_record_hook_script with $1 = stream name, $2 = absolute path of
 * the finished record. A missing or non-executable script is logged and
 * skipped; it never breaks a recording. Hooks wait in their own bounded
 * queue (HookQueue), never in the finishing pool: a slow hook delays no
 * file. Each runs in a process group of its own; past the timeout the
 * group gets SIGTERM, then SIGKILL. Hooks still running at shutdown get a
 * grace period, then the same. Never throws or rejects: a hook that cannot
 * be started (bad argument, missing script, EACCES) is logged with the
 * record's stream and mediaSessionId and counted in `failed`.
 */
export class HookRunner extends TypedEmitter<HookRunnerEvents> {
  readonly #running = new Set<ChildProcess>();
  #failed = 0;
  #timedOut = 0;
  #dropped = 0;
  readonly #queue: HookQueue;
  readonly #env: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #killGraceMs: number;

  constructor(
    private readonly script: string | null,
    private readonly home: string,
    private readonly log: Logger,
    options: HookRunnerOptions = {},
  ) {
    super();
    this.#env = options.env ?? {};
    this.#queue = options.queue ?? new HookQueue(4, 1000);
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  }

  async run(streamName: string, file: string, context: Record<string, string>): Promise<HookResult> {
    return this.runArgs([streamName, file], file, context);
  }

  /**
   * Queues the script with these arguments (on_multiple_record_hook_script
   * has four); resolves when it has run, or at once when the queue is full
   * (logged, counted in `dropped`). Hooks with the same mediaSessionId (or
   * multiRecorder, else file) in `context` run in the order queued.
   */
  async runArgs(args: readonly string[], file: string, context: Record<string, string>): Promise<HookResult> {
    const script = this.script;
    if (script === null) return { ran: false, code: null };
    const key = context.mediaSessionId ?? context.multiRecorder ?? file;
    const dropped: HookResult = { ran: false, code: null, dropped: true };
    const queued = this.#queue.run(
      key,
      async () => {
        const started = performance.now();
        const result = await this.#runScript(script, args, file, context);
        const outcome: HookOutcome = !result.ran ? 'skipped' : result.timedOut ? 'timeout' : result.code === 0 ? 'ok' : 'failed';
        this.emit('done', outcome, (performance.now() - started) / 1000);
        return result;
      },
      dropped,
      this,
    );
    if (queued === null) {
      this.#dropped++;
      this.log.child(context).error(
        { script, file, queued: this.#queue.queued, max: this.#queue.maxQueued },
        'Hook queue is full (on_record_hook_max_queued); this hook is not run (the record is kept)',
      );
      this.emit('done', 'dropped', 0);
      return dropped;
    }
    const result = await queued;
    if (result.dropped) {
      this.#dropped++;
      this.log.child(context).warn({ script, file }, 'Hook not run: the server shut down while it waited in the hook queue');
      this.emit('done', 'dropped', 0);
    }
    return result;
  }

  async #runScript(script: string, args: readonly string[], file: string, context: Record<string, string>): Promise<HookResult> {
    const log = this.log.child(context);
    try {
      await fs.promises.access(script, fs.constants.X_OK);
    } catch {
      this.#failed++;
      log.warn({ script, file }, 'Record hook script is missing or not executable; skipped (the record is kept)');
      return { ran: false, code: null };
    }
    const safe = hookArgs(args);
    if (safe.some((a, i) => a !== args[i])) log.warn({ script, args: safe }, 'Record hook arguments held control characters; the hook gets them escaped (\\uXXXX)');
    try {
      return await this.#spawn(script, safe, file, log);
    } catch (err) {
      this.#failed++;
      log.warn({ script, file, err: (err as Error).message }, 'Record hook script could not be started; skipped (the record is kept)');
      return { ran: false, code: null };
    }
  }

  /** Hooks that could not be started, exited non-zero or were ended by the timeout, since start. */
  get failed(): number {
    return this.#failed;
  }

  /** Hooks ended by on_record_hook_timeout since start. */
  get timedOut(): number {
    return this.#timedOut;
  }

  /** Hooks never run since start: the queue was full, or the server shut down while they waited. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Hooks waiting in the queue (shared with the other hook kinds when the queue is). */
  get queued(): number {
    return this.#queue.queued;
  }

  #spawn(script: string, args: readonly string[], file: string, log: Logger): Promise<HookResult> {
    return new Promise((resolve) => {
      // spawn throws synchronously on a bad argument (ERR_INVALID_ARG_VALUE): the caller catches it
      const child = spawn(script, [...args], {
        cwd: this.home,
        env: { ...process.env, ...this.#env, WCS_HOME: this.home },
        stdio: ['ignore', 'pipe', 'pipe'],
        // a process group of its own: the timeout ends the script and whatever it started
        detached: true,
      });
      this.#running.add(child);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        this.#timedOut++;
        log.warn({ script, file, pid: child.pid, timeoutSeconds: this.#timeoutMs / 1000 }, 'Record hook ran past on_record_hook_timeout; ending it (SIGTERM, then SIGKILL)');
        this.#endGroup(child);
      }, this.#timeoutMs);
      timer.unref();
      let output = '';
      const collect = (d: Buffer): void => {
        output = (output + d.toString('utf8')).slice(-2000);
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      let settled = false;
      child.on('error', (err) => {
        clearTimeout(timer);
        this.#running.delete(child);
        if (settled) return;
        settled = true;
        this.#failed++;
        log.warn({ script, file, err: err.message }, 'Record hook script could not be started; skipped (the record is kept)');
        resolve({ ran: false, code: null });
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        this.#running.delete(child);
        if (settled) return;
        settled = true;
        if (timedOut) {
          this.#failed++;
          log.warn({ script, file, code, signal, output: output.trim() }, 'Record hook ended by on_record_hook_timeout');
        } else if (code === 0) log.info({ script, file }, 'Record hook finished');
        else {
          this.#failed++;
          log.warn({ script, file, code, signal, output: output.trim() }, 'Record hook failed');
        }
        resolve({ ran: true, code, ...(timedOut ? { timedOut } : {}) });
      });
    });
  }

  /** SIGTERM to the hook's process group now, SIGKILL to it killGraceMs later (whatever is left). */
  #endGroup(child: ChildProcess): void {
    const pid = child.pid;
    if (pid === undefined) return;
    const signalGroup = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-pid, signal);
      } catch {
        // ESRCH: the group is gone
      }
    };
    signalGroup('SIGTERM');
    setTimeout(() => signalGroup('SIGKILL'), this.#killGraceMs).unref();
  }

  /**
   * Waits up to `graceMs` for running hooks, then ends what is left (each
   * process group: SIGTERM, then SIGKILL). Hooks still waiting in the queue
   * then are not run (logged, counted in `dropped`).
   */
  async close(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    // this runner's hooks only: the queue may be shared with the other hook kinds
    while ((this.#running.size > 0 || this.#queue.queuedOf(this) > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const left = this.#queue.clearWaiting(this);
    if (left > 0) this.log.warn({ hooks: left }, 'Hooks still queued at shutdown are not run');
    for (const child of this.#running) this.#endGroup(child);
  }
}
