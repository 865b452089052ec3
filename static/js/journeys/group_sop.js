// 群SOP builder: show only the target list that matches the chosen way of targeting groups, and in each
// step only the fields its schedule uses (weekdays for weekly, day N for "after" schedules).
(function () {
  "use strict";
  var form = document.querySelector("[data-testid=group-sop-form]");
  if (!form) return;

  function syncTargets() {
    var checked = form.querySelector("input[name=target]:checked");
    var value = checked ? checked.value : "";
    form.querySelectorAll("[data-target-list]").forEach(function (el) {
      el.hidden = el.getAttribute("data-target-list") !== value;
    });
  }

  function syncStep(select) {
    var card = select.closest("[data-step-row]");
    if (!card) return;
    var v = select.value;
    card.querySelectorAll("[data-when]").forEach(function (el) {
      el.hidden = v !== "" && el.getAttribute("data-when").split(" ").indexOf(v) < 0;
    });
  }

  form.addEventListener("change", function (e) {
    var t = e.target;
    if (t.name === "target") syncTargets();
    if (t.name && /^step-\d+-schedule$/.test(t.name)) syncStep(t);
  });
  syncTargets();
  form.querySelectorAll("select[name$=-schedule]").forEach(syncStep);
})();
