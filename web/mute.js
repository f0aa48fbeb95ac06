// The page behind the mute link of Trackly's alert mail. Opening the link
// changes nothing (mail scanners open links too); the button does, by
// POSTing the link's token to the API.
"use strict";

(function () {
  var token = new URLSearchParams(window.location.search).get("token") || "";
  var what = document.getElementById("what");
  var form = document.getElementById("mute");
  var url = "/project/mute?token=" + encodeURIComponent(token);

  function show(text) {
    what.textContent = text;
  }

  fetch(url).then(function (r) {
    return r.json().then(function (body) { return [r.ok, body]; });
  }).then(function (res) {
    if (!res[0]) {
      show(res[1].error || "This mute link is not valid.");
    } else if (res[1].alerts_muted) {
      show("Alerts for \u201c" + res[1].project + "\u201d are already muted.");
    } else {
      show("Stop alert mail for \u201c" + res[1].project + "\u201d?");
      form.hidden = false;
    }
  }).catch(function () {
    show("Trackly could not be reached; try again later.");
  });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    fetch(url, { method: "POST" }).then(function (r) {
      return r.json().then(function (body) { return [r.ok, body]; });
    }).then(function (res) {
      form.hidden = true;
      show(res[0] ? "Alerts for \u201c" + res[1].project + "\u201d are muted."
                  : (res[1].error || "That did not work."));
    });
  });
})();
