// The refused-change page: while maintenance mode is on the rebuilt form's submit stays
// disabled; poll the mode and enable it the moment the mode ends.
(function () {
  "use strict";
  var button = document.getElementById("kept-submit");
  var status = document.getElementById("kept-status");
  if (!button) return;
  function poll() {
    fetch("/api/maintenanceconfiguration/status", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (s) {
        if (s.IsInMaintenanceMode) {
          setTimeout(poll, 2000);
        } else {
          button.disabled = false;
          button.removeAttribute("title");
          status.textContent = "Maintenance mode is over: you can submit it again.";
        }
      })
      .catch(function () { setTimeout(poll, 4000); });
  }
  setTimeout(poll, 1000);
})();
