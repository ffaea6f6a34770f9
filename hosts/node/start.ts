/** `npm start`: the app on Node, at http://127.0.0.1:8080 unless HOST / PORT say otherwise. */
import { createApp } from '../../main';
import { serve } from './serve';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`PORT must be a TCP port number, got ${process.env.PORT}\n`);
  process.exit(2);
}

const running = await serve(createApp(), { port, host });
process.stdout.write(`xsdot listening on ${running.url}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    running.close();
    process.exit(0);
  });
}
