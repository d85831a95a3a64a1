/**
 * An answer of the server that is not a success, or a request that never got one.
 *
 * The owner API answers `{"success": false, "error": {"code", "message", "details"}}`,
 * the share-code API `{"code", "error", "message"}`; both end up here with the HTTP
 * status. `error.message` is the server's own message, followed by what is wrong
 * with the field at fault when the server says (`details.issue`): "Invalid request
 * parameters: expires_at must be in the future"; `field` names the field and
 * `issue` holds the reason alone. The Python and Go clients write the same text.
 */
export declare class AgentshareError extends Error {
    /** The HTTP status (0 when no answer came: the server could not be reached). */
    readonly status: number;
    /** The server's code, e.g. `INVALID_REQUEST`, `SHARE_LINK_NOT_FOUND`, `FORBIDDEN`. */
    readonly code: string;
    /** `details.field`: the request field at fault, when the server names one. */
    readonly field: string | null;
    /** `details.issue`: what is wrong with that field (400 `INVALID_REQUEST`). */
    readonly issue: string | null;
    /** `details` of the owner API's error (`{}` when there are none). */
    readonly details: Record<string, unknown>;
    /** The share-code API's error kind (`validation_error`, `unauthorized`, `not_found`…). */
    readonly errorType: string | null;
    /** Seconds to wait before trying again (`Retry-After`), on 429 and 503 answers. */
    readonly retryAfter: number | null;
    /** The parsed body of the answer (or its text when it was not JSON). */
    readonly body: unknown;
    constructor(init: {
        status: number;
        code: string;
        message: string;
        details?: Record<string, unknown>;
        errorType?: string | null;
        retryAfter?: number | null;
        body?: unknown;
        cause?: unknown;
    });
}
/** Reads a failed response into an {@link AgentshareError}. */
export declare function errorFromResponse(response: Response): Promise<AgentshareError>;
