// Text boxes that count as the services do: the same checkText and field rules from the kit
// (packages/kit/src/text.ts), so "280 characters" here is 280 there, emoji, accents and all.
import { characterCount, type TextRules } from "@chirp/kit/text";
import { h } from "./dom.js";
import { problemWith } from "./words.js";

let counters = 0;

/**
 * A text box (textarea when multiline) with its label and a live counter of the characters left,
 * described by it for screen readers. `check()` says what is wrong, in words, or "".
 */
export function countedField(options: { name: string; label: string; field: string; rules: TextRules; value?: string; placeholder?: string; hideLabel?: boolean }) {
  const id = `counted-${++counters}`;
  const { rules } = options;
  const counter = h("span", { class: "counter", id: `${id}-count` });
  const box = rules.multiline
    ? h("textarea", { id, name: options.name, placeholder: options.placeholder ?? "", "aria-describedby": counter.id, rows: 3 })
    : h("input", { id, name: options.name, placeholder: options.placeholder ?? "", "aria-describedby": counter.id });
  box.value = options.value ?? "";
  const maxBytes = rules.maxBytes ?? rules.maxGraphemes * 40;
  const update = () => {
    // Counted only within the field's byte bound, as the service does; past it, it is just too long.
    const used = box.value.length <= maxBytes ? characterCount(box.value) : Infinity;
    const left = rules.maxGraphemes - used;
    counter.textContent =
      left === -Infinity ? "far too long" : left >= 0 ? `${left} character${left === 1 ? "" : "s"} left` : `${-left} character${left === -1 ? "" : "s"} too many`;
    counter.classList.toggle("over", left < 0);
    counter.classList.toggle("near", left >= 0 && left < 20);
  };
  box.addEventListener("input", update);
  update();
  const label = h("label", { for: id, class: options.hideLabel ? "visually-hidden" : "" }, options.label);
  return {
    box,
    element: h("div", { class: "counted" }, label, box, counter),
    check: () => problemWith(box.value, options.field, rules),
    reset: () => {
      box.value = "";
      update();
    },
    update,
  };
}
