// Keeps what changes with time current without reloading: the duration of executing
// tasks (elements with data-since, an ISO time) ticks every second; a UTC time being
// entered is shown in the viewer's local time beside it. The page is right without this.
(function () {
  "use strict";
  function clock(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return h > 0 ? h + ":" + pad(m) + ":" + pad(sec) : m + ":" + pad(sec);
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var since = Date.parse(el.dataset.since);
      if (!isNaN(since)) el.textContent = clock(now - since);
    });
  }
  setInterval(tick, 1000);
  window.drydockTick = tick;

  // Times are entered in UTC: say what that is in the viewer's own time zone.
  document.querySelectorAll("[data-local-for]").forEach(function (note) {
    var input = document.getElementById(note.dataset.localFor);
    if (!input) return;
    function show() {
      var at = input.value ? new Date(input.value + (input.value.length === 16 ? ":00Z" : "Z")) : null;
      note.textContent = at && !isNaN(at) ? "Your local time: " + at.toLocaleString() : "";
    }
    input.addEventListener("input", show);
    show();
  });
})();
