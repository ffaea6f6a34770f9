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
import { NO_PARAMS, type Request } from './request';
import { Response, toResponse, type HandlerResult } from './response';
import { canonicalPath, splitPath, UrlPattern } from './router';

export type Handler = (request: Request) => HandlerResult | Promise<HandlerResult>;
/** Runs before the handler; returning anything but undefined answers with it instead. */
export type BeforeHook = (request: Request) => HandlerResult | Promise<HandlerResult>;
/** Runs after the handler (or an early before hook); returning a value replaces the response. */
export type AfterHook = (request: Request, response: Response) => HandlerResult | Promise<HandlerResult>;
export type ErrorHandler = (request: Request, error: unknown) => HandlerResult | Promise<HandlerResult>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ErrorClass = abstract new (...args: any[]) => unknown;

/** Per-route options (the fourth argument of `route`, the third of `get`/`post`/…). */
export interface RouteOptions {
  /**
   * The route takes its body as a stream (`request.stream`, body.ts) of at most this many bytes
   * (413 beyond), instead of whole within the server's maxBody; chunked bodies are accepted too.
   */
  maxStreamBody?: number;
}

interface Route {
  methods: readonly string[];
  /** Set only for a route with `maxStreamBody`. */
  maxStreamBody?: number;
  pattern: UrlPattern;
  handler: Handler;
  /** Hook lists of the apps this route was mounted through, outermost first (shared, so later hooks apply). */
  before: BeforeHook[][];
  after: AfterHook[][];
}

/** Method lists `get`/`post`/… share (frozen: a route may keep a frozen list of upper-case names as given). */
const GET: readonly string[] = Object.freeze(['GET']);
const POST: readonly string[] = Object.freeze(['POST']);
const PUT: readonly string[] = Object.freeze(['PUT']);
const PATCH: readonly string[] = Object.freeze(['PATCH']);
const DELETE: readonly string[] = Object.freeze(['DELETE']);

export class App {
  readonly #routes: Route[] = [];
  readonly #before: BeforeHook[] = [];
  readonly #after: AfterHook[] = [];
  /** The hook groups of this app's own routes, shared by them all (mounted routes get lists of their own). */
  readonly #ownBefore: BeforeHook[][] = [this.#before];
  readonly #ownAfter: AfterHook[][] = [this.#after];
  readonly #afterError: AfterHook[] = [];
  readonly #statusHandlers = new Map<number, ErrorHandler>();
  readonly #classHandlers: [ErrorClass, ErrorHandler][] = [];
  /** Routes taking a streamed body: while 0, `streamLimit` answers at once. */
  #streaming = 0;

