/**
 * A throwaway nats-server with JetStream: `nats-server -js -sd DIR -a 127.0.0.1 -p PORT` on a free
 * loopback port and a temp store dir. No node:test in here, so the benchmarks (test/bench/cluster*.ts,
 * plain processes) start it too; test/cluster/natsServer.ts adds the test-file cleanup hook.
 * Debian's nats-server package (2.9) provides the binary; .ci/run installs it when missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const running = new Set<ChildProcess>();
const dirs: string[] = [];

/** kill -9 every server started here and remove their store dirs (test after(), bench finally). */
export function stopAllNatsServers(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  running.clear();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Path of the nats-server binary, or null when it cannot be had (the tests then skip, saying so). */
export function natsServerBinary(): string | null {
  for (const p of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** The running server's pid (undefined once killed): the benchmarks read its CPU and RSS from /proc. */
  readonly pid: number | undefined;
  /** kill -9; the store dir stays for restart(). */
  kill(): Promise<void>;
  /** Starts it again on the same port and store dir. */
  restart(): Promise<void>;
}

export async function startNatsServer(): Promise<NatsServer> {
  const bin = natsServerBinary();
  if (!bin) throw new Error('nats-server not installed');
  const dir = mkdtempSync(join(tmpdir(), 'tp-nats-'));
  dirs.push(dir);
  const port = await freePort();
  let child: ChildProcess | null = null;

  async function launch(): Promise<void> {
    const c = spawn(bin!, ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    running.add(c);
    child = c;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not become ready within 20 s:\n${log}`)), 20_000);
      c.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      c.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${code}) before it was ready:\n${log}`));
      });
    });
    c.stderr!.resume();
  }

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      const c = child as ChildProcess | null;
      return c && c.exitCode === null && c.signalCode === null ? c.pid : undefined;
    },
    kill: async () => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
      running.delete(c);
    },
    restart: async () => {
      // The port may linger briefly after a kill: retry the launch.
      for (let i = 0; ; i++) {
        try {
          await launch();
          return;
        } catch (err) {
          if (i >= 10) throw err;
          await new Promise((r) => setTimeout(r, 300));
        }
      }
    },
  };
}
