// The deploy form: an environment a deployment freeze blocks disables Deploy and says
// why (the server refuses it anyway); another enables it again.
(function () {
  var select = document.getElementById("deploy-environment");
  var button = document.getElementById("deploy-submit");
  var reason = document.getElementById("deploy-frozen");
  if (!select || !button || !reason) return;
  var frozenAtLoad = button.disabled && reason.textContent !== "";
  var baseDisabled = button.disabled && !frozenAtLoad;
  function update() {
    var option = select.options[select.selectedIndex];
    var why = option ? option.getAttribute("data-frozen") : null;
    button.disabled = baseDisabled || !!why;
    reason.textContent = why || "";
  }
  select.addEventListener("change", update);
  update();
})();
