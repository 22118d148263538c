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
  // Absolute times beside relative ones, in the reader's own zone.
  var short = { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  function local() {
    document.querySelectorAll(".abs[data-at]:not([data-local])").forEach(function (el) {
      var at = new Date(el.dataset.at);
      if (isNaN(at)) return;
      el.textContent = at.toLocaleString([], short);
      el.dataset.local = "true";
    });
  }
  function tickAll() { tick(); local(); }
  local();
  setInterval(tick, 1000);
  window.drydockTick = tickAll;

  // Times are typed in the zone chosen beside them: UTC, or the viewer's own (offered
  // here, and chosen unless the form came back with another). Each says what it is in
  // the other.
  var zones = document.getElementById("deploy-zone");
  var own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zones && zones.dataset.browserZone && own && own !== "UTC") {
    var have = Array.prototype.some.call(zones.options, function (o) { return o.value === own; });
    if (!have) {
      var option = document.createElement("option");
      option.value = own;
      option.textContent = own + " (yours)";
      zones.appendChild(option);
      if (zones.value === "UTC" && !document.querySelector(".form-errors")) {
        zones.value = own;
        zones.dispatchEvent(new Event("change"));
      }
    }
  }
  function utc() { return !zones || zones.value === "UTC"; }
  document.querySelectorAll("[data-local-for]").forEach(function (note) {
    var input = document.getElementById(note.dataset.localFor);
    if (!input) return;
    function show() {
      var v = input.value;
      if (!v) { note.textContent = ""; return; }
      var full = v.length === 16 ? v + ":00" : v;
      if (utc()) {
        var at = new Date(full + "Z");
        note.textContent = isNaN(at) ? "" : "Your local time: " + at.toLocaleString();
      } else if (zones.value === own) {
        var here = new Date(full);
        note.textContent = isNaN(here) ? "" : "In UTC: " + here.toISOString().slice(0, 16).replace("T", " ");
      } else {
        note.textContent = "";
      }
    }
    input.addEventListener("input", show);
    if (zones) zones.addEventListener("change", show);
    show();
  });
})();
