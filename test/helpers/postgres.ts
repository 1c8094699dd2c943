import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './daemon.js';

/**
 * A throw-away PostgreSQL cluster for tests: initdb in a temp folder, pg_ctl
 * on a free loopback port, trust authentication, removed by stop(). initdb
 * refuses to run as root, so under root the cluster belongs to the
 * `postgres` user (Debian's package makes it) or else `nobody`.
 */

function binDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (fs.existsSync(base)) {
    const versions = fs
      .readdirSync(base)
      .filter((v) => fs.existsSync(path.join(base, v, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return path.join(base, versions[0]!, 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() !== '' ? path.dirname(which.stdout.trim()) : null;
}

/** Why the PostgreSQL tests cannot run here, or null when they can. */
export function postgresMissing(): string | null {
  const dir = binDir();
  if (dir === null) return 'PostgreSQL server binaries (initdb, pg_ctl) not found: run tools/setup.sh --test as root, or apt-get install postgresql';
  if (!fs.existsSync(path.join(dir, 'initdb'))) return `initdb not found in ${dir}`;
  return null;
}

interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

function runAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    if (r.status === 0 && g.status === 0) return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
  }
  throw new Error('running as root and no unprivileged user (postgres, nobody) to own the test cluster');
}

export class PgTestServer {
  #databases = 0;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
    private readonly as: RunAs | undefined,
  ) {}

  static async start(): Promise<PgTestServer> {
    const bin = binDir();
    if (bin === null) throw new Error(postgresMissing() ?? 'no PostgreSQL');
    const as = runAs();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcs-pg-'));
    fs.chmodSync(dir, 0o700);
    if (as) fs.chownSync(dir, as.uid, as.gid);
    const data = path.join(dir, 'data');
    const opts = { ...(as ?? {}), stdio: 'pipe' as const, cwd: dir };
    execFileSync(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], opts);
    const port = await freePort();
    // fsync off: a test cluster is thrown away, and the machine is busy
    const serverOpts = `-p ${port} -h 127.0.0.1 -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`;
    const server = new PgTestServer(dir, port, bin, as);
    server.#serverOpts = serverOpts;
    server.start();
    return server;
  }

  #serverOpts = '';
  #stopped = false;

  /** Starts the server (again, after halt()), same data and port. */
  start(): void {
    execFileSync(path.join(this.bin, 'pg_ctl'), ['-D', path.join(this.dir, 'data'), '-o', this.#serverOpts, '-l', path.join(this.dir, 'log'), '-w', '-t', '60', 'start'], {
      ...(this.as ?? {}),
      stdio: 'pipe',
      cwd: this.dir,
    });
  }

  /** Stops the server, keeping its data (an outage of the database). */
  halt(): void {
    execFileSync(path.join(this.bin, 'pg_ctl'), ['-D', path.join(this.dir, 'data'), '-m', 'fast', '-w', 'stop'], { ...(this.as ?? {}), stdio: 'pipe', cwd: this.dir });
  }

  /** A new empty database; its postgres:// URL. */
  async createDatabase(prefix = 'wcs'): Promise<string> {
    const name = `${prefix}_${process.pid}_${++this.#databases}`;
    const client = new pg.Client({ connectionString: this.url('postgres') });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** The server's log (shown when a test fails). */
  log(): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'log'), 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      execFileSync(path.join(this.bin, 'pg_ctl'), ['-D', path.join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop'], {
        ...(this.as ?? {}),
        stdio: 'pipe',
        cwd: this.dir,
      });
    } catch {
      // already halted
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
