/**
 * The throwaway nats-server of test/cluster/natsProcess.ts for test files: every server a test file
 * started is killed (and its store dir removed) when the file ends, also on failure.
 */
import { after } from 'node:test';
import { natsServerBinary, stopAllNatsServers } from './natsProcess.js';

export { natsServerBinary, startNatsServer, type NatsServer } from './natsProcess.js';

after(() => stopAllNatsServers());

export const SKIP_NO_NATS = natsServerBinary() ? false : 'nats-server not installed (apt-get install nats-server; .ci/run does it)';
