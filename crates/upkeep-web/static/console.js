// upkeep console: refreshes the overview in place. The page is complete without this script;
// it only saves a reload. Every 30 s (not while the tab is hidden) it fetches the page again
// and swaps the content of <main> for the new one. A failed fetch, an answer that is not the
// overview (signed out: a redirect to the sign-in form), a selection or the keyboard focus
// inside the content leaves the page as it is. The fetch says it is a refresh
// (X-Upkeep-Refresh: 1): the server then checks the session without keeping it alive, so an
// overview left open still signs out after the idle limit.
(function () {
  "use strict";
  var main = document.querySelector("main[data-refresh]");
  if (!main || !window.fetch || !window.DOMParser) {
    return;
  }
  var every = 30000;
  function refresh() {
    if (document.hidden) {
      return;
    }
    var selection = window.getSelection && window.getSelection();
    if (selection && !selection.isCollapsed) {
      return;
    }
    if (main.contains(document.activeElement) && document.activeElement !== main) {
      return;
    }
    fetch(window.location.href, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-Upkeep-Refresh": "1" }
    })
      .then(function (r) {
        if (r.redirected && r.url.indexOf("/admin/login") !== -1) {
          // Signed out (idle or absolute limit): show the sign-in form, not stale data.
          window.location.assign(r.url);
        }
        if (!r.ok || r.redirected) {
          throw new Error("not the overview");
        }
        return r.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var next = doc.querySelector("main[data-refresh]");
        if (!next) {
          return;
        }
        main.replaceChildren.apply(
          main,
          Array.prototype.map.call(next.childNodes, function (n) {
            return document.importNode(n, true);
          })
        );
      })
      .catch(function () {});
  }
  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      refresh();
    }
  });
})();
