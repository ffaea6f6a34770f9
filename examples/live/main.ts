// Live pages: a Server-Sent Events counter and a WebSocket echo (xsdot/live), with the page that uses them.
import { App, Response } from 'xsdot';
import { sleep, withSSE, withWebSocket } from 'xsdot/live';
import { serve } from 'xsdot/host';

const PAGE = `<!doctype html><meta charset="utf-8"><title>xsdot live</title>
<p>Count: <b id="count">…</b></p><p><input id="text"> <button id="send">Echo</button> <b id="echo"></b></p>
<script>
const $ = (id) => document.getElementById(id);
new EventSource('/count').addEventListener('tick', (event) => { $('count').textContent = event.data; });
const ws = new WebSocket('ws://' + location.host + '/echo');
ws.onmessage = (event) => { $('echo').textContent = event.data; };
$('send').onclick = () => ws.send($('text').value);
</script>`;

const app = new App();

app.get('/', () => Response.html(PAGE));

// Counts to 100, one event a second; a browser that reconnects goes on from its Last-Event-ID.
app.get('/count', withSSE(async (_request, sse) => {
  for (let i = (Number(sse.lastEventId) || 0) + 1; i <= 100 && !sse.isClosed; i++) {
    sse.send(i, { event: 'tick', id: String(i) });
    await sleep(1000);
  }
}));

// Echoes each message back until the client closes.
app.get('/echo', withWebSocket(async (_request, ws) => {
  for await (const message of ws) ws.send(message);
}));

serve(app);
