import { AgentshareError, errorFromResponse } from "./errors.js";

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

export const DEFAULT_SERVER = "http://127.0.0.1:8080";

/** `AGENTSHARE_SERVER` from the environment, where there is one (Node, Deno, Bun; not a browser). */
export function serverFromEnvironment(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.["AGENTSHARE_SERVER"];
  return value ? value : undefined;
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}

/** Builds URLs, sends requests with the credentials, turns failures into {@link AgentshareError}. */
export class Transport {
  readonly server: string;
  readonly #token: string | undefined;
  readonly #fetch: FetchFunction;

  constructor(server: string, token: string | undefined, fetchFunction: FetchFunction | undefined) {
    this.server = server.replace(/\/+$/, "");
    this.#token = token;
    this.#fetch = fetchFunction ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The same server and fetch with another bearer token (a viewer session's). */
  withToken(token: string | undefined): Transport {
    return new Transport(this.server, token, this.#fetch);
  }

  /** An absolute URL: `path` on the server, or `path` itself when it is already absolute. */
  url(path: string, query?: Record<string, QueryValue>): string {
    const url = new URL(/^https?:\/\//i.test(path) ? path : this.server + path);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    return url.toString();
  }

  /** Sends a request; answers the response when its status is 2xx or 3xx, else throws. */
  async send(method: string, path: string, options: CallOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.auth !== false && this.#token) headers["Authorization"] = `Bearer ${this.#token}`;
    let body = options.body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    if (!Object.keys(headers).some((name) => name.toLowerCase() === "accept")) {
      headers["Accept"] = "application/json";
    }
    const url = this.url(path, options.query);
    let response: Response;
    try {
      response = await this.#fetch(url, { method, headers, body, signal: options.signal });
    } catch (error) {
      if (isAbort(error)) throw error;
      const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
      throw new AgentshareError({
        status: 0,
        code: "CONNECTION_FAILED",
        message: `cannot reach ${this.server}: ${reason}`,
        cause: error,
      });
    }
    if (response.status >= 400) throw await errorFromResponse(response);
    return response;
  }

  /** Sends a request and answers its JSON body, unwrapped from `{"success": true, "data": …}`. */
  async json<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    const text = await response.text();
    if (!text) return undefined as T;
    const body = JSON.parse(text) as unknown;
    if (typeof body === "object" && body !== null && (body as { success?: unknown }).success === true && "data" in body) {
      return (body as { data: T }).data;
    }
    return body as T;
  }

  /** Sends a request whose answer has no body (204). */
  async empty(method: string, path: string, options: CallOptions = {}): Promise<void> {
    const response = await this.send(method, path, options);
    await response.body?.cancel();
  }

  /** Sends a request and answers its body as bytes. */
  async bytes(method: string, path: string, options: CallOptions = {}): Promise<Uint8Array> {
    const response = await this.send(method, path, options);
    return new Uint8Array(await response.arrayBuffer());
  }

  /** Sends a request and answers its body as text. */
  async text(method: string, path: string, options: CallOptions = {}): Promise<string> {
    const response = await this.send(method, path, options);
    return response.text();
  }

  /** Sends a request and answers its body as a stream. */
  async stream(method: string, path: string, options: CallOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const response = await this.send(method, path, options);
    if (!response.body) return new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
    return response.body;
  }
}

/** `segment` escaped for a URL path. */
export function p(segment: string | number): string {
  return encodeURIComponent(String(segment));
}
