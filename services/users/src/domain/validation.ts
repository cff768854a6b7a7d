import { graphemeCount, hasControlCharacters, invalidArgument, isId, normalizeText } from "@chirp/kit";
import { EDITABLE_FIELDS, type EditableField } from "./model.js";

export const USERNAME_PATTERN = /^[A-Za-z0-9_]{3,15}$/;
const USERNAME_PREFIX_PATTERN = /^[A-Za-z0-9_]{0,15}$/;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
export const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_LENGTH = 1024;
const MAX_DISPLAY_NAME = 50;
export const MAX_BIO = 160;
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
  if (!USERNAME_PATTERN.test(value)) throw invalidArgument(field, "must be 3 to 15 letters, digits or underscores");
  return value;
}

export function usernamePrefix(value: string, field = "username_prefix"): string {
  if (!USERNAME_PREFIX_PATTERN.test(value)) throw invalidArgument(field, "may only hold up to 15 letters, digits or underscores");
  return value.toLowerCase();
}

export function email(value: string, field = "email"): string {
  const trimmed = value.trim();
  if (trimmed === "") throw required(field);
  if (trimmed.length > 254 || !EMAIL_PATTERN.test(trimmed)) throw invalidArgument(field, "is not a valid email address");
  return trimmed;
}

export function password(value: string, field = "password"): string {
  const length = [...value].length;
  if (length < MIN_PASSWORD_LENGTH) throw invalidArgument(field, `must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (length > MAX_PASSWORD_LENGTH) throw invalidArgument(field, `must be at most ${MAX_PASSWORD_LENGTH} characters`);
  return value;
}

function profileText(value: string, field: string, max: number, multiline: boolean): string {
  const text = normalizeText(value);
  if (hasControlCharacters(text) || (!multiline && /[\r\n\t]/.test(text))) {
    throw invalidArgument(field, "must not contain control characters");
  }
  if (graphemeCount(text) > max) throw invalidArgument(field, `must be at most ${max} characters`);
  return text;
}

export const displayName = (value: string, field = "display_name") => profileText(value, field, MAX_DISPLAY_NAME, false);
export const bio = (value: string, field = "bio") => profileText(value, field, MAX_BIO, true);

export function avatarUrl(value: string, field = "avatar_url"): string {
  const trimmed = value.trim();
  if (trimmed === "") return "";
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw invalidArgument(field, "must be an https URL or empty");
  }
  if (url.protocol !== "https:" || trimmed.length > MAX_URL_LENGTH) {
    throw invalidArgument(field, `must be an https URL of at most ${MAX_URL_LENGTH} characters, or empty`);
  }
  return url.toString();
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
