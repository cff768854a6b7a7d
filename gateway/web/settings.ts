// Your account (#/settings): the profile others see, the devices signed in, the password.
import { BIO, DISPLAY_NAME } from "@chirp/kit/text";
import { millis, remember, session, users } from "./api.js";
import { countedField } from "./compose.js";
import { field, h, when } from "./dom.js";
import { explain, say, sayError } from "./messages.js";

export async function settingsView(view: HTMLElement, onLogout: () => void) {
  const heading = h("h2", { tabIndex: -1 }, "Settings");
  view.replaceChildren(heading, h("p", { class: "state", role: "status" }, "Loading…"));
  let me;
  try {
    me = (await users.getUser({ id: session.userId })).user!;
  } catch (error) {
    view.replaceChildren(heading, h("p", { class: "state error" }, explain(error)));
    return heading;
  }
  const name = countedField({ name: "displayName", label: "Display name", field: "display_name", rules: DISPLAY_NAME, value: me.displayName });
  const bio = countedField({ name: "bio", label: "Bio", field: "bio", rules: BIO, value: me.bio });
  const profile = h("form", { id: "profile-form" }, h("h3", {}, "Your profile"), name.element, bio.element, h("button", { type: "submit" }, "Save profile"));
  profile.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problem = name.check() || bio.check();
    if (problem) return say(problem, "error");
    try {
      const { user } = await users.updateUser({
        user: { id: session.userId, displayName: name.box.value, bio: bio.box.value },
        updateMask: { paths: ["display_name", "bio"] },
      });
      remember(user);
      say("Your profile has been saved.", "ok");
    } catch (error) {
      sayError(error);
    }
  });

  const sessions = h("ul", { class: "sessions", "aria-label": "Signed-in devices" });
  async function listSessions() {
    sessions.replaceChildren(h("li", { class: "state" }, "Loading…"));
    try {
      const answer = await users.listSessions({});
      sessions.replaceChildren(
        ...answer.sessions.map((s) =>
          h(
            "li",
            { class: "session", "data-current": s.current },
            h("span", {}, s.deviceLabel || "an unnamed device", s.current ? h("strong", {}, " (this device)") : ""),
            h("span", { class: "meta" }, ` · last used ${when(new Date(millis(s.lastUsedAt)))}${s.clientAddress ? ` from ${s.clientAddress}` : ""}`),
            " ",
            s.current
              ? h("button", { type: "button", class: "secondary", onclick: onLogout }, "Log out")
              : h(
                  "button",
                  {
                    type: "button",
                    class: "secondary",
                    "aria-label": `End the session on ${s.deviceLabel || "an unnamed device"}`,
                    onclick: async () => {
                      try {
                        await users.revokeSession({ sessionId: s.id });
                        say("That device has been signed out.", "ok");
                        await listSessions();
                      } catch (error) {
                        sayError(error, { notFound: "That session had already ended." });
                      }
                    },
                  },
                  "End session",
                ),
          ),
        ),
      );
    } catch (error) {
      sessions.replaceChildren(h("li", { class: "state error" }, explain(error)));
    }
  }
  void listSessions();

  const password = h(
    "form",
    { id: "password-form" },
    h("h3", {}, "Change password"),
    h("label", { for: "current-password" }, "Current password"),
    h("input", { id: "current-password", name: "current", type: "password", autocomplete: "current-password", required: true }),
    h("label", { for: "new-password" }, "New password (8 characters or more)"),
    h("input", { id: "new-password", name: "next", type: "password", autocomplete: "new-password", required: true, minLength: 8 }),
    h("button", { type: "submit" }, "Change password"),
  );
  password.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const { revokedSessions } = await users.changePassword({ currentPassword: field(password, "current"), newPassword: field(password, "next") });
      password.reset();
      say(`Your password has been changed${revokedSessions > 0 ? `, and ${revokedSessions} other device${revokedSessions === 1 ? " was" : "s were"} signed out` : ""}.`, "ok");
      await listSessions();
    } catch (error) {
      sayError(error, { denied: "Your current password is not right." });
    }
  });

  view.replaceChildren(heading, profile, h("section", {}, h("h3", {}, "Where you are signed in"), sessions), password);
  return heading;
}
