// The deploy form and deployment freezes. Now: an environment a freeze blocks disables
// Deploy and says why (the server refuses it anyway). Later: as the time is chosen, a
// start inside a freeze's window says what the freeze will do (fail it, or hold it
// until the window ends); one still inside the freeze that is on now disables Deploy,
// one after it is fine. The windows come with each environment (`data-windows`:
// `start end hold name;...`, times in ms). The server decides in every case.
(function () {
  "use strict";
  var select = document.getElementById("deploy-environment");
  var button = document.getElementById("deploy-submit");
  var reason = document.getElementById("deploy-frozen");
  var warning = document.getElementById("deploy-warning");
  var later = document.getElementById("deploy-later");
  var time = document.getElementById("deploy-queue-time");
  if (!select || !button || !reason) return;
  var frozenAtLoad = button.disabled && reason.textContent !== "";
  var baseDisabled = button.disabled && !frozenAtLoad && !(later && later.checked);

  function windows(option) {
    var text = option && option.getAttribute("data-windows");
    if (!text) return [];
    return text.split(";").map(function (w) {
      var parts = w.split(" ");
      return { start: Number(parts[0]), end: Number(parts[1]), hold: parts[2] === "1",
               name: parts.slice(3).join(" ") };
    });
  }
  function when(ms) {
    return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }
  var zones = document.getElementById("deploy-zone");
  // The chosen time as an instant: typed in UTC, or in the viewer's own zone (the
  // only two the form offers from here).
  function chosenTime() {
    if (!time || !time.value) return null;
    var v = time.value.length === 16 ? time.value + ":00" : time.value;
    var at = Date.parse(!zones || zones.value === "UTC" ? v + "Z" : v);
    return isNaN(at) ? null : at;
  }
  function update() {
    var option = select.options[select.selectedIndex];
    var frozen = option ? option.getAttribute("data-frozen") : null;
    var scheduled = later && later.checked;
    var blocked = false, said = "";
    if (!scheduled) {
      blocked = !!frozen;
    } else {
      var at = chosenTime(), now = Date.now();
      if (at !== null) {
        windows(option).forEach(function (w) {
          if (said || at < w.start || at >= w.end) return;
          if (w.start <= now) blocked = true;
          said = "That start is inside deployment freeze '" + w.name + "' (" + when(w.start) + " to " +
            when(w.end) + "): " + (blocked ? "it is on now, so the deployment would be refused; choose a time after " + when(w.end) + "."
              : w.hold ? "the deployment will wait until it ends." : "the deployment will fail at its start.");
        });
      }
    }
    button.disabled = baseDisabled || blocked;
    reason.textContent = scheduled ? "" : (frozen || "");
    if (warning) warning.textContent = said;
  }
  select.addEventListener("change", update);
  document.querySelectorAll("input[name=when]").forEach(function (r) { r.addEventListener("change", update); });
  if (time) time.addEventListener("input", update);
  if (zones) zones.addEventListener("change", update);
  update();
})();