  /**
   * Adds a route: `route(path, handler)` for GET, `route(path, ['GET', 'POST'], handler)` for the methods
   * named (microdot's `@app.route(url, methods=[...])`). Returns the handler, so it can be reused.
   * `path` may be a UrlPattern made beforehand, and `methods` a frozen list of upper-case names: the
   * route then keeps both as they are (made at module level, they stay in flash when preloaded on XS).
   */
  route<H extends Handler>(path: string | UrlPattern, handler: H): H;
  route<H extends Handler>(path: string | UrlPattern, methods: readonly string[], handler: H, options?: RouteOptions): H;
  route<H extends Handler>(path: string | UrlPattern, methodsOrHandler: readonly string[] | H, handler?: H, options?: RouteOptions): H {
    if (typeof methodsOrHandler === 'function') return this.route(path, GET, methodsOrHandler);
    const pattern = typeof path === 'string' ? new UrlPattern(path) : path;
    if (handler === undefined) throw new TypeError(`xsdot: route ${pattern.pattern} has methods but no handler`);
    const methods = Object.isFrozen(methodsOrHandler) && methodsOrHandler.every((method) => method === method.toUpperCase())
      ? methodsOrHandler : methodsOrHandler.map((method) => method.toUpperCase());
    const route: Route = { methods, pattern, handler, before: this.#ownBefore, after: this.#ownAfter };
    const limit = options?.maxStreamBody;
    if (limit !== undefined) {
      if (!Number.isInteger(limit) || limit <= 0) throw new RangeError(`xsdot: route ${pattern.pattern}: maxStreamBody must be a positive integer, got ${String(limit)}`);
      route.maxStreamBody = limit;
      this.#streaming++;
    }
    this.#routes.push(route);
    return handler;
  }

  get<H extends Handler>(path: string | UrlPattern, handler: H, options?: RouteOptions): H { return this.route(path, GET, handler, options); }
  post<H extends Handler>(path: string | UrlPattern, handler: H, options?: RouteOptions): H { return this.route(path, POST, handler, options); }
  put<H extends Handler>(path: string | UrlPattern, handler: H, options?: RouteOptions): H { return this.route(path, PUT, handler, options); }
  patch<H extends Handler>(path: string | UrlPattern, handler: H, options?: RouteOptions): H { return this.route(path, PATCH, handler, options); }
  delete<H extends Handler>(path: string | UrlPattern, handler: H, options?: RouteOptions): H { return this.route(path, DELETE, handler, options); }

  /**
   * @internal The `maxStreamBody` of the route `method` and the request-target reach (the server's
   * BodyPolicy), else undefined. Nothing is matched while no route streams.
   */
  streamLimit(method: string, target: string): number | undefined {
    if (this.#streaming === 0) return undefined;
    const question = target.indexOf('?');
    let segments: string[];
    try {
      segments = splitPath(canonicalPath(question < 0 ? target : target.slice(0, question)));
    } catch {
      return undefined; // a malformed path is refused when it is routed
    }
    for (const route of this.#routes) {
      if (route.methods.includes(method) && route.pattern.match(segments) !== undefined) return route.maxStreamBody;
    }
    return undefined;
  }

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
      const mounted: Route = {
        methods: route.methods,
        pattern: route.pattern.withPrefix(prefix),
        handler: route.handler,
        before: [this.#before, ...route.before],
        after: [...route.after, this.#after],
      };
      if (route.maxStreamBody !== undefined) {
        mounted.maxStreamBody = route.maxStreamBody;
        this.#streaming++;
      }
      this.#routes.push(mounted);
    }
    for (const [status, handler] of subApp.#statusHandlers) if (!this.#statusHandlers.has(status)) this.#statusHandlers.set(status, handler);
    for (const entry of subApp.#classHandlers) this.#classHandlers.push(entry);
  }

  /**
   * Answers one request; never throws, and the promise it may return never rejects. Synchronous (a
   * Response) while every hook and handler returns a plain value: a promise, closure and job per step
   * would be most of a small request's allocation on XS. The first step that returns a promise makes
   * the rest asynchronous, in the same order.
   */
  handle(request: Request): Response | Promise<Response> {
    request.app ??= this;
    let response: Response | Promise<Response>;
    try {
      response = this.#runBefore(request, this.#match(request), 0, 0);
    } catch (error) {
      response = this.#errorResponse(request, error);
    }
    if (isThenable(response)) {
      return response.then(undefined, (error: unknown) => this.#errorResponse(request, error))
        .then((settled) => this.#afterRequest(request, settled, 0));
    }
    return this.#afterRequest(request, response, 0);
  }

  /**
   * Per-request hooks from `from` on; they also see error responses: a session ended before an
   * abort() must still expire.
   */
  #afterRequest(request: Request, response: Response, from: number): Response | Promise<Response> {
    const hooks = request.afterRequestHooks;
    for (let i = from; i < hooks.length; i++) {
      let next: Response | Promise<Response>;
      try {
        next = replacedBy(response, hooks[i](request, response));
      } catch (error) {
        next = this.#errorResponse(request, error);
      }
      if (isThenable(next)) {
        return next.then(undefined, (error: unknown) => this.#errorResponse(request, error))
          .then((settled) => this.#afterRequest(request, settled, i + 1));
      }
      response = next;
    }
    return response;
  }

  /**
   * Answers `request` with `error` without routing it (the server's refusals, e.g. 421 for a Host that is
   * not the server's): the error handlers and afterError hooks apply as for a route's error. Never throws.
   */
  handleError(request: Request, error: unknown): Response | Promise<Response> {
    request.app ??= this;
    return this.#errorResponse(request, error);
  }

  /** The error handler's response, passed through the afterError hooks (an error there is logged, not re-raised). */
  #errorResponse(request: Request, error: unknown): Response | Promise<Response> {
    const response = this.#handleError(request, error);
    return isThenable(response) ? response.then((settled) => this.#afterErrorHooks(request, settled, 0)) : this.#afterErrorHooks(request, response, 0);
  }

  #afterErrorHooks(request: Request, response: Response, from: number): Response | Promise<Response> {
    const hooks = this.#afterError;
    for (let i = from; i < hooks.length; i++) {
      let next: Response | Promise<Response>;
      try {
        next = replacedBy(response, hooks[i](request, response));
      } catch (hookError) {
        logUnhandled(request, hookError);
        continue;
      }
      if (isThenable(next)) {
        const current = response;
        return next.then(undefined, (hookError: unknown) => {
          logUnhandled(request, hookError);
          return current;
        }).then((settled) => this.#afterErrorHooks(request, settled, i + 1));
      }
      response = next;
    }
    return response;
  }

  /** Before hooks from group `group`, hook `index` on; then the handler (unless a hook answered), then the after hooks. */
  #runBefore(request: Request, route: Route, group: number, index: number): Response | Promise<Response> {
    for (; group < route.before.length; group++, index = 0) {
      const hooks = route.before[group];
      for (; index < hooks.length; index++) {
        const early = hooks[index](request);
        if (isThenable(early)) {
          const [g, i] = [group, index];
          return Promise.resolve(early).then((value) => (value !== undefined ? this.#runAfter(request, route, toResponse(value as HandlerResult), 0, 0) : this.#runBefore(request, route, g, i + 1)));
        }
        // As in microdot, after hooks see an early answer too (e.g. to add security headers to a redirect).
        if (early !== undefined) return this.#runAfter(request, route, toResponse(early), 0, 0);
      }
    }
    const result = route.handler(request);
    if (isThenable(result)) return Promise.resolve(result).then((value) => this.#runAfter(request, route, toResponse(value as HandlerResult), 0, 0));
    return this.#runAfter(request, route, toResponse(result), 0, 0);
  }

  #runAfter(request: Request, route: Route, response: Response, group: number, index: number): Response | Promise<Response> {
    for (; group < route.after.length; group++, index = 0) {
      const hooks = route.after[group];
      for (; index < hooks.length; index++) {
        const next = replacedBy(response, hooks[index](request, response));
        if (isThenable(next)) {
          const [g, i] = [group, index];
          return next.then((settled) => this.#runAfter(request, route, settled, g, i + 1));
        }
        response = next;
      }
    }
    return response;
  }

  /**
   * The route for `request`, its params set on it. An indexed loop and no tuple: on XS a for-of loop or a
   * destructured array allocates an iterator and a result object per step.
   */
  #match(request: Request): Route {
    // As in microdot, hooks run for matched routes only; 404/405 go straight to the error handlers.
    const path = request.path;
    const routes = this.#routes;
    // Split only when a route with parameters is tried: a static pattern matches the path equal to it.
    let segments: string[] | undefined;
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    let allowed: string[] | undefined;
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i];
      const pattern = route.pattern;
      const params = pattern.isStatic ? (pattern.pattern === path ? NO_PARAMS : undefined) : pattern.match(segments ??= splitPath(path));
      if (params === undefined) continue;
      if (route.methods.includes(method)) {
        request.params = params;
        return route;
      }
      allowed = (allowed ?? []).concat(route.methods);
    }
    if (allowed === undefined) throw new HttpError(404);
    if (allowed.includes('GET')) allowed.push('HEAD');
    throw new HttpError(405, undefined, { headers: { Allow: [...new Set(allowed)].join(', ') } });
  }

  #handleError(request: Request, error: unknown): Response | Promise<Response> {
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
    const fallback = () => errorResponse(error instanceof HttpError ? error : new HttpError(500));
    if (handler !== undefined) {
      try {
        const result = handler(request, error);
        if (!isThenable(result)) return toResponse(result);
        return Promise.resolve(result).then((value) => toResponse(value as HandlerResult)).then(undefined, (handlerError: unknown) => {
          logUnhandled(request, handlerError);
          return fallback();
        });
      } catch (handlerError) {
        logUnhandled(request, handlerError);
      }
    }
    return fallback();
  }
}

/** The plain response for an HttpError (also used by the server for parse errors). */
export function errorResponse(error: HttpError): Response {
  return new Response(error.reason || statusText(error.status), error.status, error.headers);
}

/** What a hook's result makes of `response`: itself (undefined), the result as a Response, or a promise of that. */
function replacedBy(response: Response, result: HandlerResult | Promise<HandlerResult>): Response | Promise<Response> {
  if (isThenable(result)) return Promise.resolve(result).then((value) => (value === undefined ? response : toResponse(value as HandlerResult)));
  return result === undefined ? response : toResponse(result);
}

/** True for promises and other thenables (what `await` would wait for). */
export function isThenable(value: unknown): value is Promise<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

function logUnhandled(request: Request, error: unknown): void {
  const detail = error instanceof Error ? `${error.name}: ${error.message}${error.stack ? '\n' + error.stack : ''}` : String(error);
  runtime().log('error', `${request.method} ${request.rawPath}: unhandled ${detail}`);
}
