/**
 * The messages of a `text/event-stream` body, as the HTML standard parses them:
 * `event`, `data` (lines joined by `\n`), `id`; comments and `retry` are skipped.
 * Ends when the body ends; cancelling the iteration cancels the body.
 */
export async function* parseSse(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let event = "";
    let data = [];
    let id = null;
    let lastId = null;
    let done = false;
    try {
        while (!done) {
            const chunk = await reader.read();
            if (chunk.done) {
                done = true;
                buffer += decoder.decode();
                // A last line without its terminator is not dispatched (as in the standard).
            }
            else {
                buffer += decoder.decode(chunk.value, { stream: true });
            }
            for (;;) {
                const match = /\r\n|\r|\n/.exec(buffer);
                if (!match)
                    break;
                // A lone \r at the very end may be the first half of \r\n: wait for more.
                if (match[0] === "\r" && match.index === buffer.length - 1 && !done)
                    break;
                const line = buffer.slice(0, match.index);
                buffer = buffer.slice(match.index + match[0].length);
                if (line === "") {
                    if (data.length > 0) {
                        yield { event: event || "message", data: data.join("\n"), id: id ?? lastId };
                    }
                    if (id !== null)
                        lastId = id;
                    event = "";
                    data = [];
                    id = null;
                    continue;
                }
                if (line.startsWith(":"))
                    continue;
                const colon = line.indexOf(":");
                const field = colon === -1 ? line : line.slice(0, colon);
                let value = colon === -1 ? "" : line.slice(colon + 1);
                if (value.startsWith(" "))
                    value = value.slice(1);
                if (field === "event")
                    event = value;
                else if (field === "data")
                    data.push(value);
                else if (field === "id" && !value.includes("\0"))
                    id = value;
            }
        }
    }
    finally {
        if (!done)
            await reader.cancel().catch(() => undefined);
        reader.releaseLock();
    }
}
