/**
 * The application: routes, hooks and error handlers, in microdot's shape.
 *
 *     const app = new App();
 *     app.get('/hello/<name>', (req) => `Hello, ${req.params.name}!`);
 *
 * `handle()` turns a Request into a Response and never throws: handler errors become 500 (logged
 * through the host, never shown to the client), HttpErrors their status, unknown paths 404, and
 * known paths with another method 405 with `Allow`.
 */
import { runtime } from '../runtime';
import { HttpError, statusText } from './errors';
import type { Request } from './request';
import { Response, toResponse, type HandlerResult } from './response';
import { splitPath, UrlPattern, type Params } from './router';

export type Handler = (request: Request) => HandlerResult | Promise<HandlerResult>;
/** Runs before the handler; returning anything but undefined answers with it instead. */
export type BeforeHook = (request: Request) => HandlerResult | Promise<HandlerResult>;
/** Runs after the handler (or an early before hook); returning a value replaces the response. */
export type AfterHook = (request: Request, response: Response) => HandlerResult | Promise<HandlerResult>;
export type ErrorHandler = (request: Request, error: unknown) => HandlerResult | Promise<HandlerResult>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ErrorClass = abstract new (...args: any[]) => unknown;

interface Route {
  methods: readonly string[];
  pattern: UrlPattern;
  handler: Handler;
  /** Hook lists of the apps this route was mounted through, outermost first (shared, so later hooks apply). */
  before: BeforeHook[][];
  after: AfterHook[][];
}

export class App {
  readonly #routes: Route[] = [];
  readonly #before: BeforeHook[] = [];
  readonly #after: AfterHook[] = [];
  readonly #afterError: AfterHook[] = [];
  readonly #statusHandlers = new Map<number, ErrorHandler>();
  readonly #classHandlers: [ErrorClass, ErrorHandler][] = [];

  /** Adds a route for the given methods (default GET). Returns the handler, so it can be reused. */
  route<H extends Handler>(path: string, methods: readonly string[], handler: H): H {
    const upper = methods.map((method) => method.toUpperCase());
    this.#routes.push({ methods: upper, pattern: new UrlPattern(path), handler, before: [this.#before], after: [this.#after] });
    return handler;
  }

  get<H extends Handler>(path: string, handler: H): H { return this.route(path, ['GET'], handler); }
  post<H extends Handler>(path: string, handler: H): H { return this.route(path, ['POST'], handler); }
  put<H extends Handler>(path: string, handler: H): H { return this.route(path, ['PUT'], handler); }
  patch<H extends Handler>(path: string, handler: H): H { return this.route(path, ['PATCH'], handler); }
  delete<H extends Handler>(path: string, handler: H): H { return this.route(path, ['DELETE'], handler); }

  /** A hook run before every request of this app (and of the routes mounted into it). */
  before(hook: BeforeHook): BeforeHook {
    this.#before.push(hook);
    return hook;
  }

  /** A hook run on every response of a matched route, including one a before hook answered early. */
  after(hook: AfterHook): AfterHook {
    this.#after.push(hook);
    return hook;
  }

  /** A hook run on every error response (404, 405, HttpErrors, 500), as microdot's `after_error_request`. */
  afterError(hook: AfterHook): AfterHook {
    this.#afterError.push(hook);
    return hook;
  }

  /** Handles errors by HTTP status (404, 500, …) or by error class (`instanceof`). */
  errorHandler(statusOrClass: number | ErrorClass, handler: ErrorHandler): ErrorHandler {
    if (typeof statusOrClass === 'number') this.#statusHandlers.set(statusOrClass, handler);
    else this.#classHandlers.push([statusOrClass, handler]);
    return handler;
  }

