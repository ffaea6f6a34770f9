// A JSON API: a bounded list of notes. GET /api/notes, POST /api/notes {"text": "..."}, DELETE /api/notes/<int:id>.
import { App, Response, abort } from 'xsdot';
import { serve } from 'xsdot/host';

const MAX_NOTES = 16;
const MAX_TEXT = 200;
const notes = new Map<number, string>();
let nextId = 1;

const app = new App();
const api = new App();

api.get('/notes', () => [...notes].map(([id, text]) => ({ id, text })));

api.post('/notes', (request) => {
  const body = request.json as { text?: unknown } | undefined;
  const text = body?.text;
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_TEXT) abort(400, `text: 1-${MAX_TEXT} characters`);
  if (notes.size >= MAX_NOTES) abort(409, `at most ${MAX_NOTES} notes`);
  const id = nextId++;
  notes.set(id, text);
  return Response.json({ id, text }, 201, { Location: `/api/notes/${id}` });
});

api.get('/notes/<int:id>', (request) => {
  const id = request.params.id as number;
  return notes.has(id) ? { id, text: notes.get(id) } : abort(404);
});

api.route('/notes/<int:id>', ['DELETE'], (request) => (notes.delete(request.params.id as number) ? new Response('', 204) : abort(404)));

app.mount(api, '/api');
serve(app);
