/** xsdot's HTTP framework: import everything an app needs from here. */
export { App, type Handler, type BeforeHook, type AfterHook, type ErrorHandler } from './app';
export { HttpError, abort, statusText } from './errors';
export { Headers } from './headers';
export { DEFAULT_LIMITS, type Limits } from './limits';
export { MultiDict } from './multidict';
export { Request } from './request';
export { escapeHtml } from './html';
export { Response, type Body, type StreamBody, type HandlerResult } from './response';
export { type CookieOptions } from './cookies';
export { sendFile, staticFiles, memoryFiles, contentType, type StaticFile, type StaticSource, type StaticOptions } from './static';
export { MultipartParser, multipartBoundary, DEFAULT_MULTIPART_LIMITS, type FilePart, type FileSink, type MultipartLimits, type MultipartOptions } from './multipart';
export { BodyStreamError, type RequestBody } from './body';
export { type RouteOptions } from './app';
export { UrlPattern } from './router';
export { Server, type ServerOptions, type ListenOptions } from './server';
export type { SocketProvider } from './socket';
export { CORS, type CorsOptions } from './cors';
