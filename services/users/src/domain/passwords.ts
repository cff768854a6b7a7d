import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

/**
 * Password hashes are scrypt with a random 16-byte salt. Each hash records its own cost, so the
 * cost can be raised later without invalidating older hashes:
 * `scrypt$<log2 N>$<r>$<p>$<salt base64>$<hash base64>`.
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
}

const KEY_LENGTH = 32;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize("NFC"), salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

const memoryFor = (cost: number, blockSize: number) => 256 * cost * blockSize;

export class ScryptPasswordHasher implements PasswordHasher {
  /** @param log2Cost log2 of scrypt's N: 15 (32 MiB, tens of milliseconds) in production, lower only in tests. */
  constructor(private readonly log2Cost = 15) {}

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const N = 2 ** this.log2Cost;
    const key = await derive(password, salt, { N, r: BLOCK_SIZE, p: PARALLELISM, maxmem: memoryFor(N, BLOCK_SIZE) });
    return ["scrypt", this.log2Cost, BLOCK_SIZE, PARALLELISM, salt.toString("base64"), key.toString("base64")].join("$");
  }

  async verify(password: string, hash: string): Promise<boolean> {
    const [scheme, log2Cost, r, p, salt, expected] = hash.split("$");
    if (scheme !== "scrypt" || !salt || !expected) return false;
    const N = 2 ** Number(log2Cost);
    const expectedKey = Buffer.from(expected, "base64");
    const key = await derive(password, Buffer.from(salt, "base64"), {
      N,
      r: Number(r),
      p: Number(p),
      maxmem: memoryFor(N, Number(r)),
    });
    return key.length === expectedKey.length && timingSafeEqual(key, expectedKey);
  }
}
