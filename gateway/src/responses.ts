import type { StreamResponse, UnaryResponse } from "@connectrpc/connect";

/** `chirp.tweets.v1.TweetsService/CreateTweet`: how logs and metrics name a call. */
export const rpcName = (method: { parent: { typeName: string }; name: string }) => `${method.parent.typeName}/${method.name}`;

/**
 * Observes the end of a response an interceptor passes on: a unary one has ended when it is
 * returned, a server stream only once its last message has been read, which happens after the
 * interceptors have returned. `failed` sees a stream's error and gives back the error to throw.
 */
export function onResponseEnd<R extends UnaryResponse | StreamResponse>(res: R, finished: () => void, failed: (error: unknown) => unknown): R {
  if (!res.stream) {
    finished();
    return res;
  }
  const messages = res.message;
  return {
    ...res,
    message: (async function* () {
      try {
        yield* messages;
        finished();
      } catch (error) {
        throw failed(error);
      }
    })(),
  };
}
