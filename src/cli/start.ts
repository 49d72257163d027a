import { parseArgs } from 'node:util';
import { loadConfig, resolveConfig } from '../config/load.js';
import { TickerpulseError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { startDaemon } from '../daemon/daemon.js';
import { allRoles, parseRoles, type Role } from '../cluster/roles.js';
import { closeAllGates } from '../lib/nativeGate.js';
import { constants as osConstants } from 'node:os';

/** After a second signal, how long model calls already running may take before the exit. */
const SECOND_SIGNAL_WAIT_MS = 5000;

export const START_USAGE = `usage: tickerpulse start [--config FILE] [--db FILE] [--host HOST] [--port N] [--demo] [--role ROLES] [--log-level LEVEL]

  --config FILE   YAML or JSON config (default: built-in public financial news feeds)
  --db FILE       SQLite database (default data/tickerpulse.db)
  --host HOST     address to listen on (default 127.0.0.1)
  --port N        port (default 8787; 0 picks a free one, shown in the log and /healthz)
  --demo          add an offline demo source (the shipped demo corpus served as a loopback RSS feed);
                  without --config it is the only source (no public feeds: fully offline)
  --role ROLES    cluster mode: any of poll,write,serve comma-separated (default all); needs a
                  cluster: section in the config (docs/CLUSTER.md)
  --log-level L   fatal|error|warn|info|debug|trace (default info)

SIGHUP (or tickerpulse reload) re-reads --config: sources added, removed or changed start and
stop without touching the others (docs/OPERATIONS.md, "Reload").`;

/** Runs the daemon until SIGINT/SIGTERM. Returns only on a startup failure (exit code). */
export async function runStart(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        db: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        demo: { type: 'boolean', default: false },
        role: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`tickerpulse start: ${(err as Error).message}\n${START_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(START_USAGE + '\n');
    return 0;
  }
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) {
      process.stderr.write(`tickerpulse start: --port must be an integer 0-65535, got "${values.port}"\n`);
      return 2;
    }
  }
  let cfg;
  let roles: Set<Role>;
  const overrides = { db: values.db, host: values.host, port };
  // The offline demo: without a config, the demo source alone, not the built-in public feeds.
  // A reload (SIGHUP) reads the same file with the same command-line overrides.
  const load = () => (values.demo && values.config === undefined ? resolveConfig({}, { overrides }) : loadConfig(values.config, overrides));
  try {
    roles = parseRoles(values.role);
    cfg = load();
    if (!cfg.cluster && !allRoles(roles)) {
      throw new TickerpulseError('CONFIG_INVALID', `--role ${values.role} needs a cluster: section in the config (docs/CLUSTER.md); without it the daemon runs every role in one process`);
    }
    if (cfg.cluster && values.demo) throw new TickerpulseError('CONFIG_INVALID', '--demo is for the single-node daemon; give a cluster its sources in the config');
  } catch (err) {
    if (err instanceof TickerpulseError && err.code === 'CONFIG_INVALID') {
      process.stderr.write(`tickerpulse: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger({ level: values['log-level'] ?? cfg.log.level });
  // Installed before the start, so an early SIGHUP is not the default action (exit): it is
  // applied once the daemon runs.
  let daemon: { shutdown(reason?: string): Promise<void>; reload?: () => void } | undefined;
  let hupBeforeStart = false;
  const onHangup = () => {
    if (!daemon) hupBeforeStart = true;
    else if (daemon.reload) daemon.reload();
    else log.warn('SIGHUP: a cluster node does not reload its config; restart it to apply changes');
  };
  process.on('SIGHUP', onHangup);
  try {
    // No cluster section: the single-node daemon, exactly as before.
    daemon = cfg.cluster ? await (await import('../cluster/node.js')).startClusterNode(cfg, roles, { log }) : await startDaemon(cfg, { log, demo: values.demo, loadConfig: load });
  } catch (err) {
    process.off('SIGHUP', onHangup);
    if (err instanceof TickerpulseError && (err.code === 'CONFIG_INVALID' || err.code === 'DB_IN_USE')) {
      // A setting the user must change (e.g. a public bind without a token, a database another
      // daemon holds): one plain line.
      process.stderr.write(`tickerpulse: ${err.message}\n`);
      return 2;
    }
    log.fatal({ err }, 'tickerpulse failed to start');
    await new Promise((r) => setTimeout(r, 50));
    return 1;
  }
  if (hupBeforeStart) onHangup();
  const running = daemon;
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      if (signals > 2) return; // already exiting
      // A second signal means "now": skip the drain. But not while a worker thread is inside an
      // ONNX Runtime call: process.exit terminates the threads, and one cut inside that call
      // aborts the whole process (src/lib/nativeGate.ts). No new call starts; the ones running
      // (one batch each) are waited for. Exit 128 + signal number, as a shell reports it.
      process.stderr.write(`tickerpulse: second ${sig}, exiting immediately\n`);
      const code = 128 + (osConstants.signals[sig] ?? 15);
      void closeAllGates(SECOND_SIGNAL_WAIT_MS).finally(() => process.exit(code));
      return;
    }
    running.shutdown(sig).then(
      () => {
        log.flush?.();
        setTimeout(() => process.exit(0), 20);
      },
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return new Promise<number>(() => undefined);
}
