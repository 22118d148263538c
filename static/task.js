// Live task page: poll /tasks/<id>/log?after=<last> and append new lines until the task
// completes, following the output while "Follow new output" is ticked. The state badge
// follows; when the task ends the page reloads, so what it says (duration, Redeploy) is
// the server's. The page works without this (it has a Refresh link).
(function () {
  "use strict";
  var panel = document.getElementById("task");
  if (!panel) return;
  try {
    var saved = sessionStorage.getItem("drydock-flash-" + panel.dataset.task);
    sessionStorage.removeItem("drydock-flash-" + panel.dataset.task);
    var main = document.getElementById("content");
    if (saved && main && !main.querySelector(".flash")) {
      var was = JSON.parse(saved), p = document.createElement("p");
      p.className = was[0];
      p.setAttribute("role", "status");
      p.textContent = was[1];
      main.insertBefore(p, main.firstChild);
    }
  } catch (e) { /* no storage, or not ours: nothing to restore */ }
  if (panel.dataset.completed === "true") return;
  var id = panel.dataset.task;
  var shown = panel.dataset.state;
  var last = Number(panel.dataset.last) || 0;
  var log = document.getElementById("task-log");
  var follow = document.getElementById("follow-log");
  var error = document.getElementById("task-error");
  var state = document.getElementById("task-state");

  var kept = "drydock-flash-" + id;
  function following() { return !follow || follow.checked; }
  if (following()) log.scrollTop = log.scrollHeight;

  function poll() {
    fetch("/tasks/" + id + "/log?after=" + last, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        // A page narrowed to the lines that contain a text does not grow.
        if (!log.dataset.find) data.Lines.forEach(function (l) {
          var span = document.createElement("span");
          span.className = "line " + l.Stream;
          span.id = "L" + l.Seq;
          var number = document.createElement("a");
          number.className = "ln";
          number.href = "#L" + l.Seq;
          number.setAttribute("aria-label", "Line " + l.Seq);
          number.textContent = l.Seq;
          span.appendChild(number);
          span.appendChild(document.createTextNode(l.Time + " " + l.Line));
          log.appendChild(span);
          log.appendChild(document.createTextNode("\n"));
        });
        if (data.Lines.length && following()) {
          log.scrollTop = log.scrollHeight;
          span = log.lastElementChild;
          if (span && span.scrollIntoView) span.scrollIntoView({ block: "nearest" });
        }
        last = data.Last;
        if (data.ErrorMessage) error.textContent = data.ErrorMessage;
        if (data.IsCompleted) {
          // The page's message (say, "The deployment has been queued.") is shown once:
          // kept for the reloaded page, which has none of its own.
          var flash = document.querySelector("#content > .flash");
          try {
            if (flash) sessionStorage.setItem(kept, JSON.stringify([flash.className, flash.textContent]));
          } catch (e) { /* no storage: the message goes with the reload */ }
          window.location.reload();
          return;
        }
        if (data.State !== shown) {
          shown = data.State;
          state.textContent = data.State;
          state.className = "state state-" + data.StateClass;
          var waiting = document.getElementById("task-waiting");
          if (waiting && data.State !== "Queued") waiting.remove();
        }
        var wait = data.Lines.length ? 200 : (data.State === "Queued" ? 2000 : 700);
        setTimeout(poll, wait);
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  var span;
  setTimeout(poll, 300);
})();
