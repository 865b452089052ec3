// The journey builder: each step form shows only the fields of the chosen step type, the settings
// form only the fields of the chosen trigger; buttons with data-confirm ask before they submit.
(function () {
  "use strict";
  function sync(form) {
    var select = form.querySelector("[data-kind-select]");
    if (!select) return;
    form.querySelectorAll("[data-for]").forEach(function (label) {
      label.hidden = label.dataset.for.split(" ").indexOf(select.value) < 0;
    });
  }
  document.querySelectorAll("[data-step-form]").forEach(function (form) {
    sync(form);
    form.addEventListener("change", function (e) {
      if (e.target.matches("[data-kind-select]")) sync(form);
    });
  });
  var trigger = document.querySelector("[data-trigger-select]");
  function syncTrigger() {
    document.querySelectorAll("[data-trigger]").forEach(function (label) {
      label.hidden = label.dataset.trigger.split(" ").indexOf(trigger.value) < 0;
    });
  }
  if (trigger) {
    syncTrigger();
    trigger.addEventListener("change", syncTrigger);
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) e.preventDefault();
  });
})();