  /**
   * Serves `subApp`'s routes under `prefix`. Its hooks keep applying to its own routes only; its error
   * handlers are used where this app has none for that status or class.
   */
  mount(subApp: App, prefix: string): void {
    if (!prefix.startsWith('/')) throw new TypeError('xsdot: a mount prefix must start with "/"');
    for (const route of subApp.#routes) {
      this.#routes.push({
        methods: route.methods,
        pattern: route.pattern.withPrefix(prefix),
        handler: route.handler,
        before: [this.#before, ...route.before],
        after: [...route.after, this.#after],
      });
    }
    for (const [status, handler] of subApp.#statusHandlers) if (!this.#statusHandlers.has(status)) this.#statusHandlers.set(status, handler);
    for (const entry of subApp.#classHandlers) this.#classHandlers.push(entry);
  }

  /** Answers one request. Never throws. */
  async handle(request: Request): Promise<Response> {
    request.app ??= this;
    let response: Response;
    try {
      const [route, params] = this.#match(request);
      request.params = params;
      response = await this.#run(request, route);
    } catch (error) {
      response = await this.#errorResponse(request, error);
    }
    // Per-request hooks also see error responses: a session ended before an abort() must still expire.
    for (const hook of request.afterRequestHooks) {
      try {
        response = replaced(response, await hook(request, response));
      } catch (error) {
        response = await this.#errorResponse(request, error);
      }
    }
    return response;
  }

  /**
   * Answers `request` with `error` without routing it (the server's refusals, e.g. 421 for a Host that is
   * not the server's): the error handlers and afterError hooks apply as for a route's error. Never throws.
   */
  handleError(request: Request, error: unknown): Promise<Response> {
    request.app ??= this;
    return this.#errorResponse(request, error);
  }

  /** The error handler's response, passed through the afterError hooks (an error there is logged, not re-raised). */
  async #errorResponse(request: Request, error: unknown): Promise<Response> {
    let response = await this.#handleError(request, error);
    for (const hook of this.#afterError) {
      try {
        response = replaced(response, await hook(request, response));
      } catch (hookError) {
        logUnhandled(request, hookError);
      }
    }
    return response;
  }

  async #run(request: Request, route: Route): Promise<Response> {
    let early: HandlerResult;
    for (const hooks of route.before) {
      for (const hook of hooks) {
        early = await hook(request);
        if (early !== undefined) break;
      }
      if (early !== undefined) break;
    }
    // As in microdot, after hooks see an early answer too (e.g. to add security headers to a redirect).
    let response = toResponse(early !== undefined ? early : await route.handler(request));
    for (const hooks of route.after) for (const hook of hooks) response = replaced(response, await hook(request, response));
    return response;
  }

  #match(request: Request): [Route, Params] {
    // As in microdot, hooks run for matched routes only; 404/405 go straight to the error handlers.
    const segments = splitPath(request.path);
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    let allowed: string[] | undefined;
    for (const route of this.#routes) {
      const params = route.pattern.match(segments);
      if (params === undefined) continue;
      if (route.methods.includes(method)) return [route, params];
      allowed = (allowed ?? []).concat(route.methods);
    }
    if (allowed === undefined) throw new HttpError(404);
    if (allowed.includes('GET')) allowed.push('HEAD');
    throw new HttpError(405, undefined, { headers: { Allow: [...new Set(allowed)].join(', ') } });
  }

  async #handleError(request: Request, error: unknown): Promise<Response> {
    const status = error instanceof HttpError ? error.status : 500;
    let handler = this.#statusHandlers.get(status);
    if (!(error instanceof HttpError)) {
      for (const [errorClass, classHandler] of this.#classHandlers) {
        if (error instanceof errorClass) {
          handler = classHandler;
          break;
        }
      }
      if (handler === undefined || handler === this.#statusHandlers.get(500)) logUnhandled(request, error);
    }
    if (handler !== undefined) {
      try {
        return toResponse(await handler(request, error));
      } catch (handlerError) {
        logUnhandled(request, handlerError);
      }
    }
    return errorResponse(error instanceof HttpError ? error : new HttpError(500));
  }
}

/** The plain response for an HttpError (also used by the server for parse errors). */
export function errorResponse(error: HttpError): Response {
  return new Response(error.reason || statusText(error.status), error.status, error.headers);
}

function replaced(response: Response, result: HandlerResult): Response {
  return result === undefined ? response : toResponse(result);
}

function logUnhandled(request: Request, error: unknown): void {
  const detail = error instanceof Error ? `${error.name}: ${error.message}${error.stack ? '\n' + error.stack : ''}` : String(error);
  runtime().log('error', `${request.method} ${request.rawPath}: unhandled ${detail}`);
}
