import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { Logger } from 'pino';
import { escapeControls } from '../streams/stream-name.js';
import { TypedEmitter } from '../util/typed-emitter.js';

export interface HookResult {
  readonly ran: boolean;
  readonly code: number | null;
}

/** ok: exit 0; failed: non-zero exit or a signal; skipped: missing, not executable, or could not be started. */
export type HookOutcome = 'ok' | 'failed' | 'skipped';

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
 * skipped; it never breaks a recording. Hooks still running at shutdown
 * get a grace period, then SIGTERM. Never throws or rejects: a hook that
 * cannot be started (bad argument, missing script, EACCES) is logged with
 * the record's stream and mediaSessionId and counted in `failed`.
 */
export class HookRunner extends TypedEmitter<HookRunnerEvents> {
  readonly #running = new Set<ChildProcess>();
  #failed = 0;

  constructor(
    private readonly script: string | null,
    private readonly home: string,
    private readonly log: Logger,
    /** Extra environment of the script (beside WCS_HOME). */
    private readonly env: Record<string, string> = {},
  ) {
    super();
  }

  async run(streamName: string, file: string, context: Record<string, string>): Promise<HookResult> {
    return this.runArgs([streamName, file], file, context);
  }

  /** Runs the script with these arguments (on_multiple_record_hook_script has four). */
  async runArgs(args: readonly string[], file: string, context: Record<string, string>): Promise<HookResult> {
    const script = this.script;
    if (script === null) return { ran: false, code: null };
    const started = performance.now();
    const result = await this.#runScript(script, args, file, context);
    this.emit('done', !result.ran ? 'skipped' : result.code === 0 ? 'ok' : 'failed', (performance.now() - started) / 1000);
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

  /** Hooks that could not be started or exited non-zero since start. */
  get failed(): number {
    return this.#failed;
  }

  #spawn(script: string, args: readonly string[], file: string, log: Logger): Promise<HookResult> {
    return new Promise((resolve) => {
      // spawn throws synchronously on a bad argument (ERR_INVALID_ARG_VALUE): the caller catches it
      const child = spawn(script, [...args], {
        cwd: this.home,
        env: { ...process.env, ...this.env, WCS_HOME: this.home },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.#running.add(child);
      let output = '';
      const collect = (d: Buffer): void => {
        output = (output + d.toString('utf8')).slice(-2000);
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      let settled = false;
      child.on('error', (err) => {
        this.#running.delete(child);
        if (settled) return;
        settled = true;
        this.#failed++;
        log.warn({ script, file, err: err.message }, 'Record hook script could not be started; skipped (the record is kept)');
        resolve({ ran: false, code: null });
      });
      child.on('exit', (code, signal) => {
        this.#running.delete(child);
        if (settled) return;
        settled = true;
        if (code === 0) log.info({ script, file }, 'Record hook finished');
        else {
          this.#failed++;
          log.warn({ script, file, code, signal, output: output.trim() }, 'Record hook failed');
        }
        resolve({ ran: true, code });
      });
    });
  }

  /** Waits up to `graceMs` for running hooks, then terminates what is left. */
  async close(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (this.#running.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const child of this.#running) child.kill('SIGTERM');
  }
}
