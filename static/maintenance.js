// The quiet panel: poll /api/maintenanceconfiguration/status and show whether it is
// safe to stop. The page works without this (reload it).
(function () {
  "use strict";
  var indicator = document.getElementById("quiet-indicator");
  if (!indicator) return;
  var executing = document.getElementById("quiet-executing");
  var queued = document.getElementById("quiet-queued");
  var list = document.getElementById("quiet-tasks");

  function render(s) {
    indicator.textContent = s.IsQuiet ? "Safe to stop" : "Not yet";
    indicator.className = "safe " + (s.IsQuiet ? "safe-yes" : "safe-no");
    executing.textContent = s.ExecutingTaskCount;
    queued.textContent = s.QueuedTaskCount;
    while (list.firstChild) list.removeChild(list.firstChild);
    s.Tasks.forEach(function (t) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "/tasks/" + t.Id.replace("ServerTasks-", "");
      a.textContent = t.Id;
      li.appendChild(a);
      li.appendChild(document.createTextNode(" " + t.Description + " " + t.State + (t.ServerNode ? " on " + t.ServerNode : "")));
      list.appendChild(li);
    });
  }

  function poll() {
    fetch("/api/maintenanceconfiguration/status", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (s) { render(s); setTimeout(poll, 1000); })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
