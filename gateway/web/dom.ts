// Building the page from code, never from HTML strings: text always lands as text, so nothing a
// person typed can become markup (and the Content Security Policy needs no inline anything).

type Child = Node | string | false | null | undefined;
type Props = Record<string, unknown>;

/**
 * An element with its properties and children. `on<event>` keys add listeners; `class`, `for`,
 * `role` and `aria-*` / `data-*` keys are attributes; anything else is set as a property
 * (`hidden`, `disabled`, `href`, `type`…). Strings become text nodes.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value as EventListener);
    else if (key === "class" || key === "for" || key === "role" || key.startsWith("aria-") || key.startsWith("data-")) {
      element.setAttribute(key, value === true ? "" : String(value));
    } else (element as unknown as Record<string, unknown>)[key] = value;
  }
  element.append(...children.filter((child): child is Node | string => child !== false && child !== null && child !== undefined));
  return element;
}

export const $ = <T extends HTMLElement>(selector: string, within: ParentNode = document) => within.querySelector(selector) as T;

export const field = (form: HTMLFormElement, name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;

/** A short local date and time, or "just now"-style relative words for the last day. */
export function when(date: Date): string {
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return date.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
}

/** "1 like", "2 likes". */
export const count = (n: bigint | number, one: string, many = `${one}s`) => `${n} ${BigInt(n) === 1n ? one : many}`;
