// What the page tells people, in plain words. Services answer with a code and a message that starts
// with the request field at fault ("display_name: must be at most 50 characters"); people see
// "The display name must be at most 50 characters." and never a field or code name. Nothing here
// touches the page (gateway/test/web-text.test.ts runs it in Node).
import { Code, ConnectError } from "@connectrpc/connect";
import { checkText, type TextRules } from "@chirp/kit/text";

export const SESSION_ENDED = "Your session has ended. Please log in again.";

/** How the request fields read in a sentence. Any other field reads as its words ("start time"). */
const FIELDS: Record<string, string> = {
  text: "Your post",
  username: "The username",
  email: "The email address",
  password: "The password",
  new_password: "The new password",
  current_password: "Your current password",
  display_name: "The display name",
  bio: "The bio",
  avatar_url: "The picture address",
  tag: "The tag",
  username_prefix: "The name searched for",
  username_or_email: "The username or email",
};

/** What a call was about, for the codes whose meaning depends on it. */
export interface About {
  /** NOT_FOUND: what is gone ("That post has been deleted."). */
  notFound?: string;
  /** UNAUTHENTICATED, when it means something else than a session that ended (a wrong password). */
  unauthenticated?: string;
  /** PERMISSION_DENIED. */
  denied?: string;
}

/** "display_name: must be at most 50 characters" as "The display name must be at most 50 characters." */
export function fieldSentence(message: string): string {
  const match = /^([a-z_.\[\]0-9]+): (.*)$/s.exec(message);
  if (!match) return sentence(`That was not accepted: ${message}`);
  const name = match[1]!.replace(/\[\d+\]/g, "").split(".").pop()!;
  const subject = FIELDS[name] ?? `The ${name.replace(/_/g, " ")}`;
  // The problem is the service's own words ("must be at most 50 characters", "is required").
  return sentence(`${subject} ${match[2]!.replace(/\b([a-z]+)_([a-z_]+)\b/g, (w) => w.replace(/_/g, " "))}`);
}

const sentence = (text: string) => (/[.!?]$/.test(text) ? text : `${text}.`);

/** The plain-words message for a failed call. */
export function explain(error: unknown, about: About = {}): string {
  if (!(error instanceof ConnectError)) return "Something went wrong on this page. Please reload it.";
  const message = error.rawMessage;
  switch (error.code) {
    case Code.InvalidArgument:
    case Code.OutOfRange:
    case Code.FailedPrecondition:
      return fieldSentence(message);
    case Code.AlreadyExists:
      if (message.startsWith("username:")) return "That username is taken. Please choose another.";
      if (message.startsWith("email:")) return "An account already uses that email address.";
      return "That already exists.";
    case Code.NotFound:
      return about.notFound ?? "That is not here any more.";
    case Code.Unauthenticated:
      return about.unauthenticated ?? SESSION_ENDED;
    case Code.PermissionDenied:
      return about.denied ?? "You are not allowed to do that.";
    case Code.ResourceExhausted: {
      const seconds = /retry after (\d+)/.exec(message)?.[1];
      return `You are doing that too often. Please wait ${seconds ? `${seconds} seconds` : "a moment"} and try again.`;
    }
    case Code.Aborted:
      return "Something changed at the same time. Please try again.";
    case Code.Unavailable:
    case Code.DeadlineExceeded:
    case Code.Unknown:
      return "Chirp cannot be reached right now. Please check your connection and try again.";
    case Code.Canceled:
      return "";
    default:
      return "Something went wrong on our side. Please try again.";
  }
}

/** What the service would say of `value` in a field with these rules, in words, or "" when it would accept it. */
export function problemWith(value: string, field: string, rules: TextRules): string {
  try {
    checkText(value, field, rules);
    return "";
  } catch (error) {
    return fieldSentence((error as Error).message);
  }
}
