import { generateKeyPairSync, sign } from "node:crypto";
import {
  DomainError,
  TokenSigner,
  TokenVerifier,
  generateSigningKeyPair,
  keyId,
  parseSigningKey,
  parseVerificationKey,
  type AccessClaims,
} from "@chirp/kit";

const settings = { issuer: "chirp-test", audience: "chirp-api" };
const TTL = 900;
const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);

const pair = generateSigningKeyPair();
const signer = new TokenSigner(parseSigningKey(pair.privateKeyPem), { ...settings, ttlSeconds: TTL });
const verifier = new TokenVerifier([parseVerificationKey(pair.publicKeyPem)], settings);

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const unb64 = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;

function refusal(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe("UNAUTHENTICATED");
    return error as DomainError;
  }
  throw new Error("expected the token to be refused");
}

describe("access tokens", () => {
  it("signs a token that verifies with its subject and roles", () => {
    const { token, expiresAt } = signer.sign("user-1", ["admin", "beta"], NOW);
    expect(token.split(".")).toHaveLength(3);
    expect(expiresAt.getTime()).toBe(NOW + TTL * 1000);
    const claims: AccessClaims = verifier.verify(token, NOW + 1_000);
    expect(claims.sub).toBe("user-1");
    expect(claims.roles).toEqual(["admin", "beta"]);
    expect(claims.iss).toBe(settings.issuer);
    expect(claims.aud).toBe(settings.audience);
    expect(claims.iat).toBe(NOW / 1000);
    expect(claims.exp).toBe(NOW / 1000 + TTL);
    expect(typeof claims.jti).toBe("string");
    expect(signer.sign("user-1", [], NOW).token).not.toBe(token);
  });

  it("names its key and algorithm in the header", () => {
    const header = unb64(signer.sign("user-1", [], NOW).token.split(".")[0]!);
    expect(header).toEqual({ alg: "EdDSA", typ: "JWT", kid: keyId(parseVerificationKey(pair.publicKeyPem)) });
    expect(keyId(signer.publicKey)).toBe(header.kid);
  });

  it("defaults to no roles", () => {
    expect(verifier.verify(signer.sign("user-2", undefined, NOW).token, NOW).roles).toEqual([]);
  });

  it("refuses an expired token, allowing the clock tolerance", () => {
    const { token } = signer.sign("user-1", [], NOW);
    const expiry = NOW + TTL * 1000;
    // Still accepted within the default 30 s tolerance.
    expect(verifier.verify(token, expiry + 29_000).sub).toBe("user-1");
    expect(refusal(() => verifier.verify(token, expiry + 30_000)).message).toMatch(/expired/);
    expect(refusal(() => verifier.verify(token, expiry + 3_600_000)).message).toMatch(/expired/);
    const strict = new TokenVerifier([signer.publicKey], { ...settings, clockToleranceSeconds: 0 });
    expect(refusal(() => strict.verify(token, expiry)).message).toMatch(/expired/);
    expect(strict.verify(token, expiry - 1_000).sub).toBe("user-1");
  });

  it("remembers a verified token without skipping the checks that change with time or signature", () => {
    const remembering = new TokenVerifier([signer.publicKey], settings);
    const { token } = signer.sign("user-3", [], NOW);
    expect(remembering.verify(token, NOW).sub).toBe("user-3");
    expect(remembering.verify(token, NOW + 60_000).sub).toBe("user-3");
    // A remembered token still expires, and a look-alike with another signature is checked afresh.
    expect(refusal(() => remembering.verify(token, NOW + (TTL + 30) * 1000)).message).toMatch(/expired/);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const forged = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith("AA") ? "BA" : "AA"}`;
    expect(refusal(() => remembering.verify(forged, NOW)).message).toMatch(/signature/);
    expect(remembering.verify(token, NOW).sub).toBe("user-3");
  });

  it("refuses a token issued in the future", () => {
    const { token } = signer.sign("user-1", [], NOW + 120_000);
    expect(refusal(() => verifier.verify(token, NOW)).message).toMatch(/not valid yet/);
  });

  it("refuses the wrong issuer or audience", () => {
    const { token } = signer.sign("user-1", [], NOW);
    const otherIssuer = new TokenVerifier([signer.publicKey], { ...settings, issuer: "someone-else" });
    const otherAudience = new TokenVerifier([signer.publicKey], { ...settings, audience: "another-api" });
    expect(refusal(() => otherIssuer.verify(token, NOW)).message).toMatch(/issuer/);
    expect(refusal(() => otherAudience.verify(token, NOW)).message).toMatch(/audience/);
  });

  it("names the session it was issued for as sid, only when given one", () => {
    expect(verifier.verify(signer.sign("user-1", [], NOW, "01J0000000000000000000000S").token, NOW).sid).toBe("01J0000000000000000000000S");
    expect(verifier.verify(signer.sign("user-1", [], NOW).token, NOW)).not.toHaveProperty("sid");
  });

  it("refuses a tampered payload", () => {
    const { token } = signer.sign("user-1", ["user"], NOW);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const claims = unb64(payload);
    for (const changed of [{ ...claims, sub: "user-2" }, { ...claims, roles: ["admin"] }, { ...claims, exp: (claims.exp as number) + 86_400 }]) {
      const forged = `${header}.${b64(changed)}.${signature}`;
      expect(refusal(() => verifier.verify(forged, NOW)).message).toMatch(/signature is invalid/);
    }
  });

  it("refuses a tampered or truncated signature", () => {
    const { token } = signer.sign("user-1", [], NOW);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const bytes = Buffer.from(signature, "base64url");
    bytes[0] = bytes[0]! ^ 1;
    expect(refusal(() => verifier.verify(`${header}.${payload}.${bytes.toString("base64url")}`, NOW)).message).toMatch(/signature/);
    expect(refusal(() => verifier.verify(`${header}.${payload}.${signature.slice(0, 20)}`, NOW)).message).toMatch(/signature/);
    expect(refusal(() => verifier.verify(`${header}.${payload}.`, NOW)).message).toMatch(/signature/);
  });

  it("refuses a token signed by an unknown key", () => {
    const other = generateSigningKeyPair();
    const otherSigner = new TokenSigner(parseSigningKey(other.privateKeyPem), { ...settings, ttlSeconds: TTL });
    const { token } = otherSigner.sign("user-1", [], NOW);
    expect(refusal(() => verifier.verify(token, NOW)).message).toMatch(/unknown key/);

    // Claiming our key id does not help: the signature does not match our key.
    const [, payload, signature] = token.split(".") as [string, string, string];
    const ourHeader = b64({ alg: "EdDSA", typ: "JWT", kid: keyId(signer.publicKey) });
    expect(refusal(() => verifier.verify(`${ourHeader}.${payload}.${signature}`, NOW)).message).toMatch(/signature is invalid/);
  });

  it("accepts tokens from every configured key, for rotation", () => {
    const next = generateSigningKeyPair();
    const nextSigner = new TokenSigner(parseSigningKey(next.privateKeyPem), { ...settings, ttlSeconds: TTL });
    const both = new TokenVerifier([signer.publicKey, parseVerificationKey(next.publicKeyPem)], settings);
    expect(both.verify(signer.sign("old", [], NOW).token, NOW).sub).toBe("old");
    expect(both.verify(nextSigner.sign("new", [], NOW).token, NOW).sub).toBe("new");
  });

  it.each([
    ["none", { alg: "none", typ: "JWT" }],
    ["none with our kid", { alg: "none", typ: "JWT", kid: "KID" }],
    ["HS256", { alg: "HS256", typ: "JWT", kid: "KID" }],
    ["RS256", { alg: "RS256", kid: "KID" }],
    ["no alg", { typ: "JWT", kid: "KID" }],
    ["another typ", { alg: "EdDSA", typ: "at+jwt+other", kid: "KID" }],
  ])("refuses a header with %s", (_, header) => {
    const kid = keyId(signer.publicKey);
    const { token } = signer.sign("user-1", [], NOW);
    const [, payload, signature] = token.split(".") as [string, string, string];
    const h = b64(JSON.parse(JSON.stringify(header).replace("KID", kid)));
    for (const sig of [signature, ""]) {
      expect(refusal(() => verifier.verify(`${h}.${payload}.${sig}`, NOW)).message).toMatch(/unsupported algorithm/);
    }
  });

  it.each(["", "abc", "a.b", "a.b.c.d", "...", "not a token at all"])("refuses the malformed string %p", (token) => {
    const error = refusal(() => verifier.verify(token, NOW));
    expect(error.message).toMatch(/malformed|unsupported algorithm/);
  });

  it("refuses signed claims that are malformed", () => {
    // Only a holder of the signing key could make these; the verifier still checks their shape.
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const own = new TokenVerifier([publicKey], settings);
    const header = b64({ alg: "EdDSA", typ: "JWT", kid: keyId(publicKey) });
    const good = { sub: "u", roles: [], iss: settings.issuer, aud: settings.audience, iat: NOW / 1000, exp: NOW / 1000 + 60, jti: "j" };
    const signed = (claims: unknown) => {
      const input = `${header}.${b64(claims)}`;
      return `${input}.${sign(null, Buffer.from(input), privateKey).toString("base64url")}`;
    };
    expect(own.verify(signed(good), NOW).sub).toBe("u");
    expect(own.verify(signed({ ...good, sid: "S" }), NOW).sid).toBe("S");
    const badSessions = [{ ...good, sid: "" }, { ...good, sid: 7 }, { ...good, sid: ["S"] }, { ...good, sid: "S".repeat(65) }];
    for (const claims of [{ ...good, sub: "" }, { ...good, roles: [1] }, { ...good, exp: "later" }, { sub: "u" }, [1, 2], "text", ...badSessions]) {
      expect(refusal(() => own.verify(signed(claims), NOW)).message).toMatch(/claims are malformed/);
    }
  });
});

describe("key parsing", () => {
  it("accepts Ed25519 PEM keys", () => {
    expect(parseSigningKey(pair.privateKeyPem).asymmetricKeyType).toBe("ed25519");
    expect(parseVerificationKey(pair.publicKeyPem).asymmetricKeyType).toBe("ed25519");
    expect(pair.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(pair.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });

  it("refuses keys of another type", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const ecPrivate = ec.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const ecPublic = ec.publicKey.export({ type: "spki", format: "pem" }).toString();
    expect(() => parseSigningKey(ecPrivate)).toThrow(/must be Ed25519, got ec/);
    expect(() => parseVerificationKey(ecPublic)).toThrow(/must be Ed25519, got ec/);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
    expect(() => parseSigningKey(rsa.privateKey.export({ type: "pkcs8", format: "pem" }).toString())).toThrow(/must be Ed25519, got rsa/);
  });

  it("refuses text that is not a key", () => {
    expect(() => parseSigningKey("not a key")).toThrow();
    expect(() => parseVerificationKey("")).toThrow();
  });
});
