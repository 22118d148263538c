// Live task log: poll /tasks/<id>/log?after=<last> and append new lines until the task
// completes. The page works without this (it has a Refresh link).
(function () {
  "use strict";
  var panel = document.getElementById("task");
  if (!panel || panel.dataset.completed === "true") return;
  var id = panel.dataset.task;
  var last = Number(panel.dataset.last) || 0;
  var log = document.getElementById("task-log");
  var state = document.getElementById("task-state");
  var error = document.getElementById("task-error");

  function poll() {
    fetch("/tasks/" + id + "/log?after=" + last, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        data.Lines.forEach(function (l) {
          var span = document.createElement("span");
          span.className = l.Stream;
          span.textContent = l.Time + " " + l.Line + "\n";
          log.appendChild(span);
        });
        last = data.Last;
        state.textContent = data.State;
        state.className = "state state-" + data.StateClass;
        if (data.ErrorMessage) error.textContent = data.ErrorMessage;
        if (data.IsCompleted) {
          var cancel = document.getElementById("cancel-form");
          if (cancel) cancel.remove();
        } else {
          setTimeout(poll, data.Lines.length ? 200 : 700);
        }
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 300);
})();
