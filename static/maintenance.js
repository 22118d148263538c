// The quiet panel: poll /api/maintenanceconfiguration/status and show whether it is
// safe to stop, each task with its state's colour and, while it runs, its elapsed time
// (kept ticking by live.js). The page works without this (reload it).
(function () {
  "use strict";
  var panel = document.getElementById("quiet-panel");
  var indicator = document.getElementById("quiet-indicator");
  if (!panel || !indicator) return;
  var executing = document.getElementById("quiet-executing");
  var queued = document.getElementById("quiet-queued");
  var list = document.getElementById("quiet-tasks");
  var heldPart = document.getElementById("quiet-held-part");
  var heldCount = document.getElementById("quiet-held-count");
  var heldUntil = document.getElementById("quiet-held-until");
  var heldList = document.getElementById("quiet-held-tasks");
  var awaitingPart = document.getElementById("quiet-awaiting-part");
  var awaitingCount = document.getElementById("quiet-awaiting-count");
  var classes = { Queued: "queued", Executing: "busy", Cancelling: "cancelling", Success: "good",
                  Failed: "bad", TimedOut: "timedout", Canceled: "canceled" };

  // One task of a list: its link, description and a badge.
  function item(t, label, badgeClass) {
    var li = document.createElement("li");
    var a = document.createElement("a");
    a.href = "/tasks/" + t.Id.replace("ServerTasks-", "");
    a.textContent = t.Id;
    li.appendChild(a);
    li.appendChild(document.createTextNode(" " + t.Description + " "));
    var badge = document.createElement("span");
    badge.className = "state state-" + badgeClass;
    badge.textContent = label;
    li.appendChild(badge);
    return li;
  }

  function render(s) {
    if (!s.IsInMaintenanceMode) {
      indicator.textContent = "Maintenance mode is off";
      indicator.className = "safe safe-idle";
    } else {
      indicator.textContent = s.IsQuiet ? "Safe to stop" : "Not yet";
      indicator.className = "safe " + (s.IsQuiet ? "safe-yes" : "safe-no");
    }
    executing.textContent = s.ExecutingTaskCount;
    queued.textContent = s.QueuedTaskCount;
    while (list.firstChild) list.removeChild(list.firstChild);
    s.Tasks.forEach(function (t) {
      var li = item(t, t.State, classes[t.State] || "queued");
      if (t.ServerNode) li.appendChild(document.createTextNode(" on " + t.ServerNode));
      if (t.StartTime && (t.State === "Executing" || t.State === "Cancelling")) {
        li.appendChild(document.createTextNode(" · "));
        var elapsed = document.createElement("span");
        elapsed.dataset.since = t.StartTime;
        li.appendChild(elapsed);
      }
      list.appendChild(li);
    });
    // Filled now, not at live.js's next tick: the list is rebuilt every second.
    if (window.drydockTick) window.drydockTick();
    awaitingPart.hidden = !s.AwaitingApprovalCount;
    awaitingCount.textContent = s.AwaitingApprovalCount || 0;
    heldPart.hidden = !s.HeldTaskCount;
    heldCount.textContent = s.HeldTaskCount;
    heldUntil.textContent = s.HeldUntil ? new Date(s.HeldUntil).toLocaleString() : "";
    while (heldList.firstChild) heldList.removeChild(heldList.firstChild);
    (s.HeldTasks || []).forEach(function (t) {
      var li = item(t, "Held", "held");
      var until = t.HeldUntil ? new Date(t.HeldUntil).toLocaleString() : "";
      li.appendChild(document.createTextNode(" " + t.Reason + " until " + until));
      heldList.appendChild(li);
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
