// A list left open (a dashboard on a wall screen) brings itself up to date: every few
// seconds, while the tab is visible, it asks the server for a stamp that changes with
// the queue and every change; when it moved (or a minute passed, for what time alone
// changes) the page is fetched again and its content swapped in place. Never while
// something is being typed into the page. Without this the page is right as loaded.
(function () {
  "use strict";
  var main = document.getElementById("content");
  if (!main || !main.dataset.refresh) return;
  var EVERY = 3000, AT_LEAST = 60000;
  var stamp = null, fetched = Date.now(), touched = false, busy = false;

  // Anything typed into a form holds the page as it is.
  main.addEventListener("input", function () { touched = true; });
  function typing() {
    var a = document.activeElement;
    return touched || (a && main.contains(a) && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName));
  }
  // A form sent back with its problems (the answer to a POST) is not the page at this
  // address: it stays as it is.
  if (main.querySelector(".form-errors, [aria-invalid]")) return;

  function swap() {
    busy = true;
    fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("content");
        if (!fresh || typing()) return;
        var flash = main.querySelector(".flash");
        main.innerHTML = fresh.innerHTML;
        if (flash && !main.querySelector(".flash")) main.insertBefore(flash, main.firstChild);
        fetched = Date.now();
        main.dataset.refreshed = String(fetched);
        if (window.drydockTick) window.drydockTick();
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }

  function poll() {
    if (document.hidden || busy) return;
    fetch(main.dataset.refresh, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (s) {
        var moved = stamp !== null && s.Stamp !== stamp;
        var first = stamp === null;
        stamp = s.Stamp;
        if (first) main.dataset.refreshReady = "true";
        if ((moved || Date.now() - fetched > AT_LEAST) && !typing()) swap();
      })
      .catch(function () {});
  }
  poll();
  setInterval(poll, EVERY);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });
})();
