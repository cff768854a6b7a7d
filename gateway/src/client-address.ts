import { BlockList, isIP } from "node:net";

/** Longest X-Forwarded-For read, in characters; only its right end matters, so the rest is cut off. */
const MAX_FORWARDED_FOR_LENGTH = 1024;
/** Most hops walked from the right: a chain of trusted proxies longer than this is not believable. */
const MAX_HOPS = 16;
/** Most entries TRUSTED_PROXIES may list. */
export const MAX_TRUSTED_PROXIES = 64;

/** An IPv4 address as IPv4 even when it comes IPv4-mapped ("::ffff:10.0.0.1" from a dual-stack socket). */
function plain(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** Why an entry of TRUSTED_PROXIES is not an IP address or CIDR range, or undefined when it is one. */
export function trustedProxyProblem(entry: string): string | undefined {
  const [address = "", prefix, extra] = entry.split("/");
  const version = isIP(address);
  if (version === 0 || extra !== undefined) return `"${entry}" is not an IP address or a CIDR range such as 10.0.0.0/8`;
  if (prefix !== undefined) {
    const bits = Number(prefix);
    if (!/^\d{1,3}$/.test(prefix) || bits > (version === 4 ? 32 : 128)) return `"${entry}" has an invalid prefix length`;
  }
  return undefined;
}

/**
 * The client's address for rate limits. Behind an ingress every connection comes from the
 * ingress, so X-Forwarded-For is read, but only from a peer that is a configured trusted proxy
 * (anyone else could write anything there). It is read from the right: each trusted proxy appends
 * the address it got the request from, so the right-most address that is not itself a trusted
 * proxy is the one the client connected from; everything left of it the client wrote itself.
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly size: number;

  /** Entries are checked by the configuration (trustedProxyProblem). */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address = "", prefix] = entry.split("/");
      if (prefix === undefined) this.list.addAddress(plain(address), isIP(plain(address)) === 6 ? "ipv6" : "ipv4");
      else this.list.addSubnet(address, Number(prefix), isIP(address) === 6 ? "ipv6" : "ipv4");
    }
    this.size = entries.length;
  }

  trusts(address: string): boolean {
    const version = isIP(address);
    return version !== 0 && this.list.check(address, version === 6 ? "ipv6" : "ipv4");
  }

  /** The client address of a request from `peer` carrying `forwardedFor` (the header as received, all lines joined). */
  clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    const from = plain(peer ?? "unknown");
    if (this.size === 0 || forwardedFor === undefined || !this.trusts(from)) return from;
    const header = Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor;
    const hops =
      header.length > MAX_FORWARDED_FOR_LENGTH
        ? header.slice(-MAX_FORWARDED_FOR_LENGTH).split(",").slice(1) // the first entry was cut
        : header.split(",");
    let client = from;
    for (let i = hops.length - 1, walked = 0; i >= 0 && walked < MAX_HOPS; i--, walked++) {
      const hop = plain(hops[i]!.trim());
      // Something that is not an address was not written by a proxy we trust: stop at the last real one.
      if (isIP(hop) === 0) break;
      client = hop;
      if (!this.trusts(hop)) break;
    }
    return client;
  }
}
