/**
 * The last resort (issue 14): an error nobody caught means the process is in
 * a state nobody planned for. Log it (fatal, with the error), finish what can
 * be finished (close the daemon: open recordings are finalised) within a
 * bounded wait, and exit non-zero so that the supervisor (systemd
 * Restart=always, docker --restart) starts a fresh process; its start-up
 * recovery makes whatever could not be finished playable.
 */
import type { Logger } from 'pino';

export interface LastResortOptions {
  readonly log: Logger;
  /** Finishes open work; the daemon's close(), once the daemon exists. */
  readonly close: () => Promise<void>;
  /** Longest wait for close() before exiting anyway. */
  readonly waitMs: number;
  /** process.exit, replaceable in tests. */
  readonly exit?: (code: number) => void;
  readonly target?: NodeJS.EventEmitter;
}

/** Exit code after an uncaught error (EX_SOFTWARE). */
export const UNCAUGHT_EXIT_CODE = 70;

export function installLastResort(options: LastResortOptions): { readonly handling: boolean } {
  const target = options.target ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const state = { handling: false };
  const handle = (err: unknown, origin: string): void => {
    if (state.handling) {
      options.log.fatal({ err, origin }, 'Another uncaught error while finishing; still finishing');
      return;
    }
    state.handling = true;
    options.log.fatal({ err, origin }, `Uncaught error (${origin}): finishing open recordings, then exiting`);
    let timer: NodeJS.Timeout | undefined;
    const bounded = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), options.waitMs);
    });
    let closing: Promise<'closed'>;
    try {
      closing = options.close().then(() => 'closed' as const);
    } catch (closeErr) {
      closing = Promise.reject(closeErr instanceof Error ? closeErr : new Error(String(closeErr)));
    }
    Promise.race([closing, bounded]).then(
      (how) => {
        clearTimeout(timer);
        if (how === 'timeout') options.log.fatal({ waitMs: options.waitMs }, `Gave up finishing after ${options.waitMs} ms; exiting`);
        else options.log.fatal('Finished what could be finished; exiting');
        exit(UNCAUGHT_EXIT_CODE);
      },
      (closeErr: unknown) => {
        clearTimeout(timer);
        options.log.fatal({ err: closeErr }, 'Finishing failed; exiting');
        exit(UNCAUGHT_EXIT_CODE);
      },
    );
  };
  target.on('uncaughtException', (err: unknown, origin: unknown) => handle(err, String(origin)));
  target.on('unhandledRejection', (reason: unknown) => handle(reason, 'unhandledRejection'));
  return state;
}
