// A server process for the shutdown test: serves a slow EchoPolicy on a free loopback port, prints
// "listening PORT", and exits 0 after a graceful close on SIGTERM/SIGINT.
import { closeOnSignal, startServer } from './server.ts';
import { EchoPolicy } from './testing.ts';

const server = await startServer({ policy: new EchoPolicy({ delayMs: Number(process.argv[2] ?? 300) }), port: 0, log: () => {} });
process.stdout.write(`listening ${server.port}\n`);
const signal = await closeOnSignal(server, (l) => process.stderr.write(`${l}\n`));
process.stdout.write(`closed after ${signal}\n`);
