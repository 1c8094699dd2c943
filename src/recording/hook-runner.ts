import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { Logger } from 'pino';

export interface HookResult {
  readonly ran: boolean;
  readonly code: number | null;
}

/**
 * Runs on_record_hook_script with $1 = stream name, $2 = absolute path of
 * the finished record. A missing or non-executable script is logged and
 * skipped; it never breaks a recording. Hooks still running at shutdown
 * get a grace period, then SIGTERM.
 */
export class HookRunner {
  readonly #running = new Set<ChildProcess>();

  constructor(
    private readonly script: string | null,
    private readonly home: string,
    private readonly log: Logger,
    /** Extra environment of the script (beside WCS_HOME). */
    private readonly env: Record<string, string> = {},
  ) {}

  async run(streamName: string, file: string, context: Record<string, string>): Promise<HookResult> {
    return this.runArgs([streamName, file], file, context);
  }

  /** Runs the script with these arguments (on_multiple_record_hook_script has four). */
  async runArgs(args: readonly string[], file: string, context: Record<string, string>): Promise<HookResult> {
    const script = this.script;
    if (script === null) return { ran: false, code: null };
    const log = this.log.child(context);
    try {
      await fs.promises.access(script, fs.constants.X_OK);
    } catch {
      log.warn({ script, file }, 'Record hook script is missing or not executable; skipped (the record is kept)');
      return { ran: false, code: null };
    }
    return new Promise((resolve) => {
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
      child.on('error', (err) => {
        this.#running.delete(child);
        log.warn({ script, err: err.message }, 'Record hook script could not be started; skipped');
        resolve({ ran: false, code: null });
      });
      child.on('exit', (code, signal) => {
        this.#running.delete(child);
        if (code === 0) log.info({ script, file }, 'Record hook finished');
        else log.warn({ script, file, code, signal, output: output.trim() }, 'Record hook failed');
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
