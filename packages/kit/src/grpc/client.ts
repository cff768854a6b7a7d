import { credentials, Metadata, type CallOptions, type Client, type ServiceError } from "@grpc/grpc-js";

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown;

/** Calls a unary method of a generated grpc-js client and resolves with its response. */
export function unary<Req, Res>(
  client: Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  metadata: Metadata = new Metadata(),
  options: Partial<CallOptions> = {},
): Promise<Res> {
  return new Promise((resolve, reject) =>
    method.call(client, request, metadata, options, (error, response) => (error ? reject(error) : resolve(response))),
  );
}

/** Plaintext channel credentials: traffic between services stays inside the cluster network. */
export const insecureChannel = () => credentials.createInsecure();
