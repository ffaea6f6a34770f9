/**
 * The firmware update page of the login app: GET /update shows a form, POST /update takes a
 * multipart/form-data upload — the CSRF token, the image's expected SHA-256 (64 hex digits), then the
 * image — streamed (request.stream, never whole in RAM) through the multipart parser into the host's
 * firmware update (runtime.ts FirmwareUpdate: the SDK's OTA on ESP32, a file elsewhere).
 *
 * Who: a signed-in admin (a viewer gets 403). CSRF: the origin check of the app's guard,
 * then the token, which must come in the body before the image: no byte is written before it is checked.
 * The image is accepted (`complete()`: OTA complete, or the rename) only when the whole body was read and
 * its SHA-256 matches; any failure — no token, wrong hash, over the size limit (413), a malformed body,
 * a client gone mid-upload — cancels it, and the running firmware is untouched. The device keeps running
 * the old firmware until it is restarted.
 */
import { HttpError } from '../modules/http/errors';
import { escapeHtml as escape } from '../modules/http/html';
import { MultipartParser, multipartBoundary, type FileSink } from '../modules/http/multipart';
import type { Request } from '../modules/http/request';
import { Response } from '../modules/http/response';
import { CSRF_FIELD, type CsrfTokens } from '../modules/auth/index';
import type { SessionData } from '../modules/session/index';
import { runtime, type FirmwareUpdate } from '../modules/runtime';
import { layout, message, type Message } from './pages';

/** Where the page is. */
export const UPDATE_PATH = '/update';
/** The largest image accepted by default: 2 MiB (an ESP32 OTA partition is at most ~1.9 MiB on 4 MB flash). */
export const DEFAULT_MAX_IMAGE_BYTES = 2 * 1024 * 1024;
/** Room for the form's other parts and the multipart framing, on top of the image. */
const FORM_OVERHEAD = 4096;

/** What the login app (main.ts) lends the update page. */
export interface UpdateContext {
  /** The device's name now (it may change in the settings). */
  readonly device: string;
  /** Whether `user` is an admin: only admins see the page and upload (others: 403). */
  isAdmin(user: string): boolean;
  readonly tokens: CsrfTokens;
  /** Largest image, bytes (the app's default: DEFAULT_MAX_IMAGE_BYTES): over it, 413 and the update is cancelled. */
  readonly maxImageBytes: number;
}

/** The `maxStreamBody` of the upload route: the largest image plus the form's other parts. */
export function updateStreamLimit(maxImageBytes: number): number {
  return maxImageBytes + FORM_OVERHEAD;
}

function updatePage(device: string, token: string | undefined, note?: Message): string {
  const supported = runtime().beginFirmwareUpdate !== undefined;
  const form = !supported || token === undefined ? '<p>This device cannot take a firmware update.</p>' :
    `<form class="box" method="post" action="${UPDATE_PATH}" enctype="multipart/form-data">` +
    `<input type="hidden" name="${CSRF_FIELD}" value="${escape(token)}">` +
    '<label for="sha256">SHA-256 of the image (64 hex digits)</label>' +
    '<input id="sha256" name="sha256" autocomplete="off" spellcheck="false" pattern="[0-9a-fA-F]{64}" required>' +
    '<label for="image">Firmware image</label><input id="image" name="image" type="file" required>' +
    '<button type="submit">Upload</button></form>';
  return layout(device, 'Update firmware',
    message(note) + form + '<p>The image is checked against its SHA-256 before it is accepted; the device runs it after a restart.</p><p><a href="/">Back</a></p>');
}

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += (byte < 16 ? '0' : '') + byte.toString(16);
  return out;
}

function page(ctx: UpdateContext, session: SessionData, note?: Message, status = 200): Response {
  if (session.isNew) session.save();
  return Response.html(updatePage(ctx.device, ctx.tokens.token(session.sid), note), status);
}

function adminOnly(ctx: UpdateContext, user: string): void {
  if (!ctx.isAdmin(user)) throw new HttpError(403, 'Only an admin can update the firmware.');
}

/** GET UPDATE_PATH of a signed-in `user`: the form (403 for a viewer). */
export function updateForm(_request: Request, session: SessionData, user: string, ctx: UpdateContext): Response {
  adminOnly(ctx, user);
  return page(ctx, session);
}

/**
 * POST UPDATE_PATH of a signed-in `user` (403 for a viewer): the upload, streamed; its route takes a
 * body of `updateStreamLimit(ctx.maxImageBytes)` bytes at most.
 */
export async function updateUpload(request: Request, session: SessionData, user: string, ctx: UpdateContext): Promise<Response> {
  adminOnly(ctx, user);
  const tokens = ctx.tokens;
  const stream = request.stream;
  if (stream === undefined || runtime().beginFirmwareUpdate === undefined) throw new HttpError(501, 'This device cannot take a firmware update.');
  let update: FirmwareUpdate | undefined;
  let hash: ReturnType<ReturnType<typeof runtime>['crypto']['createSha256']> | undefined;
  let received = 0;
  let expected = '';
  const parser = new MultipartParser(multipartBoundary(request.headers.getLower('content-type')), {
    limits: { maxParts: 3, maxFieldBytes: 128, maxFileBytes: ctx.maxImageBytes },
    file: (part): FileSink => {
      // The token and the hash come first: nothing is written for a request that fails them.
      const fields = parser.fields;
      if (part.name !== 'image' || update !== undefined) throw new HttpError(400, 'Unexpected file in the form.');
      if (!tokens.verify(session.sid, fields.get(CSRF_FIELD)) || fields.getAll(CSRF_FIELD).length !== 1) throw new HttpError(403, 'The form has expired. Reload the page and try again.');
      expected = (fields.get('sha256') ?? '').trim().toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(expected)) throw new HttpError(400, 'The SHA-256 must be 64 hex digits, before the image in the form.');
      const target = runtime().beginFirmwareUpdate?.() as FirmwareUpdate;
      update = target;
      const digest = runtime().crypto.createSha256();
      hash = digest;
      return {
        write(bytes) {
          digest.update(bytes);
          target.write(bytes);
          received += bytes.length;
        },
        close() { /* accepted below, once the whole body is read and checked */ },
        abort() { target.cancel(); },
      };
    },
  });
  try {
    for await (const piece of stream) parser.write(piece);
    parser.end();
    if (update === undefined || hash === undefined || received === 0) throw new HttpError(400, 'No firmware image in the form.');
    if (hex(hash.digest()) !== expected) {
      update.cancel();
      return page(ctx, session, { text: 'The image does not match its SHA-256: nothing was changed.', error: true }, 422);
    }
    update.complete();
  } catch (error) {
    parser.abort();
    update?.cancel();
    throw error;
  }
  runtime().log('info', `xsdot: firmware image of ${received} bytes accepted (sha256 ${expected}); it runs after a restart`);
  return page(ctx, session, { text: `Image of ${received} bytes accepted. Restart the device to run it.` });
}
