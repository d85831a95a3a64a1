import { AgentshareError, errorFromResponse } from "./errors.js";
export const DEFAULT_SERVER = "http://127.0.0.1:8080";
/** `AGENTSHARE_SERVER` from the environment, where there is one (Node, Deno, Bun; not a browser). */
export function serverFromEnvironment() {
    const env = globalThis.process?.env;
    const value = env?.["AGENTSHARE_SERVER"];
    return value ? value : undefined;
}
function isAbort(error) {
    return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}
/** Builds URLs, sends requests with the credentials, turns failures into {@link AgentshareError}. */
export class Transport {
    server;
    #token;
    #fetch;
    constructor(server, token, fetchFunction) {
        this.server = server.replace(/\/+$/, "");
        this.#token = token;
        this.#fetch = fetchFunction ?? ((input, init) => globalThis.fetch(input, init));
    }
    /** The same server and fetch with another bearer token (a viewer session's). */
    withToken(token) {
        return new Transport(this.server, token, this.#fetch);
    }
    /** An absolute URL: `path` on the server, or `path` itself when it is already absolute. */
    url(path, query) {
        const url = new URL(/^https?:\/\//i.test(path) ? path : this.server + path);
        for (const [name, value] of Object.entries(query ?? {})) {
            if (value !== undefined && value !== null)
                url.searchParams.set(name, String(value));
        }
        return url.toString();
    }
    /** Sends a request; answers the response when its status is 2xx or 3xx, else throws. */
    async send(method, path, options = {}) {
        const headers = { ...options.headers };
        if (options.auth !== false && this.#token)
            headers["Authorization"] = `Bearer ${this.#token}`;
        let body = options.body;
        if (options.json !== undefined) {
            headers["Content-Type"] = "application/json";
            body = JSON.stringify(options.json);
        }
        if (!Object.keys(headers).some((name) => name.toLowerCase() === "accept")) {
            headers["Accept"] = "application/json";
        }
        const url = this.url(path, options.query);
        let response;
        try {
            response = await this.#fetch(url, { method, headers, body, signal: options.signal });
        }
        catch (error) {
            if (isAbort(error))
                throw error;
            const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
            throw new AgentshareError({
                status: 0,
                code: "CONNECTION_FAILED",
                message: `cannot reach ${this.server}: ${reason}`,
                cause: error,
            });
        }
        if (response.status >= 400)
            throw await errorFromResponse(response);
        return response;
    }
    /** Sends a request and answers its JSON body, unwrapped from `{"success": true, "data": …}`. */
    async json(method, path, options = {}) {
        const response = await this.send(method, path, options);
        const text = await response.text();
        if (!text)
            return undefined;
        const body = JSON.parse(text);
        if (typeof body === "object" && body !== null && body.success === true && "data" in body) {
            return body.data;
        }
        return body;
    }
    /** Sends a request whose answer has no body (204). */
    async empty(method, path, options = {}) {
        const response = await this.send(method, path, options);
        await response.body?.cancel();
    }
    /** Sends a request and answers its body as bytes. */
    async bytes(method, path, options = {}) {
        const response = await this.send(method, path, options);
        return new Uint8Array(await response.arrayBuffer());
    }
    /** Sends a request and answers its body as text. */
    async text(method, path, options = {}) {
        const response = await this.send(method, path, options);
        return response.text();
    }
    /** Sends a request and answers its body as a stream. */
    async stream(method, path, options = {}) {
        const response = await this.send(method, path, options);
        if (!response.body)
            return new ReadableStream({ start: (controller) => controller.close() });
        return response.body;
    }
}
/** `segment` escaped for a URL path. */
export function p(segment) {
    return encodeURIComponent(String(segment));
}
