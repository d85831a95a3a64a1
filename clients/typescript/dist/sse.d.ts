/** One message of a Server-Sent Events stream, before its data is interpreted. */
export interface SseMessage {
    event: string;
    data: string;
    id: string | null;
}
/**
 * The messages of a `text/event-stream` body, as the HTML standard parses them:
 * `event`, `data` (lines joined by `\n`), `id`; comments and `retry` are skipped.
 * Ends when the body ends; cancelling the iteration cancels the body.
 */
export declare function parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage, void, undefined>;
