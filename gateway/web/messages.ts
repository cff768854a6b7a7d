// The page's one message area, at the top of the screen where people are looking (never below a
// long list); the words come from words.ts.
import { explain, type About } from "./words.js";

export { explain, SESSION_ENDED, type About } from "./words.js";

let clearTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * Shows a message at the top of the screen: `error` in the error colour (it stays until the next
 * action), `ok` and `info` in calm ones (they fade after a while).
 */
export function say(text: string, kind: "error" | "ok" | "info" = "info") {
  const area = document.getElementById("message")!;
  clearTimeout(clearTimer);
  area.textContent = text;
  area.className = text ? kind : "";
  area.setAttribute("role", kind === "error" ? "alert" : "status");
  if (text && kind !== "error") clearTimer = setTimeout(() => say(""), 8_000);
}

export const sayError = (error: unknown, about?: About) => {
  const text = explain(error, about);
  if (text) say(text, "error");
};
