// pages/account.js - /account: the address and whether it is confirmed,
// changing the password, signing out everywhere, deleting the account.

import {api} from "../api.js";
import {go, setFlash, takeFlash, refreshChrome} from "../app.js";
import {h, mount} from "../dom.js";
import {field, form, input, showErrors, clearErrors, busy,
        apiErrors} from "../form.js";
import * as fmt from "../format.js";
import * as rules from "../rules.js";
import * as session from "../session.js";

export async function account(ctx) {
  ctx.title("Account");
  const me = await session.fresh(ctx.signal);
  if (!ctx.alive) return;
  refreshChrome();

  // --- change password ---------------------------------------------------
  const done = h("p", {class: "action-status", role: "status",
                       "aria-live": "polite"});
  const pw = form({"aria-labelledby": "h-password"},
    field({name: "current_password", label: "Current password",
           type: "password", autocomplete: "current-password"}),
    field({name: "new_password", label: "New password", type: "password",
           autocomplete: "new-password", hint: "At least 8 characters."}),
    h("button", {type: "submit", class: "button"}, "Change password"));
  pw.addEventListener("submit", async (e) => {
    e.preventDefault();
    done.textContent = "";
    const current = input(pw, "current_password").value;
    const next = input(pw, "new_password").value;
    const errors = [];
    if (!current) errors.push({name: "current_password",
                               message: "Enter your current password"});
    const pe = rules.password(next);
    if (pe) errors.push({name: "new_password", message: pe});
    if (errors.length) return showErrors(pw, errors);
    await busy(pw, "Changing…", async () => {
      try {
        await api("PUT", "/user/password", {current_password: current,
                                            new_password: next},
                  {signal: ctx.signal});
      } catch (err) {
        if (!ctx.alive) return;
        showErrors(pw, apiErrors(pw, err, {
          403: {name: "current_password",
                message: "Your current password is not right"}}));
        return;
      }
      clearErrors(pw);
      pw.reset();
      done.textContent = "Password changed. Other devices are signed out; " +
                         "this one stays signed in.";
    });
  });

  // --- sign out everywhere -----------------------------------------------
  const everywhere = h("button", {type: "button", class: "button secondary"},
                       "Sign out everywhere");
  everywhere.addEventListener("click", async () => {
    everywhere.disabled = true;
    try {
      await api("POST", "/user/logout", undefined, {signal: ctx.signal});
    } catch (err) {
      everywhere.disabled = false;
      if (ctx.alive) done.textContent = err.message;
      return;
    }
    session.forget();
    setFlash("You have signed out on every device.");
    go("/login", {replace: true});
  });

  // --- delete the account ------------------------------------------------
  const del = form({"aria-labelledby": "h-delete"},
    h("p", null, "This deletes your account, every project and all their " +
      "history. It cannot be undone."),
    field({name: "password", label: "Your password", type: "password",
           autocomplete: "current-password"}),
    h("button", {type: "submit", class: "button danger"},
      "Delete my account"));
  del.addEventListener("submit", async (e) => {
    e.preventDefault();
    const password = input(del, "password").value;
    if (!password)
      return showErrors(del, [{name: "password",
                               message: "Enter your password to confirm"}]);
    await busy(del, "Deleting…", async () => {
      try {
        await api("DELETE", "/user", {password}, {signal: ctx.signal});
      } catch (err) {
        if (!ctx.alive) return;
        showErrors(del, apiErrors(del, err, {
          403: {name: "password", message: "Your password is not right"}}));
        return;
      }
      session.forget();
      setFlash("Your account and everything in it have been deleted.");
      go("/login", {replace: true});
    });
  });

  mount(ctx.main,
    takeFlash(),
    h("h1", null, "Account"),
    h("dl", {class: "settings"},
      h("dt", null, "Email address"), h("dd", {class: "address"}, me.email),
      h("dt", null, "Confirmed"), h("dd", null, me.email_verified
        ? "Yes: alerts go to this address"
        : h("strong", {class: "text-down"},
            "Not yet: alerts are not sent until you confirm it")),
      h("dt", null, "Member since"), h("dd", null,
        fmt.dateTime(me.created_at))),
    done,
    h("section", {"aria-labelledby": "h-password"},
      h("h2", {id: "h-password"}, "Change your password"), pw),
    h("section", {"aria-labelledby": "h-everywhere"},
      h("h2", {id: "h-everywhere"}, "Sign out everywhere"),
      h("p", null, "Ends every session of this account, on this device and " +
        "all others."),
      everywhere),
    h("section", {"aria-labelledby": "h-delete", class: "danger-zone"},
      h("h2", {id: "h-delete"}, "Delete your account"), del));
}
