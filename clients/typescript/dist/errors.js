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
export class AgentshareError extends Error {
    /** The HTTP status (0 when no answer came: the server could not be reached). */
    status;
    /** The server's code, e.g. `INVALID_REQUEST`, `SHARE_LINK_NOT_FOUND`, `FORBIDDEN`. */
    code;
    /** `details.field`: the request field at fault, when the server names one. */
    field;
    /** `details.issue`: what is wrong with that field (400 `INVALID_REQUEST`). */
    issue;
    /** `details` of the owner API's error (`{}` when there are none). */
    details;
    /** The share-code API's error kind (`validation_error`, `unauthorized`, `not_found`…). */
    errorType;
    /** Seconds to wait before trying again (`Retry-After`), on 429 and 503 answers. */
    retryAfter;
    /** The parsed body of the answer (or its text when it was not JSON). */
    body;
    constructor(init) {
        super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
        this.name = "AgentshareError";
        this.status = init.status;
        this.code = init.code;
        this.details = init.details ?? {};
        const field = this.details["field"];
        this.field = typeof field === "string" ? field : null;
        const issue = this.details["issue"];
        this.issue = typeof issue === "string" ? issue : null;
        this.errorType = init.errorType ?? null;
        this.retryAfter = init.retryAfter ?? null;
        this.body = init.body ?? null;
    }
}
/** `message: issue`, unless the message says it already. */
function withIssue(message, issue) {
    return issue === null || message.includes(issue) ? message : `${message}: ${issue}`;
}
function isObject(value) {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
/** Reads a failed response into an {@link AgentshareError}. */
export async function errorFromResponse(response) {
    const text = await response.text().catch(() => "");
    let body = text;
    try {
        body = text ? JSON.parse(text) : null;
    }
    catch {
        // Not JSON (a page, or a proxy's answer): the text is the body.
    }
    const retryHeader = response.headers.get("retry-after");
    const retryAfter = retryHeader !== null && /^\d+$/.test(retryHeader.trim()) ? Number(retryHeader) : null;
    const status = response.status;
    if (isObject(body) && isObject(body["error"])) {
        // The owner API: {"success": false, "error": {"code", "message", "details"}}.
        const error = body["error"];
        const details = isObject(error["details"]) ? error["details"] : {};
        const issue = typeof details["issue"] === "string" && details["issue"] ? details["issue"] : null;
        return new AgentshareError({
            status,
            code: String(error["code"] ?? `HTTP_${status}`),
            message: withIssue(String(error["message"] ?? response.statusText), issue),
            details,
            retryAfter,
            body,
        });
    }
    if (isObject(body) && typeof body["message"] === "string" && body["code"] !== undefined) {
        // The share-code API ({"code", "error", "message"}), or an OTLP google.rpc.Status
        // ({"code": <number>, "message", "details": [...]}).
        return new AgentshareError({
            status,
            code: String(body["code"]),
            message: body["message"],
            errorType: typeof body["error"] === "string" ? body["error"] : null,
            details: isObject(body["details"]) ? body["details"] : {},
            retryAfter,
            body,
        });
    }
    const summary = typeof body === "string" && body && !body.trimStart().startsWith("<") ? body.slice(0, 500) : "";
    return new AgentshareError({
        status,
        code: `HTTP_${status}`,
        message: summary || `HTTP ${status} ${response.statusText}`.trim(),
        retryAfter,
        body,
    });
}
