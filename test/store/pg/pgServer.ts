/**
 * A throwaway PostgreSQL server for tests: Debian's server binaries (/usr/lib/postgresql/N/bin),
 * a fresh cluster in a temp dir, trust auth, listening on 127.0.0.1 and a free port (its unix
 * socket in the temp dir, never /var/run). PostgreSQL refuses to run as root and CI runs as
 * root, so then the temp dir belongs to the `postgres` user and initdb/pg_ctl run as that user
 * through runuser.
 *
 * Usage: `const pg = await startPgServer(); after(() => pg.stop());` — stop() also runs when the
 * test file's process ends early (an `exit` hook), so a failed test leaves no server behind.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface PgServer {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  readonly url: string;
  readonly port: number;
  /** A new, empty database on this server; its URL. */
  createDatabase(name: string): Promise<string>;
  /** Immediate shutdown and removal of the temp dir (idempotent). */
  stop(): Promise<void>;
  /** An outage: immediate shutdown (as a crash: sessions cut, nothing flushed politely), data kept. */
  kill(): Promise<void>;
  /** Starts the killed server again on the same port and data. */
  restart(): Promise<void>;
}

/** The newest installed server's bin directory, or null (callers skip their tests then). */
export function findPgBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0], 'bin') : null;
}

/** Why the PostgreSQL tests cannot run here (null: they can). Passed to `test(..., { skip })`. */
export function pgSkipReason(): string | null {
  if (!findPgBin()) return 'PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql; .ci/run does)';
  if (process.getuid?.() === 0 && !passwdEntry('postgres')) return 'running as root and there is no "postgres" user to run the server as (apt-get install postgresql creates it)';
  return null;
}

function passwdEntry(user: string): { uid: number; gid: number } | null {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === user) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    /* no passwd file */
  }
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Synchronous stops of the servers still running, for the process's exit. */
const live = new Map<PgServer, () => void>();
process.once('exit', () => {
  // Last resort for a test process that ends without its after(): only synchronous work runs here.
  for (const stopSync of live.values()) stopSync();
});

export async function startPgServer(): Promise<PgServer> {
  const bin = findPgBin();
  if (!bin) throw new Error('PostgreSQL server binaries not found (see pgSkipReason)');
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? passwdEntry('postgres') : null;
  if (asRoot && !owner) throw new Error('running as root without a "postgres" user');
  const dir = mkdtempSync(join(tmpdir(), 'tickerpulse-pg-'));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const command = (cmd: string, args: string[]): [string, string[]] => (owner ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args]);
  const exec = (cmd: string, args: string[]) => run(...command(cmd, args), { cwd: dir });

  let stopped = false;
  let started = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    live.delete(server);
    if (started) await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  let port = 0;
  const server: PgServer = {
    get url() {
      return `postgres://postgres@127.0.0.1:${port}/postgres`;
    },
    get port() {
      return port;
    },
    async createDatabase(name: string) {
      const c = new pg.Client({ connectionString: server.url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      } finally {
        await c.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(name)}`;
    },
    stop,
    async kill() {
      await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    },
    async restart() {
      await exec('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', serverOpts(), '-w', '-t', '60', 'start']);
    },
  };
  const serverOpts = () => `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir} -c fsync=off -c full_page_writes=off -c max_connections=60`;
  live.set(server, () => {
    try {
      if (started) execFileSync(...command('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']), { cwd: dir, stdio: 'ignore' });
    } catch {
      /* already stopped */
    }
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    // --no-sync and fsync=off: a throwaway cluster, durability across an OS crash is irrelevant.
    await exec('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    // Another process can take the probed port before the server binds it: try a few.
    let lastErr: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      port = await freePort();
      try {
        await exec('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', serverOpts(), '-w', '-t', '60', 'start']);
        started = true;
        return server;
      } catch (err) {
        lastErr = err;
        await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      }
    }
    let log = '';
    try {
      log = readFileSync(join(dir, 'server.log'), 'utf8').slice(-2000);
    } catch {
      /* no log */
    }
    throw new Error(`PostgreSQL did not start: ${lastErr instanceof Error ? lastErr.message : String(lastErr)}\n${log}`);
  } catch (err) {
    await stop();
    throw err;
  }
}
