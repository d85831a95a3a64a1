/** The `fetch` function the client calls (the global one by default). */
export type FetchFunction = (input: string, init?: RequestInit) => Promise<Response>;
export type QueryValue = string | number | boolean | null | undefined;
export interface CallOptions {
    query?: Record<string, QueryValue>;
    /** A JSON body. */
    json?: unknown;
    /** A raw body (with its own content type in `headers`). */
    body?: BodyInit;
    headers?: Record<string, string>;
    signal?: AbortSignal;
    /** `false`: send no Authorization header. */
    auth?: boolean;
}
export declare const DEFAULT_SERVER = "http://127.0.0.1:8080";
/** `AGENTSHARE_SERVER` from the environment, where there is one (Node, Deno, Bun; not a browser). */
export declare function serverFromEnvironment(): string | undefined;
/** Builds URLs, sends requests with the credentials, turns failures into {@link AgentshareError}. */
export declare class Transport {
    #private;
    readonly server: string;
    constructor(server: string, token: string | undefined, fetchFunction: FetchFunction | undefined);
    /** The same server and fetch with another bearer token (a viewer session's). */
    withToken(token: string | undefined): Transport;
    /** An absolute URL: `path` on the server, or `path` itself when it is already absolute. */
    url(path: string, query?: Record<string, QueryValue>): string;
    /** Sends a request; answers the response when its status is 2xx or 3xx, else throws. */
    send(method: string, path: string, options?: CallOptions): Promise<Response>;
    /** Sends a request and answers its JSON body, unwrapped from `{"success": true, "data": …}`. */
    json<T>(method: string, path: string, options?: CallOptions): Promise<T>;
    /** Sends a request whose answer has no body (204). */
    empty(method: string, path: string, options?: CallOptions): Promise<void>;
    /** Sends a request and answers its body as bytes. */
    bytes(method: string, path: string, options?: CallOptions): Promise<Uint8Array>;
    /** Sends a request and answers its body as text. */
    text(method: string, path: string, options?: CallOptions): Promise<string>;
    /** Sends a request and answers its body as a stream. */
    stream(method: string, path: string, options?: CallOptions): Promise<ReadableStream<Uint8Array>>;
}
/** `segment` escaped for a URL path. */
export declare function p(segment: string | number): string;
