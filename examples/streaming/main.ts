// A streamed page: a generator's pieces go out chunked, each as the socket drains, so a page far larger
// than the heap is sent a piece at a time (a device's table of readings, a log).
import { App, Response } from 'xsdot';
import { serve } from 'xsdot/host';

const ROWS = 500;

function* table(rows: number): Generator<string> {
  yield '<!doctype html><title>Readings</title><table><tr><th>#</th><th>value</th></tr>';
  for (let i = 1; i <= rows; i++) yield `<tr><td>${i}</td><td>${(i * 7919) % 1000}</td></tr>`;
  yield '</table>';
}

const app = new App();

app.get('/', () => Response.html(table(ROWS)));

// An async generator works too: each piece may wait for a sensor, a file, a timer.
app.get('/count', async function* () {
  for (let i = 1; i <= 3; i++) yield `${i}\n`;
});

serve(app);
