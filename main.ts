/**
 * The xsdot app. Until the device login app lands this is a small hello/echo app that exercises
 * routing, bodies and streaming; `hosts/*` serve it.
 */
import { App, Response } from './modules/http/index';

export function createApp(): App {
  const app = new App();

  app.get('/', () => 'Hello, World!');

  app.get('/hello/<name>', (request) => `Hello, ${String(request.params.name)}!`);

  app.post('/echo', (request) => {
    if (request.json !== undefined) return { json: request.json };
    if (request.form !== undefined) return { form: request.form.toObject() };
    return { text: request.text };
  });

  // A page streamed in pieces as the socket drains: never held whole in RAM.
  app.get('/count/<int:n>', (request) => {
    const n = Math.min(Number(request.params.n), 10_000);
    return Response.html((function* () {
      yield '<!doctype html><title>count</title><ol>';
      for (let i = 1; i <= n; i++) yield `<li>${i}</li>`;
      yield '</ol>';
    })());
  });

  return app;
}
