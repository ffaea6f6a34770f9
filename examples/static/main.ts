// Static files and an upload. A stylesheet with ETag/304, Cache-Control and HEAD; and a multipart/form-data
// upload read as it arrives (request.stream), each file part passing through a sink in pieces: never whole in RAM.
import { App, Response, memoryFiles, staticFiles, MultipartParser, multipartBoundary } from 'xsdot';
import { serve } from 'xsdot/host';

// In memory here, so it runs anywhere. A folder: `directoryFiles('./public')` (Node, from xsdot/host);
// the firmware's flash: `resourceFiles(index)` (Moddable, from xsdot/host, index built by scripts/assets.ts).
const files = memoryFiles({ 'site.css': 'body{font:16px sans-serif;max-width:30rem;margin:auto}' });

const app = new App();
app.get('/static/<path:name>', staticFiles(files, { cacheControl: 'max-age=600' }));

app.get('/', () => Response.html('<!doctype html><link rel="stylesheet" href="/static/site.css"><h1>Upload</h1>' +
  '<form method="post" action="/upload" enctype="multipart/form-data">' +
  '<input name="note"><input type="file" name="file"><button>Send</button></form>'));

// Bodies up to 1 MiB, streamed: the server reads the socket only as fast as this loop takes the pieces.
app.post('/upload', async (request) => {
  // A Map, not an object: a client's file names must not become property names (XS keeps those forever).
  const sizes = new Map<string, number>();
  const parser = new MultipartParser(multipartBoundary(request.headers.get('content-type')), {
    limits: { maxFileBytes: 1024 * 1024 },
    file: (part) => ({
      write: (bytes) => void sizes.set(part.filename, (sizes.get(part.filename) ?? 0) + bytes.length),
      close: () => undefined,
      abort: () => undefined,
    }),
  });
  for await (const piece of request.stream ?? []) parser.write(piece);
  const fields = parser.end();
  return { note: fields.get('note') ?? '', files: [...sizes].map(([name, size]) => ({ name, size })) };
}, { maxStreamBody: 1024 * 1024 + 4096 });

serve(app);
