// microdot's examples/cors/app.py: pages of https://example.org (and only those) may call this API with the
// browser's cookies. Preflights are answered 204 with exactly these lists; other origins get no CORS header.
import { App, CORS } from 'xsdot';
import { serve } from 'xsdot/host';

const app = new App();
new CORS(app, {
  allowedOrigins: ['https://example.org'],
  allowCredentials: true, // refused (thrown) with allowedOrigins ['*']
  allowedMethods: ['GET', 'PUT'],
  allowedHeaders: ['Content-Type'],
  maxAge: 600,
});

let greeting = 'Hello World!';
app.get('/', () => greeting);
app.put('/', (request) => {
  greeting = request.text.slice(0, 64);
  return greeting;
});

serve(app);
