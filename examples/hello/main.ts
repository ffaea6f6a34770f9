// Hello, World! — microdot's hello example. Node: `npx tsx examples/hello/main.ts`; Moddable: see manifest.json.
import { App, Response } from 'xsdot';
import { serve } from 'xsdot/host';

const app = new App();

app.get('/', () => Response.html('<!doctype html><title>xsdot</title><h1>Hello, World!</h1>'));
app.get('/hello/<name>', (request) => `Hello, ${String(request.params.name)}!`);

serve(app); // http://127.0.0.1:8080 (PORT on Node, the manifest's config.port on Moddable)
