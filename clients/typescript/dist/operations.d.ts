/**
 * Every operation of the server's OpenAPI document (by `operationId`) and the
 * public method of {@link AgentshareClient} that performs it, as a path from the
 * client (`shareLinks.create` is `client.shareLinks.create`). Methods of a
 * viewer session (`client.shareCodes.exchange(code)`) do the same through its token.
 */
export declare const OPERATIONS: Readonly<Record<string, string>>;
