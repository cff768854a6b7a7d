import { BIO, checkText, DISPLAY_NAME, invalidArgument, isId } from "@chirp/kit";
import { EDITABLE_FIELDS, type EditableField } from "./model.js";

export const USERNAME_PATTERN = /^[A-Za-z0-9_]{3,15}$/;
const USERNAME_PREFIX_PATTERN = /^[A-Za-z0-9_]{0,15}$/;
/** No part can take what another may, so a failing match is linear. */
const EMAIL_PATTERN = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
/** An address is at most 254 bytes (RFC 5321's path less its angle brackets). */
const MAX_EMAIL = 254;
export const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_LENGTH = 1024;
const MAX_URL_LENGTH = 2048;
export const MAX_BATCH = 100;

export const required = (field: string) => invalidArgument(field, "is required");

export function userId(value: string, field = "id"): string {
  if (value === "") throw required(field);
  if (!isId(value)) throw invalidArgument(field, "is not a valid user id");
  return value;
}

export function username(value: string, field = "username"): string {
  if (value === "") throw required(field);
  if (value.length > 15 || !USERNAME_PATTERN.test(value)) throw invalidArgument(field, "must be 3 to 15 letters, digits or underscores");
  return value;
}

export function usernamePrefix(value: string, field = "username_prefix"): string {
  if (value.length > 15 || !USERNAME_PREFIX_PATTERN.test(value)) {
    throw invalidArgument(field, "may only hold up to 15 letters, digits or underscores");
  }
  return value.toLowerCase();
}

/** Single-line user text, at most 254 bytes, then the shape of an address. */
export function email(value: string, field = "email"): string {
  const address = checkText(value, field, { maxGraphemes: MAX_EMAIL, maxBytes: MAX_EMAIL, required: true });
  if (!EMAIL_PATTERN.test(address)) throw invalidArgument(field, "is not a valid email address");
  return address;
}

/** What a login names the account by: a username or an email address, bounded like the latter. */
export const login = (value: string, field = "username_or_email"): string =>
  checkText(value, field, { maxGraphemes: MAX_EMAIL, maxBytes: MAX_EMAIL, required: true });

/** Passwords are never shown, so any characters go; only their number is bounded. */
export function password(value: string, field = "password"): string {
  const length = codePointsUpTo(value, MAX_PASSWORD_LENGTH);
  if (length < MIN_PASSWORD_LENGTH) throw invalidArgument(field, `must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (length > MAX_PASSWORD_LENGTH) throw invalidArgument(field, `must be at most ${MAX_PASSWORD_LENGTH} characters`);
  return value;
}

/** The password a login sends: refused before hashing only if empty or longer than any password can be. */
export function loginPassword(value: string, field = "password"): string {
  if (value === "") throw required(field);
  if (codePointsUpTo(value, MAX_PASSWORD_LENGTH) > MAX_PASSWORD_LENGTH) {
    throw invalidArgument(field, `must be at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  return value;
}

/** Code points of `value`, or max + 1 for anything longer, found without reading past 2 × max units. */
function codePointsUpTo(value: string, max: number): number {
  if (value.length > 2 * max) return max + 1;
  let count = 0;
  for (const _ of value) count++;
  return count;
}

/** Single line, at most 50 user-perceived characters (DISPLAY_NAME in the kit); empty means "use the username". */
export const displayName = (value: string, field = "display_name") => checkText(value, field, DISPLAY_NAME);
/** Lines allowed, at most 160 user-perceived characters (BIO in the kit); may be empty. */
export const bio = (value: string, field = "bio") => checkText(value, field, BIO);

/**
 * An https URL of at most 2,048 characters, or empty. Bounded and checked as single-line text
 * before it is parsed, and bounded again as serialised, since percent-encoding lengthens it.
 */
export function avatarUrl(value: string, field = "avatar_url"): string {
  const trimmed = checkText(value, field, { maxGraphemes: MAX_URL_LENGTH, maxBytes: MAX_URL_LENGTH });
  if (trimmed === "") return "";
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw invalidArgument(field, "must be an https URL or empty");
  }
  const serialised = url.toString();
  if (url.protocol !== "https:" || serialised.length > MAX_URL_LENGTH) {
    throw invalidArgument(field, `must be an https URL of at most ${MAX_URL_LENGTH} characters, or empty`);
  }
  return serialised;
}

export function updateMask(paths: string[] | undefined, field = "update_mask"): EditableField[] {
  if (!paths || paths.length === 0) {
    throw invalidArgument(field, `must name at least one of ${EDITABLE_FIELDS.join(", ")}`);
  }
  for (const path of paths) {
    if (!(EDITABLE_FIELDS as readonly string[]).includes(path)) {
      throw invalidArgument(field, `"${path}" cannot be updated; allowed: ${EDITABLE_FIELDS.join(", ")}`);
    }
  }
  return [...new Set(paths as EditableField[])];
}

export function idList(ids: string[], field = "ids"): string[] {
  const unique = [...new Set(ids)];
  if (unique.length > MAX_BATCH) throw invalidArgument(field, `must hold at most ${MAX_BATCH} ids, got ${unique.length}`);
  unique.forEach((id, i) => userId(id, `${field}[${i}]`));
  return unique;
}
