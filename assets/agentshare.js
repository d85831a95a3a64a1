// agentshare pages: a little behaviour on top of pages that work without it.
// Loaded with the page's nonce; no inline script or handlers anywhere.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="#element-id">. Copies the element's value
  // (inputs) or text, and says so for a moment.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-HTTP pages have no clipboard API: select a temporary field and copy.
    return new Promise(function (resolve, reject) {
      var field = document.createElement("textarea");
      field.value = text;
      field.setAttribute("readonly", "");
      field.className = "offscreen";
      document.body.appendChild(field);
      field.select();
      var done = false;
      try { done = document.execCommand("copy"); } catch (e) { done = false; }
      document.body.removeChild(field);
      if (done) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  // Says `text` to screen readers, politely, through one status region per page.
  function announce(text) {
    var region = document.getElementById("announcer");
    if (!region) {
      region = document.createElement("div");
      region.id = "announcer";
      region.className = "offscreen";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      document.body.appendChild(region);
    }
    region.textContent = "";
    // A new text node after clearing: read again even when the words repeat.
    setTimeout(function () { region.textContent = text; }, 50);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    event.preventDefault();
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = "value" in source ? source.value : source.textContent;
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    copyText(text).then(function () {
      button.textContent = "Copied";
      button.classList.add("copied");
      announce("Copied to the clipboard");
    }, function () {
      if (source.select) { source.select(); }
      button.textContent = "Press Ctrl+C";
    }).then(function () {
      setTimeout(function () {
        button.textContent = label;
        button.classList.remove("copied");
      }, 2000);
    });
  });

  // Dialogs: <button data-open="#dialog-id"> opens a <dialog>; [data-close] closes it.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open]");
    if (opener) {
      var dialog = document.querySelector(opener.getAttribute("data-open"));
      if (dialog && dialog.showModal) {
        event.preventDefault();
        dialog.showModal();
      }
      return;
    }
    var closer = event.target.closest("[data-close]");
    if (closer) {
      var open = closer.closest("dialog");
      if (open) {
        event.preventDefault();
        open.close();
      }
    }
  });

  // Links that act as buttons ([role=button]) answer the Space key as buttons do.
  document.addEventListener("keydown", function (event) {
    if (event.key === " " && event.target.matches && event.target.matches("a[role=button]")) {
      event.preventDefault();
      event.target.click();
    }
  });

  // Dialogs the server rendered open (a new link, a form with an error) become
  // modal; closed, they hand the focus to what opens them (or the page's heading)
  // rather than leave it at the top of the page.
  var shown = document.querySelectorAll("dialog[open]");
  for (var d = 0; d < shown.length; d++) {
    if (shown[d].showModal) {
      shown[d].close();
      shown[d].showModal();
      shown[d].addEventListener("close", function (event) {
        var dialog = event.target;
        var opener = dialog.id && document.querySelector('[data-open="#' + dialog.id + '"]');
        var target = opener || document.querySelector("main h1");
        if (!target) { return; }
        if (!opener) { target.setAttribute("tabindex", "-1"); }
        target.focus();
      });
    }
  }

  // Forms that undo something ask first: <form data-confirm="Revoke this link?">.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // Times: the server writes them in their final form, in UTC ("5 Dec 2026, 08:53
  // UTC"), so nothing on the page moves once script runs; the reader's own time is
  // added as the element's title.
  var timeFormat = null;
  try {
    timeFormat = new Intl.DateTimeFormat(undefined, {
      day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23"
    });
  } catch (e) { timeFormat = null; }
  function localTimes(root) {
    var times = root.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var when = new Date(times[i].getAttribute("datetime"));
      if (timeFormat && !isNaN(when.getTime())) {
        times[i].title = "Your time: " + timeFormat.format(when);
      }
    }
  }
  localTimes(document);

  // The parts of the page marked [data-refresh] (with an id), as the server shows
  // them now: the final status, files and pull requests once a task finishes. Only
  // those are replaced, so what a reader is typing elsewhere, and where the focus
  // is, stay as they are.
  function refresh() {
    if (!window.fetch || !window.DOMParser) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var parts = document.querySelectorAll("[data-refresh][id]");
        for (var i = 0; i < parts.length; i++) {
          var next = fresh.getElementById(parts[i].id);
          if (next) {
            var adopted = document.importNode(next, true);
            parts[i].replaceWith(adopted);
            localTimes(adopted);
          }
        }
      })
      .catch(function () { /* the page stays as it was; reloading shows the rest */ });
  }

  // Live progress: <section data-stream="/t/…/stream" data-after="N">. The server
  // sends each new event as sanitized HTML, then `end` when the task has finished
  // or `revoked` when access was taken back.
  var live = document.querySelector("[data-stream]");
  if (live && window.EventSource) {
    var list = live.querySelector("[data-events]");
    var state = document.querySelector("[data-live-state]");
    var url = live.getAttribute("data-stream") + "?after=" + encodeURIComponent(live.getAttribute("data-after") || "0");
    var source = new EventSource(url);
    var say = function (text, kind) {
      if (state) {
        state.textContent = text;
        state.setAttribute("data-live-state", kind);
      }
    };
    source.addEventListener("open", function () { say("Live", "live"); });
    source.addEventListener("event", function (message) {
      var holder = document.createElement("div");
      // Rendered and sanitized by the server, like the rest of the page.
      holder.innerHTML = message.data;
      var item = holder.firstElementChild;
      if (!item || !list) { return; }
      var empty = list.querySelector(".empty");
      if (empty) { empty.remove(); }
      list.appendChild(item);
      localTimes(item);
      live.setAttribute("data-after", message.lastEventId);
    });
    source.addEventListener("end", function () {
      source.close();
      say("Finished", "ended");
      refresh();
    });
    source.addEventListener("revoked", function () {
      source.close();
      say("Access ended: the owner turned this share off", "revoked");
      // Say where each form went, in its place.
      var forms = document.querySelectorAll("main form");
      for (var i = 0; i < forms.length; i++) {
        var gone = document.createElement("p");
        gone.className = "hint";
        gone.textContent = "Access ended, so this can no longer be done here.";
        forms[i].replaceWith(gone);
      }
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        say("Disconnected", "closed");
      } else {
        say("Reconnecting…", "reconnecting");
      }
    });
  }
})();
